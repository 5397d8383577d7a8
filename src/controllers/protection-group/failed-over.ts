import { ConditionType, findCondition } from "../../api/v1alpha1/index.js";
import type { ProtectionGroup, ProtectionGroupStatus } from "../../api/v1alpha1/index.js";
import type { EventRecorder } from "../../runtime/events.js";
import type { SiteInventories } from "../../sites/inventories.js";
import { InventoryIndex } from "../../sites/inventory-index.js";
import type { ConditionSetter } from "../common/conditions.js";
import type { ShadowRecord } from "./records.js";

type Failover = NonNullable<ProtectionGroupStatus["failover"]>;

/** The site a failed-over group does not run at: where a copy of its VMs must stay off. */
export function otherSite(pg: ProtectionGroup, f: Failover): string {
  return f.runningAt === pg.spec.recoverySiteRef ? pg.spec.protectedSiteRef : pg.spec.recoverySiteRef;
}

/**
 * A group past a failover's point of no return runs (or is being brought up) at one site; the
 * continuous controller changes nothing at either site for it (the runs of the sequence own
 * both) and only watches for a split brain: a VM of the group powered on at the other site — the
 * "lost" site answering again with its VMs still running. That is reported (condition SplitBrain,
 * a Warning Event, the alert on the condition), never acted on: the operator powers nothing off or
 * on there and never resyncs; a human decides which copy is authoritative.
 */
export function reconcileFailedOver(o: {
  pg: ProtectionGroup;
  status: ProtectionGroupStatus;
  cond: ConditionSetter;
  inventories: SiteInventories;
  records: ReadonlyMap<string, ShadowRecord>;
  events: EventRecorder;
}): void {
  const { pg, status, cond } = o;
  const f = status.failover!;
  const where = f.state === "FailingOver" || f.state === "FailingBack" ? `being brought up at Site ${f.runningAt}` : `running at Site ${f.runningAt}`;
  const next = f.state === "FailedBack" ? "a Reprotect returns it to Ready" : f.state === "FailedOver" ? "a Failback brings it home" : `FailoverRun ${f.run} is moving it`;
  const held = `${f.type} ${f.run} (${f.at}): the group is ${where}; ${next}`;
  cond.set(ConditionType.Ready, false, f.state, held);
  cond.set(ConditionType.ShadowInSync, "Unknown", f.state, "the shadow inventory is left as the failover found it");

  const other = otherSite(pg, f);
  const watch = o.inventories.get(other);
  if (!watch?.isLive()) {
    // The other site does not answer (a disaster): nothing can run there that we could see.
    if (findCondition(status.conditions, ConditionType.SplitBrain)?.status !== "True") {
      cond.set(ConditionType.SplitBrain, "Unknown", "SiteUnreachable", `Site ${other} does not answer; whether the group's VMs still run there is unknown`);
    }
    return;
  }
  const inv = new InventoryIndex(watch.objects());
  const running = [...o.records.keys()].map((uuid) => inv.vmByInstanceUuid(uuid)).filter((v) => v?.powerState === "poweredOn").map((v) => v!.name).sort();
  if (running.length === 0) {
    cond.set(ConditionType.SplitBrain, false, "NotRunningAtOtherSite", `no VM of the group runs at Site ${other}`);
    return;
  }
  const was = findCondition(status.conditions, ConditionType.SplitBrain)?.status === "True";
  const message = `${running.length} VM(s) of the group run at Site ${other} while it is ${where}: ${running.slice(0, 10).join(", ")}${running.length > 10 ? ", …" : ""}. The operator powers nothing on or off there and does not resync: decide which copy is authoritative, power the other off, then fail back or reprotect`;
  cond.set(ConditionType.SplitBrain, true, "RunningAtBothSites", message);
  if (!was) o.events.warning(pg, "SplitBrain", message);
}
