import { each, el, text } from "./soap/builder.js";
import type { Xml } from "./soap/builder.js";
import { boolAt, child, childrenNamed, textAt } from "./soap/xml.js";
import type { XNode } from "./soap/xml.js";
import { VimFault } from "./errors.js";
import type { TaskState } from "./tasks.js";

/**
 * Presenting and removing block storage the ESXi 7/8 way (vSphere Storage, "Managing Duplicate
 * VMFS Datastores" and "Perform Planned Storage Device Removal"): what the hosts report, and the
 * XML of the calls. The verbs themselves are on VsphereClient.
 */

/** A VMFS copy (a replica, a clone) a host found and did not mount: its signature names another device. */
export interface UnresolvedVmfsVolume {
  readonly vmfsUuid: string;
  readonly label: string;
  readonly extents: readonly { readonly device: string; readonly devicePath: string; readonly reason?: string }[];
  readonly resolvable: boolean;
  /** More than one copy of this VMFS is presented: only a resignature can tell them apart. */
  readonly multipleCopies: boolean;
}

/** How to mount a copy: keep its signature (force-mount) or give it a new one (resignature). */
export type VmfsUuidResolution = "forceMount" | "resignature";

export interface VmfsResolution {
  /** "/vmfs/devices/disks/naa.…:1", as QueryUnresolvedVmfsVolume reports it. */
  readonly devicePath: string;
  readonly mode: VmfsUuidResolution;
}

/** The outcome of one resolution: the mounted volume, or why it was not mounted. */
export interface VmfsResolutionResult {
  readonly devicePath: string;
  readonly vmfsUuid?: string;
  readonly label?: string;
  readonly error?: VimFault;
}

/** A SCSI device a host sees. */
export interface ScsiLunInfo {
  readonly canonicalName: string;
  /** ScsiLun.uuid: what DetachScsiLun and AttachScsiLun take. */
  readonly uuid: string;
  /** "ok"; "off" once detached; "lostCommunication" after a device loss; … */
  readonly operationalState: readonly string[];
}

/** A file system volume as one host has it (HostFileSystemMountInfo). */
export interface HostVolumeMount {
  readonly name: string;
  readonly type: string;
  /** VMFS only. */
  readonly vmfsUuid?: string;
  /** VMFS: the devices of its extents. */
  readonly extents: readonly string[];
  readonly mounted: boolean;
  readonly accessible: boolean;
  readonly inaccessibleReason?: string;
}

export function readUnresolved(returnvals: readonly XNode[]): UnresolvedVmfsVolume[] {
  return returnvals.map((v) => ({
    vmfsUuid: textAt(v, "vmfsUuid") ?? "",
    label: textAt(v, "vmfsLabel") ?? "",
    extents: childrenNamed(v, "extent").map((e) => ({
      device: textAt(e, "device.diskName") ?? "",
      devicePath: textAt(e, "devicePath") ?? "",
      reason: textAt(e, "reason"),
    })),
    resolvable: boolAt(v, "resolveStatus.resolvable") ?? false,
    multipleCopies: boolAt(v, "resolveStatus.multipleCopies") ?? false,
  }));
}

export function resolutionSpecs(specs: readonly VmfsResolution[]): Xml {
  return each(specs, (s) => el("resolutionSpec", [text("extentDevicePath", s.devicePath), text("uuidResolution", s.mode)]));
}

/** Reads the results of a ResolveMultipleUnresolvedVmfsVolumesEx_Task that finished. */
export function readResolutionResults(s: TaskState): VmfsResolutionResult[] {
  const items = s.result?.name === "HostUnresolvedVmfsResolutionResult" ? [s.result] : childrenNamed(s.result, "HostUnresolvedVmfsResolutionResult");
  return items.map((r) => {
    const fault = child(r, "fault");
    const f = child(fault, "fault");
    const type = f?.xsiType ?? "RuntimeFault";
    return {
      devicePath: textAt(r, "spec.extentDevicePath") ?? "",
      vmfsUuid: textAt(r, "vmfs.uuid"),
      label: textAt(r, "vmfs.name"),
      error: fault ? new VimFault(type, `${type}: ${textAt(fault, "localizedMessage") || "not resolved"}`, f) : undefined,
    };
  });
}

export function readScsiLuns(n: XNode | undefined): ScsiLunInfo[] {
  return (n?.children ?? []).map((l) => ({
    canonicalName: textAt(l, "canonicalName") ?? "",
    uuid: textAt(l, "uuid") ?? "",
    operationalState: childrenNamed(l, "operationalState").map((o) => o.text),
  }));
}

export function readVolumeMounts(n: XNode | undefined): HostVolumeMount[] {
  return (n?.children ?? []).map((m) => {
    const vol = child(m, "volume");
    return {
      name: textAt(vol, "name") ?? "",
      type: textAt(vol, "type") ?? "",
      vmfsUuid: textAt(vol, "uuid"),
      extents: childrenNamed(vol, "extent").map((e) => textAt(e, "diskName") ?? "").filter(Boolean),
      mounted: boolAt(m, "mountInfo.mounted") ?? true,
      accessible: boolAt(m, "mountInfo.accessible") ?? true,
      inaccessibleReason: textAt(m, "mountInfo.inaccessibleReason") || undefined,
    };
  });
}
