import type { VolumeRecord } from "../../../api/v1alpha1/index.js";
import { completed, started } from "../../../engine/types.js";
import type { ActResult, BatchStep, ItemObservation } from "../../../engine/types.js";
import { PermanentError } from "../../../runtime/errors.js";
import { readResolutionResults } from "../../../vsphere/host-storage.js";
import type { XNode } from "../../../vsphere/soap/xml.js";
import type { HostInfo } from "../../../vsphere/types.js";
import { moref } from "../../../vsphere/types.js";
import type { RunContext } from "../context.js";
import { recoveryHosts } from "../hosts.js";
import { junctionFor, volumeLabel } from "../names.js";
import { storageView, copyDevices, copyVolume } from "./storage-view.js";
import type { HostStorage } from "./storage-view.js";
import { noteRemoved } from "./report.js";

const taskHandle = (ctx: RunContext, site: string, id: string) => started({ system: "vsphere", endpoint: site, kind: "task", id, startedAt: new Date(ctx.now()).toISOString() });

/** The recovery controller's NFS address (Site spec), needed to mount an NFS copy. */
function nfsAddress(ctx: RunContext, v: VolumeRecord): string {
  const site = ctx.recoverySite(v.group);
  const c = site.spec.storage.controllers.find((x) => x.name === v.controller) ?? site.spec.storage.controllers[0];
  if (!c?.nfsAddress) throw new PermanentError(`Site ${site.metadata.name}'s storage controller ${c?.name ?? ""} has no nfsAddress: the recovery hosts cannot mount ${v.datastore}`, "InvalidSpec");
  return c.nfsAddress;
}

/** NFS: the hosts of the group that do not have the copy mounted and accessible. */
function nfsMissing(ctx: RunContext, v: VolumeRecord): HostInfo[] {
  const ds = ctx.inventory(ctx.recoverySite(v.group).metadata.name).datastoreByName(v.datastore);
  return recoveryHosts(ctx, v.group).filter((h) => !(ds?.nas && ds.hosts.some((m) => m.host.value === h.ref.value && m.mounted && m.accessible)));
}

/** The copy's devices this host has detached (a failback's or reprotect's own, earlier). */
const detachedLuns = (h: HostStorage, devices: ReadonlySet<string>) => h.luns.filter((l) => devices.has(l.canonicalName) && l.operationalState.includes("off"));

/**
 * What one host still needs for a SAN copy: nothing; its devices attached again (detached by an
 * earlier run before the volume was overwritten); the known VMFS mounted again (unmounted by that
 * run: ESXi remembers both across rescans); a rescan (it has not seen the device); or a resolution.
 */
function sanNeed(h: HostStorage, devices: ReadonlySet<string>): "mounted" | "attach" | "mount" | "rescan" | "resolve" {
  const vol = copyVolume(h, devices);
  if (vol?.mounted) return "mounted";
  if (detachedLuns(h, devices).length) return "attach";
  if (vol?.vmfsUuid) return "mount";
  if (h.unresolved.some((u) => u.extents.some((e) => devices.has(e.device)))) return "resolve";
  return "rescan";
}

/**
 * MountDatastores: each copy mounted on every recovery host of its group under the datastore's
 * own name. ESXi 7/8 see a replica or a clone as an unresolved VMFS copy (its signature names
 * another device): it is mounted by resolving it, one host at a time —
 *  - KeepSignature (default): force-mount on each host, keeping the VMFS UUID (placeholders and
 *    the VMs' registrations refer to it); refused when another copy of the same VMFS is mounted at
 *    the site, because two copies with one identity cannot be told apart;
 *  - Resignature: a new signature on the first host (the others mount it at a rescan), and the
 *    "snap-xxxxxxxx-" datastore renamed back to its name.
 * A copy an earlier run unmounted and detached on a host (a failback comes home to the volumes it
 * took away before the reverse resync) is attached and mounted again as the VMFS the host knows.
 * NFS copies are mounted from the recovery controller's nfsAddress under the original name, so an
 * NFS datastore recovers like a VMFS one. Every host is observed before the copy counts as mounted.
 */
export const mountDatastores: BatchStep<RunContext, VolumeRecord> = {
  kind: "batch",
  name: "MountDatastores",
  idempotent: true,
  failWhenItemsFail: true,
  items: (ctx) => ctx.volumes,
  label: volumeLabel,
  concurrency: () => 16,
  maxAttempts: 5,
  async prepare(ctx, items, signal) {
    await storageView(ctx, items, signal);
  },
  async observeItem(ctx, v, op): Promise<ItemObservation> {
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 500 };
    if (op?.state === "success" && v.protocol === "SAN") {
      const failed = readResolutionResults({ task: moref("Task", op.handle.id), state: "success", result: op.result as XNode | undefined }).find((r) => r.error);
      if (failed?.error) return { kind: "Failed", message: `resolving the copy of ${v.datastore}: ${failed.error.message}` };
    }
    if (v.protocol === "NFS") return nfsMissing(ctx, v).length ? { kind: "NeedsAct" } : { kind: "Done" };
    const view = await storageView(ctx, [v], ctx.signal);
    const devices = await copyDevices(ctx, v);
    const hosts = recoveryHosts(ctx, v.group).map((h) => view.get(h.ref.value)).filter((h): h is HostStorage => h !== undefined);
    // Another copy of this VMFS (same UUID, another device) already mounted here: never a second.
    const uuid = hosts.flatMap((h) => h.unresolved).find((u) => u.extents.some((e) => devices.has(e.device)))?.vmfsUuid;
    const other = uuid && hosts.flatMap((h) => h.volumes).find((m) => m.vmfsUuid === uuid && m.mounted && !m.extents.some((e) => devices.has(e)));
    if (other && (ctx.group(v.group).spec.vmfsCopies ?? "KeepSignature") === "KeepSignature") {
      return { kind: "Failed", message: `another copy of ${v.datastore}'s VMFS (${uuid}) is mounted at Site ${ctx.recoverySite(v.group).metadata.name} as ${other.name}; force-mounting a second copy is refused (clean up the other test, or set vmfsCopies: Resignature)` };
    }
    if (hosts.some((h) => sanNeed(h, devices) !== "mounted")) return { kind: "NeedsAct" };
    const mounted = copyVolume(hosts[0], devices);
    if (mounted && mounted.name !== v.datastore) return { kind: "NeedsAct" }; // a resignatured copy, still named snap-…
    return { kind: "Done" };
  },
  async actItem(ctx, v): Promise<ActResult> {
    const site = ctx.recoverySite(v.group);
    const client = await ctx.vcenter(site);
    if (v.protocol === "NFS") {
      for (const h of nfsMissing(ctx, v)) {
        if (h.datastoreSystem) await client.createNasDatastore(h.datastoreSystem, { name: v.datastore, remoteHost: nfsAddress(ctx, v), remotePath: junctionFor(v, ctx.shortId) }, ctx.signal);
      }
      return completed;
    }
    const view = await storageView(ctx, [v], ctx.signal);
    const devices = await copyDevices(ctx, v);
    const resign = ctx.group(v.group).spec.vmfsCopies === "Resignature";
    for (const h of recoveryHosts(ctx, v.group)) {
      const hs = view.get(h.ref.value);
      if (!hs || !h.storageSystem) continue;
      const need = sanNeed(hs, devices);
      if (need === "mounted") continue;
      if (need === "attach") {
        for (const l of detachedLuns(hs, devices)) await client.attachScsiLun(h.storageSystem, l.uuid, ctx.signal);
        ctx.log.info({ datastore: v.datastore, host: h.name }, "Attached the copy's devices again");
        return completed;
      }
      if (need === "mount") {
        await client.mountVmfsVolume(h.storageSystem, copyVolume(hs, devices)?.vmfsUuid ?? "", ctx.signal);
        ctx.log.info({ datastore: v.datastore, host: h.name }, "Mounted the known VMFS volume again");
        return completed;
      }
      if (need === "rescan") {
        await client.rescanAllHba(h.storageSystem, ctx.signal);
        await client.rescanVmfs(h.storageSystem, ctx.signal);
        return completed;
      }
      const specs = hs.unresolved.flatMap((u) => u.extents).filter((e) => devices.has(e.device)).map((e) => ({ devicePath: e.devicePath, mode: resign ? ("resignature" as const) : ("forceMount" as const) }));
      const t = await client.resolveUnresolvedVmfsVolumes(h.storageSystem, specs, ctx.signal);
      ctx.log.info({ datastore: v.datastore, host: h.name, mode: resign ? "resignature" : "forceMount" }, "Resolving an unresolved VMFS copy");
      return t === "Done" ? completed : taskHandle(ctx, site.metadata.name, t.task.value);
    }
    // Mounted everywhere under a snap-xxxxxxxx- name: back to the datastore's own name.
    const ds = [...ctx.inventory(site.metadata.name).datastores.values()].find((d) => d.vmfsExtents.some((e) => devices.has(e)));
    if (ds && ds.name !== v.datastore) {
      const t = await client.renameDatastore(ds.ref, v.datastore, ctx.signal);
      return t === "Done" ? completed : taskHandle(ctx, site.metadata.name, t.task.value);
    }
    return completed;
  },
  failItem() {
    /* the step fails with the message */
  },
};

/**
 * UnmountDatastores (cleanup): the copies unmounted from every recovery host, first step of the
 * safe removal (unmount, detach, unmap, delete). NFS: the datastore removed from each host. A host
 * where VMs are still registered on the copy (reused placeholders) refuses (ResourceInUse, as ESXi
 * does): the copy stays mounted there until its clone goes, and those placeholders turn
 * inaccessible, which is how pre-registration leaves them (VMbook ch. 11).
 */
export const unmountDatastores: BatchStep<RunContext, VolumeRecord> = {
  kind: "batch",
  name: "UnmountDatastores",
  idempotent: true,
  failWhenItemsFail: true,
  items: (ctx) => ctx.volumes,
  label: volumeLabel,
  concurrency: () => 16,
  async prepare(ctx, items, signal) {
    await storageView(ctx, items, signal);
  },
  async observeItem(ctx, v): Promise<ItemObservation> {
    const site = ctx.recoverySite(v.group).metadata.name;
    if (v.protocol === "NFS") {
      const ds = ctx.inventory(site).datastoreByName(v.datastore);
      if (ds?.nas && ds.hosts.some((m) => m.mounted)) return { kind: "NeedsAct" };
      if ((v.op?.attempts ?? 0) > 0) noteRemoved(ctx, { kind: "Datastore", name: v.datastore, site, action: "Unmounted" });
      return { kind: "Done" };
    }
    const view = await storageView(ctx, [v], ctx.signal);
    const devices = await copyDevices(ctx, v);
    if (replaced(ctx)) {
      const used = recoveryHosts(ctx, v.group).find((h) => {
        const m = copyVolume(view.get(h.ref.value), devices);
        return m?.mounted && pinned(ctx, v, m.name, h);
      });
      if (used) {
        const vm = registeredOn(ctx, v, used);
        return { kind: "Failed", message: `${vm ?? "a VM"} is registered on ${v.datastore} at Site ${site} (host ${used.name}) but is not one of the run's VMs; its volume is about to be overwritten by replication: unregister it there (or add it to the group) and run again` };
      }
    }
    const left = recoveryHosts(ctx, v.group).filter((h) => {
      const m = copyVolume(view.get(h.ref.value), devices);
      return m?.mounted && !pinned(ctx, v, m.name, h);
    });
    if (left.length) return { kind: "NeedsAct" };
    if ((v.op?.attempts ?? 0) > 0) noteRemoved(ctx, { kind: "Datastore", name: v.datastore, site, action: "Unmounted" });
    return { kind: "Done" };
  },
  async actItem(ctx, v) {
    const site = ctx.recoverySite(v.group);
    const client = await ctx.vcenter(site);
    if (v.protocol === "NFS") {
      const ds = ctx.inventory(site.metadata.name).datastoreByName(v.datastore);
      for (const h of recoveryHosts(ctx, v.group)) if (ds && h.datastoreSystem) await client.removeNasDatastore(h.datastoreSystem, ds.ref, ctx.signal);
      return completed;
    }
    const view = await storageView(ctx, [v], ctx.signal);
    const devices = await copyDevices(ctx, v);
    for (const h of recoveryHosts(ctx, v.group)) {
      const m = copyVolume(view.get(h.ref.value), devices);
      if (!m?.mounted || !m.vmfsUuid || !h.storageSystem || pinned(ctx, v, m.name, h)) continue;
      await client.unmountVmfsVolume(h.storageSystem, m.vmfsUuid, ctx.signal);
    }
    return completed;
  },
  failItem() {
    /* the step fails with the message */
  },
};

/** Runs after which the volume is overwritten by replication: nothing may keep its datastore mounted. */
const replaced = (ctx: RunContext): boolean => ctx.run.spec.type === "Failback" || ctx.run.spec.type === "Reprotect";

function registeredOn(ctx: RunContext, v: VolumeRecord, host: HostInfo): string | undefined {
  const inv = ctx.inventory(ctx.recoverySite(v.group).metadata.name);
  const ds = inv.datastoreByName(v.datastore);
  return inv.vms.find((vm) => vm.host?.value === host.ref.value && vm.datastores.some((d) => d.value === ds?.ref.value))?.name;
}

/** VMs registered on that host use the copy (placeholders): ESXi refuses to unmount it there. */
function pinned(ctx: RunContext, v: VolumeRecord, datastore: string, host: HostInfo): boolean {
  const inv = ctx.inventory(ctx.recoverySite(v.group).metadata.name);
  const ds = inv.datastoreByName(datastore);
  return ds !== undefined && inv.vms.some((vm) => vm.host?.value === host.ref.value && vm.datastores.some((d) => d.value === ds.ref.value));
}

/**
 * DetachDevices (cleanup): the copies' devices detached on every recovery host where the volume is
 * unmounted, before the LUNs are unmapped, so no host loses a device it still has open.
 */
export const detachDevices: BatchStep<RunContext, VolumeRecord> = {
  kind: "batch",
  name: "DetachDevices",
  idempotent: true,
  failWhenItemsFail: true,
  items: (ctx) => ctx.volumes.filter((v) => v.protocol === "SAN"),
  label: volumeLabel,
  concurrency: () => 16,
  async prepare(ctx, items, signal) {
    await storageView(ctx, items, signal);
  },
  async observeItem(ctx, v): Promise<ItemObservation> {
    const view = await storageView(ctx, [v], ctx.signal);
    const devices = await copyDevices(ctx, v);
    const left = recoveryHosts(ctx, v.group).filter((h) => {
      const hs = view.get(h.ref.value);
      return hs?.luns.some((l) => devices.has(l.canonicalName) && !l.operationalState.includes("off")) && !copyVolume(hs, devices)?.mounted;
    });
    if (left.length) return { kind: "NeedsAct" };
    if ((v.op?.attempts ?? 0) > 0) for (const d of devices) noteRemoved(ctx, { kind: "ScsiLun", name: d, site: ctx.recoverySite(v.group).metadata.name, action: "Detached" });
    return { kind: "Done" };
  },
  async actItem(ctx, v) {
    const client = await ctx.vcenter(ctx.recoverySite(v.group));
    const view = await storageView(ctx, [v], ctx.signal);
    const devices = await copyDevices(ctx, v);
    for (const h of recoveryHosts(ctx, v.group)) {
      const hs = view.get(h.ref.value);
      if (!hs || !h.storageSystem || copyVolume(hs, devices)?.mounted) continue;
      for (const l of hs.luns) if (devices.has(l.canonicalName) && !l.operationalState.includes("off")) await client.detachScsiLun(h.storageSystem, l.uuid, ctx.signal);
    }
    return completed;
  },
  failItem() {
    /* the step fails with the message */
  },
};
