import { jsonEqual } from "../util/equal.js";
import { ConflictError } from "../runtime/errors.js";
import { isConflict, isNotFound } from "./errors.js";
import { CONTENT_MERGE_PATCH } from "./rest.js";
import type { KubeRest } from "./rest.js";
import { apiVersionOf, resourcePath } from "./types.js";
import type { KubeList, KubeObject, ObjectKey, ResourceType, StatusObject } from "./types.js";

export interface ListOptions {
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly limit?: number;
  readonly continue?: string;
  readonly resourceVersion?: string;
}

export interface DeleteOptions {
  /** Only delete the object with this uid (guards against deleting a re-created namesake). */
  readonly uid?: string;
  readonly propagationPolicy?: "Foreground" | "Background" | "Orphan";
}

/**
 * The narrow view of the Kubernetes API the operator uses. Every method takes an AbortSignal
 * (the reconcile's) and is bounded by the transport's timeout. Writes that must not clobber a
 * concurrent writer are conditional on metadata.resourceVersion and fail with HTTP 409.
 */
export interface KubeStore {
  /** The object, or undefined when it does not exist. */
  get<T extends KubeObject>(type: ResourceType<T>, key: ObjectKey, signal?: AbortSignal): Promise<T | undefined>;
  list<T extends KubeObject>(type: ResourceType<T>, o?: ListOptions, signal?: AbortSignal): Promise<KubeList<T>>;
  create<T extends KubeObject>(type: ResourceType<T>, obj: T, signal?: AbortSignal): Promise<T>;
  /** PUT; conditional when obj.metadata.resourceVersion is set. */
  replace<T extends KubeObject>(type: ResourceType<T>, obj: T, signal?: AbortSignal): Promise<T>;
  /** JSON merge patch; include metadata.resourceVersion in the patch to make it conditional. */
  mergePatch<T extends KubeObject>(type: ResourceType<T>, key: ObjectKey, patch: unknown, signal?: AbortSignal): Promise<T>;
  /** Deletes; resolves false when the object was already gone. */
  delete(type: ResourceType, key: ObjectKey, o?: DeleteOptions, signal?: AbortSignal): Promise<boolean>;
  /** PUT of the status subresource, conditional on obj.metadata.resourceVersion. */
  replaceStatus<T extends KubeObject>(type: ResourceType<T>, obj: T, signal?: AbortSignal): Promise<T>;
}

/** KubeStore over the REST client. */
export class RestKubeStore implements KubeStore {
  constructor(private readonly rest: KubeRest) {}

  async get<T extends KubeObject>(type: ResourceType<T>, key: ObjectKey, signal?: AbortSignal): Promise<T | undefined> {
    try {
      return await this.rest.request<T>("GET", resourcePath(type, key.namespace, key.name), { signal });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  list<T extends KubeObject>(type: ResourceType<T>, o: ListOptions = {}, signal?: AbortSignal): Promise<KubeList<T>> {
    return this.rest.request<KubeList<T>>("GET", resourcePath(type, o.namespace), {
      query: {
        labelSelector: o.labelSelector,
        fieldSelector: o.fieldSelector,
        limit: o.limit,
        continue: o.continue,
        resourceVersion: o.resourceVersion,
      },
      signal,
    });
  }

  create<T extends KubeObject>(type: ResourceType<T>, obj: T, signal?: AbortSignal): Promise<T> {
    return this.rest.request<T>("POST", resourcePath(type, obj.metadata.namespace), {
      body: withTypeMeta(type, obj),
      signal,
    });
  }

  replace<T extends KubeObject>(type: ResourceType<T>, obj: T, signal?: AbortSignal): Promise<T> {
    return this.rest.request<T>("PUT", resourcePath(type, obj.metadata.namespace, obj.metadata.name), {
      body: withTypeMeta(type, obj),
      signal,
    });
  }

  mergePatch<T extends KubeObject>(type: ResourceType<T>, key: ObjectKey, patch: unknown, signal?: AbortSignal): Promise<T> {
    return this.rest.request<T>("PATCH", resourcePath(type, key.namespace, key.name), {
      body: patch,
      contentType: CONTENT_MERGE_PATCH,
      signal,
    });
  }

  async delete(type: ResourceType, key: ObjectKey, o: DeleteOptions = {}, signal?: AbortSignal): Promise<boolean> {
    const body: Record<string, unknown> = { apiVersion: "v1", kind: "DeleteOptions" };
    if (o.uid) body.preconditions = { uid: o.uid };
    if (o.propagationPolicy) body.propagationPolicy = o.propagationPolicy;
    try {
      await this.rest.request("DELETE", resourcePath(type, key.namespace, key.name), { body, signal });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  replaceStatus<T extends KubeObject>(type: ResourceType<T>, obj: T, signal?: AbortSignal): Promise<T> {
    return this.rest.request<T>("PUT", resourcePath(type, obj.metadata.namespace, obj.metadata.name, "status"), {
      body: withTypeMeta(type, obj),
      signal,
    });
  }
}

function withTypeMeta<T extends KubeObject>(type: ResourceType<T>, obj: T): T {
  return { ...obj, apiVersion: apiVersionOf(type), kind: type.kind };
}

/**
 * Writes `status` to the object's status subresource unless it equals what the object already
 * has. The write is conditional on the object's resourceVersion: if someone else wrote the object
 * since we read it, the server answers 409 and this throws ConflictError, which the runtime turns
 * into a quiet requeue (the next pass re-reads and recomputes). Returns the written object, or the
 * input when nothing needed writing.
 */
export async function updateStatusIfChanged<S, T extends StatusObject<S>>(
  kube: KubeStore,
  type: ResourceType<T>,
  obj: T,
  status: S,
  signal?: AbortSignal,
): Promise<{ written: boolean; object: T }> {
  if (jsonEqual(obj.status ?? {}, status)) return { written: false, object: obj };
  if (!obj.metadata.resourceVersion) throw new Error("updateStatusIfChanged needs an object read from the API (no resourceVersion)");
  try {
    const object = await kube.replaceStatus(type, { ...obj, status }, signal);
    return { written: true, object };
  } catch (err) {
    if (isConflict(err)) {
      throw new ConflictError(`status of ${type.kind} ${obj.metadata.name} changed since it was read`, "Conflict", { cause: err });
    }
    throw err;
  }
}
