import type { RunType } from "../../../api/v1alpha1/index.js";
import type { Step } from "../../../engine/types.js";
import type { RunContext } from "../context.js";
import { SELF_CLEANUP_STEPS, STEPS } from "../plan.js";
import { claimGroups, releaseGroups } from "./claim.js";
import { makeRoom, returnRoom } from "./capacity.js";
import { cloneVolumes, deleteClones } from "./clones.js";
import { deleteExportPolicies, recordExports, restoreExports } from "./exports.js";
import { findVms } from "./find-vms.js";
import { configureNetworks, isolateNetworks } from "./isolate.js";
import { customizeGuests } from "./customize.js";
import { disarmGuestScripts } from "./guest-script.js";
import { updateDns } from "./dns.js";
import { detachDevices, mountDatastores, unmountDatastores } from "./mount.js";
import { powerOffVms, powerOnVms } from "./power.js";
import { presentClones, presentReplicas, unpresentClones } from "./present.js";
import { clearFailover, commitFailover, recordFailover } from "./location.js";
import { shutdownProtectedVms, verifyProtectedOff } from "./protected.js";
import { breakReplication, finalUpdate, quiesceReplication, recordRecoveryPoint } from "./replication.js";
import { registerVms } from "./register.js";
import { releaseReverse, resyncForward, reverseResync } from "./reverse.js";
import { rescanHosts } from "./rescan.js";
import { selectSnapshots } from "./snapshots.js";
import { unregisterVms } from "./unregister.js";
import { verifyClean } from "./verify.js";

/** Every step a FailoverRun can run, by name. */
export const STEP_DEFINITIONS: ReadonlyMap<string, Step<RunContext>> = new Map(
  ([
    claimGroups, selectSnapshots, cloneVolumes, presentClones, rescanHosts, mountDatastores, findVms, registerVms, isolateNetworks, powerOnVms,
    powerOffVms, unregisterVms, unmountDatastores, detachDevices, unpresentClones, deleteClones, verifyClean, releaseGroups,
    shutdownProtectedVms, verifyProtectedOff, finalUpdate, quiesceReplication, breakReplication, recordRecoveryPoint, presentReplicas,
    configureNetworks, customizeGuests, disarmGuestScripts, updateDns, commitFailover, recordFailover, reverseResync, resyncForward, releaseReverse, clearFailover,
    makeRoom, returnRoom, recordExports, restoreExports, deleteExportPolicies,
  ] as Step<RunContext>[]).map((s) => [s.name, s]),
);

/** The steps the engine advances for a run type (and, for a Test cleaning up after itself, its cleanup). */
export function stepsOf(type: RunType, phase: "main" | "cleanup"): Step<RunContext>[] {
  const names = phase === "cleanup" ? SELF_CLEANUP_STEPS : (STEPS[type] ?? []);
  return names.map((n) => {
    const s = STEP_DEFINITIONS.get(n);
    if (!s) throw new Error(`no step definition for ${n}`);
    return s;
  });
}
