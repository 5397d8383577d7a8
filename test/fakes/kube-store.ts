import { KubeApiError } from "../../src/kube/errors.js";
import type { DeleteOptions, KubeStore, ListOptions } from "../../src/kube/store.js";
import { apiVersionOf, keyOf, keyString } from "../../src/kube/types.js";
import type { KubeList, KubeObject, ObjectKey, ResourceType } from "../../src/kube/types.js";

/**
 * An in-memory KubeStore for unit tests of reconcilers. It keeps the API server's rules that our
 * code depends on — resourceVersion preconditions (409), AlreadyExists (409), NotFound (404), the
 * status subresource (spec and status written separately), generation bumps on spec changes,
 * finalizers holding deletion — and is held to the real API server by test/contract.
 * It does not validate schemas (the integration tier does).
 */
export class FakeKubeStore implements KubeStore {
  private readonly objects = new Map<string, KubeObject>();
  private rv = 1;
  /** Every mutating call, for tests that count writes. */
  readonly writes: { verb: string; kind: string; key: string }[] = [];

  private id(type: ResourceType, key: ObjectKey): string {
    return `${apiVersionOf(type)}/${type.plural}/${keyString(type.namespaced ? key : { name: key.name })}`;
  }

  get<T extends KubeObject>(type: ResourceType<T>, key: ObjectKey): Promise<T | undefined> {
    const o = this.objects.get(this.id(type, key));
    return Promise.resolve(o ? (structuredClone(o) as T) : undefined);
  }

  list<T extends KubeObject>(type: ResourceType<T>, o: ListOptions = {}): Promise<KubeList<T>> {
    const prefix = `${apiVersionOf(type)}/${type.plural}/`;
    // Only the field selector the operator uses (one object by name); anything else is not faked.
    let name: string | undefined;
    if (o.fieldSelector !== undefined) {
      const m = /^metadata\.name=([^,]+)$/.exec(o.fieldSelector);
      if (!m) throw new Error(`FakeKubeStore: field selector ${o.fieldSelector} is not implemented`);
      name = m[1];
    }
    const items = [...this.objects.entries()]
      .filter(([k, v]) => k.startsWith(prefix) && (!o.namespace || v.metadata.namespace === o.namespace) && (name === undefined || v.metadata.name === name))
      .map(([, v]) => structuredClone(v) as T);
    return Promise.resolve({ metadata: { resourceVersion: String(this.rv) }, items });
  }

  create<T extends KubeObject>(type: ResourceType<T>, obj: T): Promise<T> {
    const id = this.id(type, keyOf(obj));
    if (this.objects.has(id)) return Promise.reject(new KubeApiError(409, `${type.plural} "${obj.metadata.name}" already exists`, { reason: "AlreadyExists", code: 409 }));
    const stored = structuredClone(obj) as T & { status?: unknown };
    if (hasStatusSubresource(type)) delete stored.status;
    stored.apiVersion = apiVersionOf(type);
    stored.kind = type.kind;
    stored.metadata.uid = `uid-${this.rv}`;
    stored.metadata.generation = 1;
    stored.metadata.resourceVersion = String(++this.rv);
    stored.metadata.creationTimestamp = "2026-11-25T12:00:00Z";
    this.objects.set(id, stored);
    this.writes.push({ verb: "create", kind: type.kind, key: keyString(keyOf(obj)) });
    return Promise.resolve(structuredClone(stored));
  }

  replace<T extends KubeObject>(type: ResourceType<T>, obj: T): Promise<T> {
    return this.update(type, keyOf(obj), obj.metadata.resourceVersion, (cur) => {
      const next = structuredClone(obj) as T & { status?: unknown };
      if (hasStatusSubresource(type)) next.status = (cur as { status?: unknown }).status;
      return next;
    }, "replace");
  }

  mergePatch<T extends KubeObject>(type: ResourceType<T>, key: ObjectKey, patch: unknown): Promise<T> {
    const p = structuredClone(patch) as { metadata?: { resourceVersion?: string }; status?: unknown };
    const rv = p.metadata?.resourceVersion;
    if (hasStatusSubresource(type)) delete p.status;
    return this.update(type, key, rv, (cur) => mergePatch(cur, p) as T, "patch");
  }

  async delete(type: ResourceType, key: ObjectKey, o: DeleteOptions = {}): Promise<boolean> {
    const id = this.id(type, key);
    const cur = this.objects.get(id);
    if (!cur) return false;
    if (o.uid && cur.metadata.uid !== o.uid) throw new KubeApiError(409, "Precondition failed: UID in precondition does not match", { reason: "Conflict", code: 409 });
    this.writes.push({ verb: "delete", kind: type.kind, key: keyString(key) });
    if (cur.metadata.finalizers?.length) {
      if (!cur.metadata.deletionTimestamp) {
        cur.metadata.deletionTimestamp = "2026-11-25T12:00:00Z";
        cur.metadata.resourceVersion = String(++this.rv);
      }
      return Promise.resolve(true);
    }
    this.objects.delete(id);
    return Promise.resolve(true);
  }

  replaceStatus<T extends KubeObject>(type: ResourceType<T>, obj: T): Promise<T> {
    return this.update(type, keyOf(obj), obj.metadata.resourceVersion, (cur) => ({ ...cur, status: (obj as { status?: unknown }).status }), "status");
  }

  private update<T extends KubeObject>(type: ResourceType<T>, key: ObjectKey, rv: string | undefined, change: (cur: T) => T, verb: string): Promise<T> {
    const id = this.id(type, key);
    const cur = this.objects.get(id) as T | undefined;
    if (!cur) return Promise.reject(new KubeApiError(404, `${type.plural} "${key.name}" not found`, { reason: "NotFound", code: 404 }));
    if (rv !== undefined && rv !== cur.metadata.resourceVersion) {
      return Promise.reject(
        new KubeApiError(409, `Operation cannot be fulfilled on ${type.plural} "${key.name}": the object has been modified; please apply your changes to the latest version and try again`, { reason: "Conflict", code: 409 }),
      );
    }
    const next = change(structuredClone(cur));
    next.metadata = { ...next.metadata, uid: cur.metadata.uid, creationTimestamp: cur.metadata.creationTimestamp, deletionTimestamp: cur.metadata.deletionTimestamp };
    const specChanged = JSON.stringify((next as { spec?: unknown }).spec) !== JSON.stringify((cur as { spec?: unknown }).spec);
    next.metadata.generation = (cur.metadata.generation ?? 1) + (specChanged && verb !== "status" ? 1 : 0);
    if (JSON.stringify(next) === JSON.stringify({ ...cur })) return Promise.resolve(structuredClone(cur));
    next.metadata.resourceVersion = String(++this.rv);
    this.writes.push({ verb, kind: type.kind, key: keyString(key) });
    if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length) {
      this.objects.delete(id);
      return Promise.resolve(structuredClone(next));
    }
    this.objects.set(id, next);
    return Promise.resolve(structuredClone(next));
  }
}

function hasStatusSubresource(type: ResourceType): boolean {
  return type.group !== "" && type.group !== "coordination.k8s.io";
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target !== null && typeof target === "object" && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
