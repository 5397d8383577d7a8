import { describe, expect, it } from "vitest";
import { pino } from "pino";
import type { ProtectionGroup, VmRecord } from "../../../../src/api/v1alpha1/index.js";
import { RunContext } from "../../../../src/controllers/failover-run/context.js";
import type { RunState, RunWorld } from "../../../../src/controllers/failover-run/context.js";
import { dnsHostLabel, reassignedAddresses, updateDns } from "../../../../src/controllers/failover-run/steps/dns.js";
import type { DnsClient, EnsureResult, HostRecords } from "../../../../src/dns/client.js";
import { TransientError } from "../../../../src/runtime/errors.js";
import type { NicPlan } from "../../../../src/reip/plan.js";
import { FakeClock } from "../../../fakes/clock.js";

/** UpdateDns over a client that records what it is asked (the client itself is proven against BIND in test/integration/dns-bind). */

const DNS = { server: "192.0.2.53", zone: "site2.vmbook.lab", reverseZones: [{ zone: "1.1.30.in-addr.arpa" }], ttl: 60, tsig: { keyName: "vmdr", secretRef: { name: "dns-key" } } };

function group(dns: unknown = DNS): ProtectionGroup {
  return { metadata: { name: "finance", namespace: "dr" }, spec: { protectedSiteRef: "site1", recoverySiteRef: "site2", ...(dns ? { dns } : {}) } } as unknown as ProtectionGroup;
}

const reassign = (index: number, ip: string): NicPlan =>
  ({ index, action: "reassign", rule: "r", from: { index, ip: `20.1.1.${ip.split(".")[3]}`, prefixLength: 24 }, to: { ip, prefixLength: 24, subnetMask: "255.255.255.0" } }) as unknown as NicPlan;

function vm(name: string, o: Partial<VmRecord> = {}): VmRecord {
  return {
    name,
    group: "finance",
    instanceUuid: `uuid-${name}`,
    vmx: `[RP] ${name}/${name}.vmx`,
    folder: "Finance",
    resourcePool: "Finance",
    wave: 0,
    state: "Ready",
    reip: { os: "linux", direction: "failover", hostName: "fin-app01.site1.vmbook.lab", nics: [reassign(0, "30.1.1.50")] },
    ...o,
  };
}

class RecordingDns implements DnsClient {
  readonly calls: string[] = [];
  fail?: Error;
  ensured: HostRecords[] = [];
  constructor(private readonly updates = 1) {}
  probe(): Promise<never> {
    throw new Error("not used");
  }
  observeHost(name: string, addresses: readonly string[]): Promise<HostRecords> {
    this.calls.push(`observe ${name} ${addresses.join(",")}`);
    if (this.fail) return Promise.reject(this.fail);
    const fqdn = `${name}.site2.vmbook.lab`;
    return Promise.resolve({
      name: fqdn,
      a: { zone: "site2.vmbook.lab", owner: fqdn, type: "A", ttl: 300, values: ["20.1.1.50"] },
      ptr: addresses.map((a) => ({ zone: "1.1.30.in-addr.arpa", owner: `${a.split(".")[3]}.1.1.30.in-addr.arpa`, type: "PTR" as const, ttl: 300, values: [], address: a })),
      unmanaged: ["20.1.1.50"],
    });
  }
  ensureHost(desired: HostRecords): Promise<EnsureResult> {
    this.calls.push(`ensure ${desired.name}`);
    this.ensured.push(desired);
    return Promise.resolve({ changed: this.updates ? [desired.a, ...desired.ptr] : [], updates: this.updates });
  }
}

function context(vms: VmRecord[], client: DnsClient | undefined, g = group()): RunContext {
  const world: RunWorld = {
    kube: undefined as never,
    clock: new FakeClock(),
    events: { normal: () => undefined, warning: () => undefined },
    site: () => undefined,
    vcenter: () => Promise.reject(new Error("no vCenter here")),
    ontap: () => {
      throw new Error("no ONTAP here");
    },
    inventory: () => undefined,
    ...(client ? { dns: () => Promise.resolve(client) } : {}),
  };
  const store: RunState = { run: { metadata: { name: "pm-1", namespace: "dr", uid: "0123abcd-0000" }, spec: { type: "PlannedMigration" } }, status: {}, vms };
  return new RunContext(store, world, new Map([["finance", g]]), pino({ level: "silent" }), new AbortController().signal);
}

describe("UpdateDns", () => {
  it("names a VM's records by its guest's host label, or its VM name made a label, and refuses one that is neither", () => {
    expect(dnsHostLabel(vm("Finance App"))).toBe("fin-app01");
    expect(dnsHostLabel(vm("Finance App", { reip: { os: "linux", direction: "failover", nics: [] } }))).toBe("finance-app");
    expect(dnsHostLabel(vm("Ünïcode ✓", { reip: { os: "linux", direction: "failover", nics: [] } }))).toBe("n-code");
    expect(dnsHostLabel(vm("✓✓", { reip: { os: "linux", direction: "failover", nics: [] } }))).toBeUndefined();
  });

  it("takes only the reassigned NICs' new addresses, once each, as the A record", () => {
    const keep = { index: 1, action: "keep", reason: "Dhcp", message: "NIC 1: DHCP", from: { index: 1, dhcp: true } } as unknown as NicPlan;
    expect(reassignedAddresses(vm("a", { reip: { os: "linux", direction: "failover", nics: [reassign(2, "30.1.1.9"), keep, reassign(0, "30.1.1.8"), reassign(3, "30.1.1.8")] } }))).toEqual(["30.1.1.8", "30.1.1.9"]);
  });

  it("works on the Ready, re-addressed VMs of groups with spec.dns only, and is skipped when none is", () => {
    const vms = [vm("a"), vm("failed", { state: "Failed" }), vm("dhcp", { reip: undefined }), vm("aux", { auxiliary: true })];
    expect(updateDns.items(context(vms, new RecordingDns())).map((v) => v.name)).toEqual(["a"]);
    expect(updateDns.skip?.(context(vms, new RecordingDns(), group(null)))).toBe("no group has spec.dns");
    expect(updateDns.skip?.(context([vm("failed", { state: "Failed" })], new RecordingDns()))).toMatch(/no recovered VM/);
  });

  it("reads the host's records with its new addresses, replaces them in one ensure and records what it found, then is done without a call", async () => {
    const dns = new RecordingDns();
    const v = vm("Finance App");
    const ctx = context([v], dns);
    expect(updateDns.observeItem(ctx, v, undefined)).toEqual({ kind: "NeedsAct" });
    await updateDns.actItem(ctx, v);
    expect(dns.calls).toEqual(["observe fin-app01 30.1.1.50", "ensure fin-app01.site2.vmbook.lab"]);
    expect(dns.ensured[0]!.a).toMatchObject({ values: ["30.1.1.50"], ttl: 60 });
    expect(dns.ensured[0]!.ptr).toEqual([expect.objectContaining({ address: "30.1.1.50", values: ["fin-app01.site2.vmbook.lab"] })]);
    expect(v.dns).toMatchObject({ name: "fin-app01.site2.vmbook.lab", state: "Updated", before: { a: { values: ["20.1.1.50"] } } });
    expect(v.dns?.message).toMatch(/A 20\.1\.1\.50 → A 30\.1\.1\.50/);
    expect(updateDns.observeItem(context([v], dns), v, undefined)).toEqual({ kind: "Done" });
    expect(dns.calls).toHaveLength(2);
  });

  it("says Unchanged when the server already held the records (a repeat after a crash)", async () => {
    const v = vm("a");
    await updateDns.actItem(context([v], new RecordingDns(0)), v);
    expect(v.dns).toMatchObject({ state: "Unchanged", message: "fin-app01.site2.vmbook.lab: already A 30.1.1.50" });
  });

  it("lets a transient failure through to be retried, and a failed VM's DNS fails without failing the VM", async () => {
    const dns = new RecordingDns();
    dns.fail = new TransientError("DNS server 192.0.2.53:53 did not answer within 5000 ms", "DnsUnreachable");
    const v = vm("a");
    const ctx = context([v], dns);
    await expect(updateDns.actItem(ctx, v)).rejects.toMatchObject({ class: "Transient" });
    updateDns.failItem(ctx, v, "not done within 60s", "Failed");
    expect(v.state).toBe("Ready");
    expect(v.dns).toMatchObject({ state: "Failed", message: "DNS: not done within 60s", name: "fin-app01" });
  });

  it("fails permanently, naming the cause, when the operator has no DNS client or the VM has no usable name", async () => {
    const v = vm("a");
    await expect(updateDns.actItem(context([v], undefined), v)).rejects.toMatchObject({ class: "Permanent", reason: "DnsUnavailable" });
    const odd = vm("✓", { reip: { os: "linux", direction: "failover", nics: [reassign(0, "30.1.1.7")] } });
    await expect(updateDns.actItem(context([odd], new RecordingDns()), odd)).rejects.toMatchObject({ reason: "InvalidHostName" });
  });
});
