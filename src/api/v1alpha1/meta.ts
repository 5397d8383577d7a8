/** API group and version of every kind the operator serves. Chosen once; never renamed. */
export const GROUP = "dr.vmdr.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Finalizers, one per controller that creates something outside Kubernetes. */
export const FINALIZERS = {
  site: `${GROUP}/site`,
  replicationRelationship: `${GROUP}/replicationrelationship`,
  protectionGroup: `${GROUP}/protectiongroup`,
  failoverRun: `${GROUP}/failoverrun`,
} as const;

/** Annotations the operator understands. */
export const ANNOTATIONS = {
  /** Overrides the external poll interval of one object (a Go duration, e.g. "30s"). */
  pollInterval: `${GROUP}/poll-interval`,
} as const;

/** Keys a credentials Secret must hold. */
export const SECRET_KEYS = { username: "username", password: "password" } as const;
