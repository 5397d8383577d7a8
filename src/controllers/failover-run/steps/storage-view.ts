import type { VolumeRecord } from "../../../api/v1alpha1/index.js";
import { naaOfSerial } from "../../protection-group/datastores.js";
import type { HostVolumeMount, ScsiLunInfo, UnresolvedVmfsVolume } from "../../../vsphere/host-storage.js";
import type { RunContext } from "../context.js";
import { recoveryHosts } from "../hosts.js";
import { copyOf } from "../names.js";

/** What one recovery host reports about its storage, read once per pass. */
export interface HostStorage {
  readonly volumes: readonly HostVolumeMount[];
  readonly unresolved: readonly UnresolvedVmfsVolume[];
  readonly luns: readonly ScsiLunInfo[];
}

const views = new WeakMap<RunContext, Map<string, HostStorage>>();
const devicesOf = new WeakMap<RunContext, Map<string, Set<string>>>();

/**
 * The storage of the recovery hosts of the given volumes' groups: mounted volumes, unresolved
 * copies, SCSI devices. Read once per host per pass (three property reads each) and shared by
 * every item of the step.
 */
export async function storageView(ctx: RunContext, volumes: readonly VolumeRecord[], signal: AbortSignal): Promise<Map<string, HostStorage>> {
  let view = views.get(ctx);
  if (!view) views.set(ctx, (view = new Map<string, HostStorage>()));
  for (const group of new Set(volumes.map((v) => v.group))) {
    const site = ctx.recoverySite(group);
    const client = await ctx.vcenter(site);
    await Promise.all(
      recoveryHosts(ctx, group).map(async (h) => {
        if (view.has(h.ref.value) || !h.storageSystem) return;
        const ss = h.storageSystem;
        const [vols, unresolved, luns] = await Promise.all([client.getHostVolumes(ss, signal), client.queryUnresolvedVmfsVolumes(ss, signal), client.getHostScsiLuns(ss, signal)]);
        view.set(h.ref.value, { volumes: vols, unresolved, luns });
      }),
    );
  }
  return view;
}

/** The NAA devices that carry a volume's copy: the run's clone's LUNs, or the replica's own. */
export async function copyDevices(ctx: RunContext, v: VolumeRecord): Promise<Set<string>> {
  let cache = devicesOf.get(ctx);
  if (!cache) devicesOf.set(ctx, (cache = new Map<string, Set<string>>()));
  const name = v.clone ?? copyOf(v, ctx.shortId);
  const key = `${v.svm}:${name}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const luns = await ctx.ontapFor(v).listLuns({ svm: v.svm, name }, ctx.signal);
  const set = new Set(luns.map((l) => naaOfSerial(l.serialNumber)));
  cache.set(key, set);
  return set;
}

/** The host's volume on those devices, if any. */
export function copyVolume(h: HostStorage | undefined, devices: ReadonlySet<string>): HostVolumeMount | undefined {
  return h?.volumes.find((m) => m.extents.some((e) => devices.has(e)));
}
