import type { VolumeRecord } from "../../../api/v1alpha1/index.js";
import { completed } from "../../../engine/types.js";
import type { BatchStep, ItemObservation } from "../../../engine/types.js";
import { PermanentError } from "../../../runtime/errors.js";
import type { RunContext } from "../context.js";
import { recoveryHosts } from "../hosts.js";
import { cloneName, junctionOf, volumeLabel } from "../names.js";
import { rescanRecoveryHosts } from "./rescan.js";

/** The recovery controller's NFS address (Site spec), needed to mount an NFS copy. */
function nfsAddress(ctx: RunContext, v: VolumeRecord): string {
  const site = ctx.recoverySite(v.group);
  const c = site.spec.storage.controllers.find((x) => x.name === v.controller) ?? site.spec.storage.controllers[0];
  if (!c?.nfsAddress) throw new PermanentError(`Site ${site.metadata.name}'s storage controller ${c?.name ?? ""} has no nfsAddress: the recovery hosts cannot mount ${v.datastore}`, "InvalidSpec");
  return c.nfsAddress;
}

/** Hosts of the group that do not have the copy mounted and accessible yet. */
function missingHosts(ctx: RunContext, v: VolumeRecord) {
  const ds = ctx.inventory(ctx.recoverySite(v.group).metadata.name).datastoreByName(v.datastore);
  return recoveryHosts(ctx, v.group).filter((h) => !(ds?.accessible && ds.hosts.some((m) => m.host.value === h.ref.value && m.mounted && m.accessible)));
}

/**
 * MountDatastores: each copy mounted on every recovery host of its group under the datastore's own
 * name (RP5 recovers like RP1). NFS: the clone's export, mounted on each host from the recovery
 * SVM's NFS address. SAN: rescans until each host has the copy.
 */
export const mountDatastores: BatchStep<RunContext, VolumeRecord> = {
  kind: "batch",
  name: "MountDatastores",
  idempotent: true,
  failWhenItemsFail: true,
  items: (ctx) => ctx.volumes,
  label: volumeLabel,
  concurrency: () => 16,
  maxAttempts: 30,
  observeItem(ctx, v): ItemObservation {
    return missingHosts(ctx, v).length === 0 ? { kind: "Done" } : { kind: "NeedsAct" };
  },
  async actItem(ctx, v) {
    if (v.protocol === "SAN") {
      await rescanRecoveryHosts(ctx);
      return completed;
    }
    const client = await ctx.vcenter(ctx.recoverySite(v.group));
    for (const h of missingHosts(ctx, v)) {
      if (!h.datastoreSystem) continue;
      await client.createNasDatastore(h.datastoreSystem, { name: v.datastore, remoteHost: nfsAddress(ctx, v), remotePath: junctionOf(cloneName(v, ctx.shortId)) }, ctx.signal);
    }
    return completed;
  },
  failItem() {
    /* the step fails with the message */
  },
};

/** UnmountDatastores (cleanup): placeholder until the host-storage verbs land. */
export const unmountDatastores: BatchStep<RunContext, VolumeRecord> = {
  ...mountDatastores,
  name: "UnmountDatastores",
  observeItem: () => ({ kind: "Done" }),
  actItem: () => Promise.resolve(completed),
};

/** DetachDevices (cleanup): placeholder until the host-storage verbs land. */
export const detachDevices: BatchStep<RunContext, VolumeRecord> = {
  ...mountDatastores,
  name: "DetachDevices",
  observeItem: () => ({ kind: "Done" }),
  actItem: () => Promise.resolve(completed),
};
