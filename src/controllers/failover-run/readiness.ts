import { connect } from "node:net";
import type { Readiness } from "../../api/v1alpha1/protection-group.js";
import type { VmInfo } from "../../vsphere/types.js";

const CHECK_TIMEOUT_MS = 2_000;

/** A TCP connect to the guest, bounded; true when it is accepted. */
function tcpOpen(host: string, port: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: CHECK_TIMEOUT_MS, signal: AbortSignal.any([signal, AbortSignal.timeout(CHECK_TIMEOUT_MS)]) });
    const end = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.once("connect", () => end(true));
    s.once("timeout", () => end(false));
    s.once("error", () => end(false));
  });
}

/**
 * Whether a recovered VM is ready (VMbook: the application answers, not just the VM is on):
 * VMware Tools running with a green heartbeat (unless turned off), then an optional TCP connect
 * or HTTP GET from the operator to the guest's address. Returns undefined when ready, else what is
 * missing. Every check is bounded (2 s) and read-only.
 */
export async function notReady(vm: VmInfo, r: Readiness | undefined, signal: AbortSignal): Promise<string | undefined> {
  if (r?.toolsHeartbeat !== false) {
    if (vm.toolsRunningStatus !== "guestToolsRunning") return `VMware Tools ${vm.toolsRunningStatus ?? "not reported"}`;
    if (vm.guestHeartbeat !== "green") return `guest heartbeat ${vm.guestHeartbeat ?? "not reported"}`;
  }
  if (!r?.tcp && !r?.http) return undefined;
  const ip = vm.guestIp;
  if (!ip) return "the guest reports no IP address yet";
  if (r.tcp && !(await tcpOpen(ip, r.tcp.port, signal))) return `TCP ${ip}:${r.tcp.port} does not accept connections`;
  if (r.http) {
    const url = `${r.http.scheme ?? "http"}://${ip}:${r.http.port}${r.http.path ?? "/"}`;
    try {
      const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(CHECK_TIMEOUT_MS)]) });
      await res.body?.cancel();
      if (res.status >= 400) return `${url} answered ${res.status}`;
    } catch {
      return `${url} does not answer`;
    }
  }
  return undefined;
}
