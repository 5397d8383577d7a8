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
  /** On a FailoverRun: "true" cancels it at the next step boundary (a Test then cleans up after itself). */
  cancel: `${GROUP}/cancel`,
  /**
   * On a FailoverRun stopped Blocked: the name of the blocked step, once a human has checked that
   * its act did not happen (or has undone it): the step is retried.
   */
  unblock: `${GROUP}/unblock`,
} as const;

/** Labels the operator puts on objects it creates. */
export const LABELS = {
  /** On a FailoverRun's per-VM record shards (ConfigMaps): the run's name. */
  failoverRun: `${GROUP}/failover-run`,
} as const;

/** Keys a credentials Secret must hold. */
export const SECRET_KEYS = { username: "username", password: "password" } as const;
