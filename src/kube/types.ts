/** The parts of Kubernetes object metadata the operator reads and writes. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

/** An object with a status subresource. */
export interface StatusObject<S = unknown> extends KubeObject {
  status?: S;
}

export interface KubeList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** Identifies a resource type on the API server (what a REST path needs). */
export interface ResourceType<T extends KubeObject = KubeObject> {
  readonly group: string; // "" for the core group
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** Phantom field carrying the object type; never set. */
  readonly _type?: T;
}

/** namespace/name for namespaced objects, name for cluster-scoped ones. */
export interface ObjectKey {
  readonly namespace?: string;
  readonly name: string;
}

export function keyOf(obj: KubeObject): ObjectKey {
  return obj.metadata.namespace ? { namespace: obj.metadata.namespace, name: obj.metadata.name } : { name: obj.metadata.name };
}

/** The work-queue form of a key: "namespace/name" or "name". */
export function keyString(k: ObjectKey): string {
  return k.namespace ? `${k.namespace}/${k.name}` : k.name;
}

export function parseKey(s: string): ObjectKey {
  const i = s.indexOf("/");
  return i < 0 ? { name: s } : { namespace: s.slice(0, i), name: s.slice(i + 1) };
}

export function apiVersionOf(t: ResourceType): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

/** The REST path of a collection (namespace undefined = all namespaces) or of one object. */
export function resourcePath(t: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  const base = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
  let p = t.namespaced && namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${t.plural}` : `${base}/${t.plural}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (subresource !== undefined) p += `/${subresource}`;
  return p;
}
