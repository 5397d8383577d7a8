import { each, el, fragment, text, typedText } from "./soap/builder.js";
import type { Xml } from "./soap/builder.js";
import { child, childrenNamed, node, textAt, toXml, withChild } from "./soap/xml.js";
import type { XNode } from "./soap/xml.js";
import type { MoRef } from "./types.js";

/** A NIC as vCenter reports it in config.hardware.device. */
export interface NicInfo {
  readonly key: number;
  readonly label: string;
  readonly deviceType: string; // VirtualVmxnet3, VirtualE1000, ...
  readonly macAddress?: string;
  /** Standard portgroup name, when backed by one. */
  readonly networkName?: string;
  readonly network?: MoRef;
  /** Distributed portgroup key, when backed by one. */
  readonly portgroupKey?: string;
  readonly connected: boolean;
  readonly startConnected: boolean;
}

export interface MediaInfo {
  readonly key: number;
  readonly kind: "cdrom" | "floppy";
  readonly connected: boolean;
  readonly startConnected: boolean;
}

/** The devices of a VM the operator touches, plus the raw device nodes to edit them faithfully. */
export interface VmDevices {
  readonly nics: readonly NicInfo[];
  readonly media: readonly MediaInfo[];
  readonly raw: ReadonlyMap<number, XNode>;
}

const NIC_TYPES = /^Virtual(E1000e?|Vmxnet\d?|Vmxnet3Vrdma|PCNet32|Sriov.*)$/;

export function readDevices(devices: XNode | undefined): VmDevices {
  const nics: NicInfo[] = [];
  const media: MediaInfo[] = [];
  const raw = new Map<number, XNode>();
  for (const d of devices?.children ?? []) {
    const type = d.xsiType ?? d.name;
    const key = Number(textAt(d, "key"));
    if (!Number.isFinite(key)) continue;
    const connected = textAt(d, "connectable.connected") === "true";
    const startConnected = textAt(d, "connectable.startConnected") === "true";
    if (NIC_TYPES.test(type) || child(d, "macAddress")) {
      raw.set(key, d);
      const backing = child(d, "backing");
      const netRef = child(backing, "network");
      nics.push({
        key,
        label: textAt(d, "deviceInfo.label") ?? `nic-${key}`,
        deviceType: type,
        macAddress: textAt(d, "macAddress"),
        networkName: textAt(backing, "deviceName"),
        network: netRef?.attrs.type ? { type: netRef.attrs.type, value: netRef.text } : undefined,
        portgroupKey: textAt(backing, "port.portgroupKey"),
        connected,
        startConnected,
      });
    } else if (type === "VirtualCdrom" || type === "VirtualFloppy") {
      raw.set(key, d);
      media.push({ key, kind: type === "VirtualCdrom" ? "cdrom" : "floppy", connected, startConnected });
    }
  }
  return { nics, media, raw };
}

/** Where a NIC should connect: a standard portgroup (by name) or a distributed one (key + switch uuid). */
export type NicTarget =
  | { readonly kind: "standard"; readonly name: string; readonly network?: MoRef }
  | { readonly kind: "distributed"; readonly portgroupKey: string; readonly switchUuid: string };

export interface NicChange {
  readonly key: number;
  readonly target?: NicTarget;
  readonly connected?: boolean;
  readonly startConnected?: boolean;
}

export interface VmReconfig {
  readonly nics?: readonly NicChange[];
  /** Disconnect CD-ROM and floppy drives and point them at nothing (VMbook: avoid missing ISO paths). */
  readonly disconnectMedia?: boolean;
  /** VMware Tools runs its power-on script (VMbook appendix B re-IP method). */
  readonly toolsAfterPowerOn?: boolean;
  /** Advanced settings (.vmx keys) to set; an empty value removes the key. */
  readonly extraConfig?: readonly { readonly key: string; readonly value: string }[];
}

function connectable(d: XNode, connected: boolean | undefined, startConnected: boolean | undefined): XNode {
  const cur = child(d, "connectable");
  const val = (name: string, v: boolean | undefined, fallback: string): XNode => node(name, [], { text: v === undefined ? (textAt(cur, name) ?? fallback) : String(v) });
  // VirtualDeviceConnectInfo in WSDL order: migrateConnect?, startConnected, allowGuestControl, connected, status?
  return node("connectable", [
    ...childrenNamed(cur, "migrateConnect"),
    val("startConnected", startConnected, "false"),
    val("allowGuestControl", undefined, "true"),
    val("connected", connected, "false"),
    ...childrenNamed(cur, "status"),
  ]);
}

function nicBacking(t: NicTarget): XNode {
  if (t.kind === "standard") {
    const children = [node("deviceName", [], { text: t.name })];
    if (t.network) children.push(node("network", [], { text: t.network.value, attrs: { type: t.network.type } }));
    return node("backing", children, { xsiType: "VirtualEthernetCardNetworkBackingInfo" });
  }
  return node(
    "backing",
    [node("port", [node("switchUuid", [], { text: t.switchUuid }), node("portgroupKey", [], { text: t.portgroupKey })])],
    { xsiType: "VirtualEthernetCardDistributedVirtualPortBackingInfo" },
  );
}

function mediaBacking(d: XNode): XNode {
  return (d.xsiType ?? d.name) === "VirtualCdrom"
    ? node("backing", [node("deviceName", [], { text: "" }), node("useAutoDetect", [], { text: "false" }), node("exclusive", [], { text: "false" })], {
        xsiType: "VirtualCdromRemotePassthroughBackingInfo",
      })
    : node("backing", [node("deviceName", [], { text: "" }), node("useAutoDetect", [], { text: "false" })], { xsiType: "VirtualFloppyRemoteDeviceBackingInfo" });
}

function edit(device: XNode): Xml {
  return el("deviceChange", [text("operation", "edit"), fragment(toXml(device, "device"))]);
}

/**
 * A VirtualMachineConfigSpec for ReconfigVM_Task. Devices are sent whole (an edit replaces the
 * device), built from what vCenter reported with only backing and connectable changed.
 */
export function reconfigSpec(devices: VmDevices, r: VmReconfig): Xml {
  const changes: Xml[] = [];
  for (const c of r.nics ?? []) {
    const d = devices.raw.get(c.key);
    if (!d) throw new Error(`VM has no NIC with key ${c.key}`);
    let nd = withChild(d, connectable(d, c.connected, c.startConnected));
    if (c.target) nd = withChild(nd, nicBacking(c.target));
    changes.push(edit(nd));
  }
  if (r.disconnectMedia) {
    for (const m of devices.media) {
      const d = devices.raw.get(m.key);
      if (d) changes.push(edit(withChild(withChild(d, mediaBacking(d)), connectable(d, false, false))));
    }
  }
  // VirtualMachineConfigSpec order: …, tools, …, deviceChange, …, extraConfig
  return el("spec", [
    r.toolsAfterPowerOn === undefined ? undefined : el("tools", [text("afterPowerOn", r.toolsAfterPowerOn)]),
    ...changes,
    ...(r.extraConfig ?? []).map((o) => el("extraConfig", [text("key", o.key), typedText("value", "xsd:string", o.value)])),
  ]);
}

export interface NicIpSettings {
  /** A fixed IPv4 address; absent: the NIC takes its address by DHCP. */
  readonly ip?: string;
  readonly subnetMask?: string;
  readonly gateways?: readonly string[];
  readonly dnsServers?: readonly string[];
  readonly macAddress?: string;
}

export interface GuestCustomization {
  readonly os: "linux" | "windows";
  /** Keep the VM name as the host name unless given. */
  readonly hostName?: string;
  readonly domain?: string;
  readonly dnsServers?: readonly string[];
  readonly dnsSuffixes?: readonly string[];
  /** One entry per NIC, in NIC order (vCenter requires exactly as many as the VM has). */
  readonly nics: readonly NicIpSettings[];
}

/** A CustomizationSpec for CustomizeVM_Task (fixed IPs per NIC). */
export function customizationSpec(c: GuestCustomization): Xml {
  const hostName = c.hostName ? el("hostName", [text("name", c.hostName)], "CustomizationFixedName") : el("hostName", [], "CustomizationVirtualMachineName");
  const identity =
    c.os === "linux"
      ? el("identity", [hostName, text("domain", c.domain ?? "localdomain")], "CustomizationLinuxPrep")
      : el(
          "identity",
          [
            el("guiUnattended", [text("autoLogon", false), text("autoLogonCount", 0), text("timeZone", 85)]),
            el("userData", [text("fullName", "vmdr"), text("orgName", "vmdr"), c.hostName ? el("computerName", [text("name", c.hostName)], "CustomizationFixedName") : el("computerName", [], "CustomizationVirtualMachineName"), text("productId", "")]),
            el("identification", [text("joinWorkgroup", "WORKGROUP")]),
          ],
          "CustomizationSysprep",
        );
  return el("spec", [
    identity,
    el("globalIPSettings", [each(c.dnsSuffixes, (s) => text("dnsSuffixList", s)), each(c.dnsServers, (s) => text("dnsServerList", s))]),
    each(c.nics, (n) =>
      el("nicSettingMap", [
        text("macAddress", n.macAddress),
        el("adapter", [
          n.ip !== undefined ? el("ip", [text("ipAddress", n.ip)], "CustomizationFixedIp") : el("ip", [], "CustomizationDhcpIpGenerator"),
          text("subnetMask", n.subnetMask),
          each(n.gateways, (g) => text("gateway", g)),
          each(n.dnsServers, (d) => text("dnsServerList", d)),
        ]),
      ]),
    ),
  ]);
}

/** A ResourceConfigSpec with vCenter's defaults (all four allocation fields are required). */
export function defaultResourceSpec(): Xml {
  const alloc = (name: string, shares: number): Xml =>
    el(name, [text("reservation", 0), text("expandableReservation", true), text("limit", -1), el("shares", [text("shares", shares), text("level", "normal")])]);
  return el("spec", [alloc("cpuAllocation", 4000), alloc("memoryAllocation", 163840)]);
}

