import type { VolumeRecord } from "../../../api/v1alpha1/index.js";
import { completed } from "../../../engine/types.js";
import type { BatchStep, ItemObservation } from "../../../engine/types.js";
import type { ExportPolicy } from "../../../ontap/client.js";
import { PermanentError } from "../../../runtime/errors.js";
import type { RunContext } from "../context.js";
import { recoveryHosts } from "../hosts.js";
import { copyOf, exportPolicyName, junctionFor, volumeLabel } from "../names.js";
import { noteRemoved } from "./report.js";

/** The igroups the replica's LUNs are mapped to: the recovery hosts' (VMbook ch. 11 pre-maps them). */
async function replicaIgroups(ctx: RunContext, v: VolumeRecord): Promise<string[]> {
  const luns = await ctx.ontapFor(v).listLuns({ svm: v.svm, name: v.volume }, ctx.signal);
  const mapped = [...new Set(luns.flatMap((l) => l.maps.map((m) => m.igroup)))].sort();
  if (mapped.length) return mapped;
  // A volume mapped nowhere (one a failback re-created): the igroups its Site names for that.
  const controllers = ctx.recoverySite(v.group).spec.storage.controllers;
  return [...((controllers.find((c) => c.name === v.controller) ?? controllers[0])?.igroups ?? [])];
}

/** The VMkernel addresses of the group's recovery hosts: the only clients an NFS clone is exported to. */
async function hostAddresses(ctx: RunContext, v: VolumeRecord): Promise<string[]> {
  const client = await ctx.vcenter(ctx.recoverySite(v.group));
  const out: string[] = [];
  for (const h of recoveryHosts(ctx, v.group)) out.push(...(await client.getHostAddresses(h.ref, ctx.signal)));
  return [...new Set(out)].sort();
}

/** An export rule's client matches an address: the address itself, or an IPv4 subnet holding it. */
export function clientMatches(client: string, ip: string): boolean {
  if (client === ip) return true;
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(client);
  const a = ipv4(ip);
  if (!m || a === undefined) return false;
  const net = ipv4(m[1]!);
  const bits = Number(m[2]);
  if (net === undefined || bits > 32) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((a & mask) >>> 0) === ((net & mask) >>> 0);
}

function ipv4(s: string): number | undefined {
  const p = s.split(".").map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return undefined;
  return (((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0);
}

const covers = (p: ExportPolicy | undefined, ips: readonly string[]): boolean =>
  p !== undefined && ips.every((ip) => p.rules.some((r) => r.clients.some((c) => clientMatches(c, ip)) && r.rwRule.includes("sys")));

/** A volume that is not the run's clone (v.copy set) and whose own export policy admits every host. */
async function ownPolicyCovers(ctx: RunContext, v: VolumeRecord, policy: string | undefined, ips: readonly string[]): Promise<boolean> {
  if (v.copy === undefined || policy === undefined || policy === exportPolicyName(ctx.shortId) || ips.length === 0) return false;
  return covers(await ctx.ontapFor(v).getExportPolicy(v.svm, policy, ctx.signal), ips);
}

/**
 * PresentClones: makes each clone visible to the recovery hosts that can run its group, and to
 * nothing else. SAN: the clone's LUNs online and mapped to the igroups of the replica's LUNs. NFS:
 * an export policy of the run's own admitting only the recovery hosts' VMkernel addresses, on the
 * clone, which is mounted in the namespace at /<clone>. Every call is idempotent.
 */
export const presentClones: BatchStep<RunContext, VolumeRecord> = {
  kind: "batch",
  name: "PresentClones",
  idempotent: true,
  failWhenItemsFail: true,
  items: (ctx) => ctx.volumes,
  label: volumeLabel,
  concurrency: () => 16,
  async observeItem(ctx, v): Promise<ItemObservation> {
    const ontap = ctx.ontapFor(v);
    const clone = copyOf(v, ctx.shortId);
    if (v.protocol === "NFS") {
      const [policy, vol, ips] = await Promise.all([ontap.getExportPolicy(v.svm, exportPolicyName(ctx.shortId), ctx.signal), ontap.getVolume({ svm: v.svm, name: clone }, ctx.signal), hostAddresses(ctx, v)]);
      if (ips.length === 0) return { kind: "Failed", message: `no VMkernel address found on the recovery hosts of ${v.group}` };
      // A replica or home volume (not a clone of the run's) whose own policy already admits these
      // hosts keeps it: an administrator's export is not replaced, only mounted at its junction.
      if (await ownPolicyCovers(ctx, v, vol?.exportPolicy, ips)) return vol?.nasPath === junctionFor(v, ctx.shortId) ? { kind: "Done" } : { kind: "NeedsAct" };
      return covers(policy, ips) && vol?.exportPolicy === exportPolicyName(ctx.shortId) && vol.nasPath === junctionFor(v, ctx.shortId) ? { kind: "Done" } : { kind: "NeedsAct" };
    }
    const igroups = await replicaIgroups(ctx, v);
    if (igroups.length === 0) {
      return {
        kind: "Failed",
        message: `the LUNs of ${volumeLabel(v)} are mapped to no igroup; map them to the recovery hosts' igroup (VMbook ch. 11) so clones and failovers reach them, or name it in the Site's spec.storage.controllers[].igroups`,
      };
    }
    const luns = await ontap.listLuns({ svm: v.svm, name: clone }, ctx.signal);
    if (luns.length === 0) return { kind: "Failed", message: `clone ${clone} has no LUN` };
    return luns.every((l) => l.enabled && igroups.every((ig) => l.maps.some((m) => m.igroup === ig))) ? { kind: "Done" } : { kind: "NeedsAct" };
  },
  async actItem(ctx, v) {
    const ontap = ctx.ontapFor(v);
    const clone = copyOf(v, ctx.shortId);
    if (v.protocol === "NFS") {
      const vol = await ontap.getVolume({ svm: v.svm, name: clone }, ctx.signal);
      if (await ownPolicyCovers(ctx, v, vol?.exportPolicy, await hostAddresses(ctx, v))) {
        await ontap.mountVolume({ svm: v.svm, name: clone }, junctionFor(v, ctx.shortId), ctx.signal);
        ctx.log.info({ volume: clone, exportPolicy: vol?.exportPolicy }, "Mounted NFS volume under its own export policy");
        return completed;
      }
      const name = exportPolicyName(ctx.shortId);
      await ontap.createExportPolicy(v.svm, name, ctx.signal);
      for (const ip of await hostAddresses(ctx, v)) {
        await ontap.addExportRule(v.svm, name, { clients: [ip], roRule: ["sys"], rwRule: ["sys"], superuser: ["sys"], protocols: ["nfs3"] }, ctx.signal);
      }
      await ontap.setExportPolicy({ svm: v.svm, name: clone }, name, ctx.signal);
      // A FlexClone is mounted in the namespace at its creation; a replica is not until its failover.
      await ontap.mountVolume({ svm: v.svm, name: clone }, junctionFor(v, ctx.shortId), ctx.signal);
      if (v.copy !== undefined) {
        // Not a clone of the run's: an administrator's volume now exported by the run's policy
        // (a Reprotect restores the replica's own; a failback's home volume keeps the run's).
        ctx.log.warn({ volume: clone, exportPolicy: name, before: vol?.exportPolicy }, "Export policy of the volume does not admit the recovery hosts; replaced by the run's");
      } else ctx.log.info({ volume: clone, exportPolicy: name }, "Exported NFS copy to the recovery hosts");
      return completed;
    }
    const igroups = await replicaIgroups(ctx, v);
    for (const lun of await ontap.listLuns({ svm: v.svm, name: clone }, ctx.signal)) {
      if (!lun.enabled) await ontap.setLunEnabled(lun.uuid, true, ctx.signal);
      for (const ig of igroups) if (!lun.maps.some((m) => m.igroup === ig)) await ontap.mapLun({ svm: v.svm, igroup: ig, lun: lun.name }, ctx.signal);
    }
    ctx.log.info({ clone, igroups }, "Mapped clone LUNs to the recovery hosts");
    return completed;
  },
  failItem() {
    /* the step fails with the message */
  },
};

/**
 * UnpresentClones: unmaps the clones' LUNs (after DetachDevices took them away from the hosts:
 * unmapping a device a host still uses is an all-paths-down for it) and removes the run's export
 * policy (after the NFS datastores were unmounted).
 */
export const unpresentClones: BatchStep<RunContext, VolumeRecord> = {
  kind: "batch",
  name: "UnpresentClones",
  idempotent: true,
  failWhenItemsFail: true,
  items: (ctx) => ctx.volumes,
  label: volumeLabel,
  concurrency: () => 16,
  async observeItem(ctx, v): Promise<ItemObservation> {
    const ontap = ctx.ontapFor(v);
    const site = ctx.recoverySite(v.group).metadata.name;
    const clone = copyOf(v, ctx.shortId);
    if (v.protocol === "NFS") {
      const vol = await ontap.getVolume({ svm: v.svm, name: clone }, ctx.signal);
      if (vol && vol.exportPolicy === exportPolicyName(ctx.shortId)) return { kind: "NeedsAct" };
      if ((v.op?.attempts ?? 0) > 0) noteRemoved(ctx, { kind: "ExportRule", name: `${v.svm}:${exportPolicyName(ctx.shortId)} on ${clone}`, site, action: "Removed" });
      return { kind: "Done" };
    }
    const luns = await ontap.listLuns({ svm: v.svm, name: clone }, ctx.signal);
    if (luns.some((l) => l.maps.length > 0)) return { kind: "NeedsAct" };
    if ((v.op?.attempts ?? 0) > 0) for (const l of luns) noteRemoved(ctx, { kind: "LunMap", name: l.name, site, action: "Unmapped" });
    return { kind: "Done" };
  },
  async actItem(ctx, v) {
    const ontap = ctx.ontapFor(v);
    const clone = copyOf(v, ctx.shortId);
    if (v.protocol === "NFS") {
      // The SVM's default policy admits no one (its rules are empty unless an administrator added some).
      await ontap.setExportPolicy({ svm: v.svm, name: clone }, "default", ctx.signal);
      try {
        await ontap.deleteExportPolicy(v.svm, exportPolicyName(ctx.shortId), ctx.signal);
      } catch (err) {
        // Another NFS clone of this run still uses it: the last one's unexport deletes it.
        if (!(err instanceof PermanentError)) throw err;
      }
      return completed;
    }
    for (const lun of await ontap.listLuns({ svm: v.svm, name: clone }, ctx.signal)) for (const m of lun.maps) await ontap.unmapLun(lun.uuid, m.igroupUuid, ctx.signal);
    return completed;
  },
  failItem() {
    /* the step fails with the message */
  },
};

/** PresentReplicas (failovers): the same for the broken-off replica itself (SAN: its LUNs are pre-mapped to the recovery hosts). */
export const presentReplicas: BatchStep<RunContext, VolumeRecord> = { ...presentClones, name: "PresentReplicas" };
