import { parseIpv4 } from "../../reip/ipv4.js";
import type { ObservedNic, ReportedNic } from "../../reip/plan.js";
import type { VmInfo } from "../../vsphere/types.js";

/**
 * A VM's NICs as the re-IP rules read them, from what VMware Tools report (guest.net and the
 * default route and DNS servers of guest.ipStack). A NIC's index is its position in device key
 * order (0 = first), as ipCustomization overrides name it; its address is its first IPv4 one.
 * Empty while tools do not run.
 */
export function reportedNics(vm: VmInfo): ReportedNic[] {
  return (vm.guestNics ?? []).map((n, index): ReportedNic => {
    const v4 = n.addresses.find((a) => parseIpv4(a.split("/")[0]!) !== undefined);
    const [ip, len] = (v4 ?? n.addresses[0] ?? "").split("/");
    const gateway = gatewayOf(vm, index);
    const dns = n.dns ?? vm.guestDns;
    return {
      index,
      ...(n.dhcp ? { dhcp: true } : {}),
      ...(ip ? { ip } : {}),
      ...(len !== undefined && len !== "" ? { prefixLength: Number(len) } : {}),
      ...(gateway !== undefined ? { gateway } : {}),
      ...(dns !== undefined && dns.length > 0 ? { dns: [...dns] } : {}),
    };
  });
}

/** What the guest reports after boot, for verifying a re-IP (every address of each NIC). */
export function observedNics(vm: VmInfo): ObservedNic[] {
  return (vm.guestNics ?? []).map((n, index) => {
    const gateway = gatewayOf(vm, index);
    return { index, addresses: [...n.addresses], ...(gateway !== undefined ? { gateway } : {}) };
  });
}

/** The default gateway, for the NIC its route names (or every NIC when the route names none). */
function gatewayOf(vm: VmInfo, index: number): string | undefined {
  const g = vm.guestGateway;
  return g && (g.nic === undefined || g.nic === index) ? g.ip : undefined;
}

/** The customization identity a guest takes: Sysprep for Windows guests, LinuxPrep otherwise. */
export function guestOs(guestId: string | undefined): "linux" | "windows" {
  return /^win/i.test(guestId ?? "") ? "windows" : "linux";
}

/** A guest's identity and NICs as its tools report them (see ReportedNic: index, IPv4 address, prefix, gateway, DNS). */
export interface GuestRecord {
  readonly os: "linux" | "windows";
  readonly hostName?: string;
  readonly nics: readonly ReportedNic[];
}

/** What a running guest reports now; undefined while its tools do not run or it reports no NIC. */
export function guestReport(vm: VmInfo): GuestRecord | undefined {
  const nics = reportedNics(vm);
  if (vm.toolsRunningStatus !== "guestToolsRunning" || nics.length === 0) return undefined;
  return { os: guestOs(vm.guestId), ...(vm.guestHostName ? { hostName: vm.guestHostName } : {}), nics };
}
