import type { VolumeRecord } from "../../api/v1alpha1/index.js";

/**
 * The FlexClone a run makes of a replica: the VMbook's `<vol>_Clone` (the replica's name without
 * its `_SM` suffix) with the run's short id appended, so observe finds it again after a crash and
 * two runs never share one ("RG1FV1_SM" → "RG1FV1_Clone_1a2b3c4d").
 */
export function cloneName(v: Pick<VolumeRecord, "volume">, shortId: string): string {
  return `${v.volume.replace(/_SM$/, "")}_Clone_${shortId}`.slice(0, 203);
}

/** The NFS export policy a run creates for the copies it mounts (only the recovery hosts' addresses). */
export const exportPolicyName = (shortId: string): string => `vmdr_${shortId}`;

/** The junction path of an NFS clone. */
export const junctionOf = (clone: string): string => `/${clone}`;

/**
 * Where a run mounts an NFS copy in its SVM's namespace: where the volume already was (a failover
 * or failback never moves a junction clients may use), else at /<copy>.
 */
export function junctionFor(v: Pick<VolumeRecord, "volume" | "copy" | "clone" | "nasBefore">, shortId: string): string {
  return v.nasBefore?.junctionPath || junctionOf(v.clone ?? copyOf(v, shortId));
}

/** Whether an export policy is one a run made (exportPolicyName). */
export const isRunExportPolicy = (name: string | undefined): boolean => name !== undefined && /^vmdr_[0-9a-f]{8}$/.test(name);

export const volumeLabel = (v: Pick<VolumeRecord, "svm" | "volume">): string => `${v.svm}:${v.volume}`;

/**
 * The volume whose LUNs or export a run presents and mounts: a Test's FlexClone, or (a failover)
 * the replica itself, as the run's plan recorded it in `copy`.
 */
export function copyOf(v: Pick<VolumeRecord, "volume" | "copy">, shortId: string): string {
  return v.copy ?? cloneName(v, shortId);
}
