import { ConditionType, findCondition } from "../../api/v1alpha1/conditions.js";
import type { NasExport, VmRecord, VolumeRecord } from "../../api/v1alpha1/failover-run.js";
import type { ProtectionGroup, ReplicaExport } from "../../api/v1alpha1/protection-group.js";
import type { VolumeEndpoint } from "../../api/v1alpha1/replication-relationship.js";
import type { Site } from "../../api/v1alpha1/site.js";
import type { InventoryIndex } from "../../sites/inventory-index.js";
import type { ShadowRecord } from "../protection-group/records.js";
import { STEPS, dependencyCycle, priorityOf, trimPath } from "./plan.js";
import type { PlanInput, PlanResult } from "./plan.js";
import { failbackReip, groupReip, reipOn } from "./reip.js";
import { INVALID_IP_CUSTOMIZATION } from "../../reip/rules.js";
import type { CompiledReip } from "../../reip/rules.js";
import { guestReport } from "../common/guest-nics.js";

const refuse = (reason: string, message: string): PlanResult => ({ ok: false, reason, message });

/** The SVM of one end of a relationship: named, or its controller's, or the Site's first. */
function svmOf(site: Site, end: VolumeEndpoint): string {
  return end.svm ?? site.spec.storage.controllers.find((c) => c.name === end.controller)?.svm ?? site.spec.storage.controllers[0]?.svm ?? "";
}

/** The live shadow records of a group (one per protected VM with a .vmx), by instance UUID. */
function recordsOf(i: PlanInput, g: ProtectionGroup): [string, ShadowRecord][] {
  return [...(i.records.get(`${g.metadata.namespace ?? ""}/${g.metadata.name}`) ?? new Map<string, ShadowRecord>()).entries()].filter(([, r]) => !r.removedAt && r.vmx);
}

interface Sites {
  readonly home: Site;
  readonly away: Site;
  readonly homeInv: InventoryIndex;
  readonly awayInv: InventoryIndex;
}

/** Both Sites of a group and their inventories; a run that returns a group needs both answering. */
function sitesOf(i: PlanInput, g: ProtectionGroup): Sites | PlanResult {
  const home = i.site(g.spec.protectedSiteRef);
  const away = i.site(g.spec.recoverySiteRef);
  if (!home || !away) return refuse("SiteNotFound", `Site ${home ? g.spec.recoverySiteRef : g.spec.protectedSiteRef} of ProtectionGroup ${g.metadata.name} does not exist`);
  const homeInv = i.recoveryInventory(home.metadata.name);
  const awayInv = i.recoveryInventory(away.metadata.name);
  if (!homeInv || !awayInv) return refuse("WaitingForInventory", `the inventory of Site ${homeInv ? away.metadata.name : home.metadata.name} is not synced yet (a ${i.run.spec.type} needs both sites answering)`);
  return { home, away, homeInv, awayInv };
}

/**
 * One record per relationship of a group, for the volume the run acts on — the protected volume
 * ("home", a failback's reverse-resync destination) or the replica ("away", a reprotect's resync
 * destination) — with the other end as its peer.
 */
function returnVolumes(i: PlanInput, g: ProtectionGroup, sites: Sites, at: "home" | "away"): VolumeRecord[] | PlanResult {
  const name = g.metadata.name;
  const ns = g.metadata.namespace ?? "";
  const out: VolumeRecord[] = [];
  for (const ref of g.spec.replicationRefs) {
    const rr = i.relationship(ns, ref);
    if (!rr) return refuse("RelationshipNotFound", `ReplicationRelationship ${ns}/${ref} of ProtectionGroup ${name} does not exist`);
    const carried = g.status?.volumes?.find((x) => x.relationship === ref);
    const datastore = carried?.datastores[0];
    if (!carried || datastore === undefined) return refuse("GroupNotReady", `ProtectionGroup ${name} does not know the datastore of relationship ${ref}`);
    const [self, selfSite, other, otherSite] = at === "home" ? [rr.spec.source, sites.home, rr.spec.destination, sites.away] : [rr.spec.destination, sites.away, rr.spec.source, sites.home];
    // A reprotect restores the replica's export as the failover found it.
    const exported = at === "away" ? g.status?.failover?.replicaExports?.find((e) => e.relationship === ref) : undefined;
    out.push({
      group: name,
      relationship: ref,
      ...(self.controller !== undefined ? { controller: self.controller } : {}),
      svm: svmOf(selfSite, self),
      volume: self.volume,
      copy: self.volume,
      protocol: carried.protocol ?? "SAN",
      datastore,
      peer: { ...(other.controller !== undefined ? { controller: other.controller } : {}), svm: svmOf(otherSite, other), volume: other.volume },
      ...(exported ? { nasBefore: nasExportOf(exported) } : {}),
    });
  }
  return out;
}

function nasExportOf(e: ReplicaExport): NasExport {
  return {
    ...(e.exportPolicy !== undefined ? { exportPolicy: e.exportPolicy } : {}),
    ...(e.junctionPath !== undefined ? { junctionPath: e.junctionPath } : {}),
    ...(e.runPolicy !== undefined ? { runPolicy: e.runPolicy } : {}),
  };
}

/** Waves are the distinct priorities in order; a VM's wave is its priority's position. */
function waved(i: PlanInput, volumes: VolumeRecord[], vms: VmRecord[], location: string): PlanResult {
  const waves = new Map<number, Set<string>>();
  const counts = new Map<number, number>();
  for (const v of vms) {
    waves.set(v.wave, (waves.get(v.wave) ?? new Set()).add(v.priorityGroup ?? "(unprioritized)"));
    counts.set(v.wave, (counts.get(v.wave) ?? 0) + 1);
  }
  const priorities = [...waves.keys()].sort((a, b) => a - b);
  for (const v of vms) v.wave = priorities.indexOf(v.wave);
  vms.sort((a, b) => a.wave - b.wave || a.group.localeCompare(b.group) || a.name.localeCompare(b.name));
  return {
    ok: true,
    plan: {
      groups: i.groups.map((g) => g.metadata.name),
      vmCount: vms.length,
      steps: [...(STEPS[i.run.spec.type] ?? [])],
      waves: priorities.map((p) => ({ priority: p, priorityGroups: [...(waves.get(p) ?? [])].sort(), vms: counts.get(p) ?? 0 })),
      volumes: volumes.length,
      location,
    },
    volumes,
    vms,
  };
}

/**
 * Computes what a Failback would do, refusing before anything is touched:
 *  1. every group runs at its recovery site after a PlannedMigration or Disaster (status.failover
 *     FailedOver), or is being failed back by an earlier Failback that ended; both sites answer;
 *  2. no VM of a group runs at the protected site (the lost site came back with its VMs on: a
 *     split brain a human resolves first);
 *  3. every protected volume still exists, and the recovery portgroups the VMs use map back to
 *     protected portgroups that exist at home;
 *  4. volumes: each protected volume, the destination of the reverse resync, with its replica as
 *     the peer; VMs: the shadow records, registered back into their protected folders and pools,
 *     with what each is registered as at home today (the stale copy the failback replaces).
 */
export function planFailback(i: PlanInput): PlanResult {
  const volumes: VolumeRecord[] = [];
  const vms: VmRecord[] = [];
  if (i.groups.length === 0) return refuse("InvalidSpec", "no ProtectionGroup selected");
  for (const g of i.groups) {
    const name = g.metadata.name;
    const f = g.status?.failover;
    const resuming = f?.state === "FailingBack" && f.type === "Failback";
    if (!resuming && (f?.state !== "FailedOver" || f.runningAt !== g.spec.recoverySiteRef)) {
      return refuse("NotFailedOver", `ProtectionGroup ${name} does not run at its recovery site after a failover (${f ? `${f.state} at ${f.runningAt}` : "it is at home"}): there is nothing to fail back`);
    }
    const sites = sitesOf(i, g);
    if ("ok" in sites) return sites;
    const cycle = dependencyCycle(g.spec.powerOn?.priorityGroups ?? []);
    if (cycle) return refuse("InvalidSpec", `ProtectionGroup ${name}: ${cycle}`);
    const records = recordsOf(i, g);
    const runningHome = records.map(([uuid]) => sites.homeInv.vmByInstanceUuid(uuid)).filter((v) => v?.powerState === "poweredOn").map((v) => v!.name);
    if (runningHome.length) {
      return refuse("RunningAtBothSites", `VM(s) of ProtectionGroup ${name} run at Site ${sites.home.metadata.name} while the group runs at Site ${sites.away.metadata.name}: ${runningHome.slice(0, 10).join(", ")}; decide which copy is authoritative and power the other off first`);
    }
    if ((i.run.spec.networkMode ?? "Mapped") === "Mapped") {
      for (const m of g.spec.networkMappings ?? []) {
        if (![...sites.homeInv.networks.values()].some((n) => n.name === m.protectedPortgroup)) {
          return refuse("InvalidSpec", `protected portgroup "${m.protectedPortgroup}" of ProtectionGroup ${name} does not exist at Site ${sites.home.metadata.name}`);
        }
      }
    }
    const fv = returnVolumes(i, g, sites, "home");
    if (!Array.isArray(fv)) return fv;
    volumes.push(...fv);
    const back = reipOn(i.run) ? groupReip(g, "failback", sites.home) : undefined;
    if (typeof back === "string") return refuse(INVALID_IP_CUSTOMIZATION, back);
    // The same rules, valid in both directions once valid in one: compiled once per group.
    const forward = back ? (groupReip(g, "failover", undefined) as CompiledReip) : undefined;
    for (const [uuid, r] of records) {
      const pri = priorityOf(g, r.name);
      const home = sites.homeInv.vmByInstanceUuid(uuid);
      const away = sites.awayInv.vmByInstanceUuid(uuid);
      const addressing = back && away ? failbackReip(back, forward, r.name, guestReport(away), r.guest) : undefined;
      vms.push({
        name: r.name,
        group: name,
        instanceUuid: uuid,
        vmx: r.vmx ?? "",
        folder: trimPath(r.protectedFolder),
        resourcePool: trimPath(r.protectedPool ?? ""),
        ...(pri.group !== undefined ? { priorityGroup: pri.group } : {}),
        wave: pri.priority,
        state: "Pending",
        ...(home ? { registeredAs: home.ref.value } : {}),
        ...(addressing ? { reip: addressing } : {}),
      });
    }
  }
  return waved(i, volumes, vms, "the groups' own folders and pools at the protected site");
}

/**
 * Computes what a Reprotect would do, refusing before anything is touched:
 *  1. every group is home after a Failback (FailedBack), or — the spec confirming that the
 *     recovery site's writes are discarded — still at its recovery site after a failover;
 *  2. no VM of a group runs at the recovery site (the resync would overwrite its disks);
 *  3. volumes: each replica, the destination of the original relationship that is resynced, with
 *     the protected volume as the peer (the destination of the reverse relationship released);
 *     VMs: the group's registrations at the recovery site, which are removed (pre-registration
 *     makes the placeholders again once the group is Ready).
 */
export function planReprotect(i: PlanInput): PlanResult {
  const volumes: VolumeRecord[] = [];
  const vms: VmRecord[] = [];
  if (i.groups.length === 0) return refuse("InvalidSpec", "no ProtectionGroup selected");
  for (const g of i.groups) {
    const name = g.metadata.name;
    const f = g.status?.failover;
    if (!f) {
      const ready = findCondition(g.status?.conditions, ConditionType.Ready);
      return refuse("NotFailedOver", `ProtectionGroup ${name} is not failed over (${ready?.reason ?? "no status"}): it is protected already`);
    }
    const discard = i.run.spec.discardRecoverySiteChanges === true;
    if (f.state !== "FailedBack" && !discard) {
      return refuse(
        "WouldDiscardRecoverySiteChanges",
        `ProtectionGroup ${name} runs at Site ${f.runningAt} (${f.state} by ${f.type} ${f.run}) and was not failed back: a Reprotect would overwrite what was written there since. Fail it back first, or set spec.discardRecoverySiteChanges: true to discard those writes`,
      );
    }
    const sites = sitesOf(i, g);
    if ("ok" in sites) return sites;
    const records = recordsOf(i, g);
    const runningAway = records.map(([uuid]) => sites.awayInv.vmByInstanceUuid(uuid)).filter((v) => v?.powerState === "poweredOn").map((v) => v!.name);
    if (runningAway.length) {
      return refuse("RecoveryVmRunning", `VM(s) of ProtectionGroup ${name} run at Site ${sites.away.metadata.name}: ${runningAway.slice(0, 10).join(", ")}; a resync toward it would overwrite their disks. Fail the group back, or power them off`);
    }
    const rv = returnVolumes(i, g, sites, "away");
    if (!Array.isArray(rv)) return rv;
    volumes.push(...rv);
    for (const [uuid, r] of records) {
      const away = sites.awayInv.vmByInstanceUuid(uuid);
      if (!away) continue;
      vms.push({
        name: r.name,
        group: name,
        instanceUuid: uuid,
        vmx: r.vmx ?? "",
        folder: r.shadowFolder,
        resourcePool: trimPath(r.resourcePool),
        wave: 0,
        state: "Pending",
        registeredAs: away.ref.value,
      });
    }
  }
  return waved(i, volumes, vms, "nothing is brought up: the groups return to protection");
}
