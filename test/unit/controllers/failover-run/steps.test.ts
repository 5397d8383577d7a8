import { describe, expect, it } from "vitest";
import { pino } from "pino";
import type { ProtectionGroup, Site, VmRecord } from "../../../../src/api/v1alpha1/index.js";
import { RunContext } from "../../../../src/controllers/failover-run/context.js";
import type { RunState, RunWorld } from "../../../../src/controllers/failover-run/context.js";
import { isolateNetworks } from "../../../../src/controllers/failover-run/steps/isolate.js";
import { ADDRESS_SETTLE_MS, powerOnVms } from "../../../../src/controllers/failover-run/steps/power.js";
import { customizationOf, customizeGuests } from "../../../../src/controllers/failover-run/steps/customize.js";
import { registerVms } from "../../../../src/controllers/failover-run/steps/register.js";
import type { BatchStep, ItemObservation, PolledOp } from "../../../../src/engine/types.js";
import type { EventRecorder } from "../../../../src/runtime/events.js";
import { FakeClock } from "../../../fakes/clock.js";
import type { FakeVsphere} from "../../../fakes/vsphere.js";
import { vmbookSite2 } from "../../../fakes/vsphere.js";

/**
 * The per-VM steps of a run, observe and act, as tables over FakeVsphere: each row sets up the
 * recovery site and a VM record, and says what observe concludes before the act, which calls the
 * act makes, and what observe concludes once the operation it started is over.
 */

const SITE = "site2";
const LAN = "Site1-LAN";
const TEST_PG = "Site2-Test-Isolated";

const noEvents: EventRecorder = { normal: () => undefined, warning: () => undefined };

function site(name: string): Site {
  return { apiVersion: "vmdr.io/v1alpha1", kind: "Site", metadata: { name }, spec: {} } as unknown as Site;
}

function group(spec: Record<string, unknown> = {}): ProtectionGroup {
  return {
    metadata: { name: "hr", namespace: "dr" },
    spec: { protectedSiteRef: "site1", recoverySiteRef: SITE, shadow: { cluster: "Site2-BCDR" }, testPortgroup: TEST_PG, ...spec },
  } as unknown as ProtectionGroup;
}

/** The recovery site with the shadow tree, a replica datastore RP1, and the .vmx files of the group's VMs on it. */
function recoverySite(vmx: { name: string; copied?: boolean; cdrom?: { file: string; startConnected: boolean } }[] = []): FakeVsphere {
  const fake = vmbookSite2({ taskTiming: "immediate" }).addFolder("HR/Database").addResourcePool("Site2-BCDR", "HR").addDatastore("RP1");
  for (const v of vmx) fake.addVmxFile("RP1", { name: v.name, nics: [{ portgroup: LAN }], copied: v.copied ?? true, ...(v.cdrom ? { cdrom: v.cdrom } : {}) });
  return fake;
}

function record(name: string, o: Partial<VmRecord> = {}): VmRecord {
  return { name, group: "hr", instanceUuid: `uuid-${name}`, vmx: `[RP1] ${name}/${name}.vmx`, folder: "HR/Database", resourcePool: "HR", wave: 0, state: "Pending", ...o };
}

function context(fake: FakeVsphere, vms: VmRecord[], o: { spec?: Record<string, unknown>; group?: ProtectionGroup } = {}): RunContext {
  const clock = new FakeClock();
  const world: RunWorld = {
    kube: undefined as never,
    clock,
    events: noEvents,
    site: (name) => site(name),
    vcenter: () => Promise.resolve(fake.client()),
    ontap: () => {
      throw new Error("no ONTAP in these tables");
    },
    inventory: () => fake.index(),
  };
  const store: RunState = {
    run: { metadata: { name: "test-1", namespace: "dr", uid: "0123abcd-0000-0000-0000-000000000000" }, spec: { type: "Test", powerOn: { concurrency: 4 }, ...o.spec } },
    status: {},
    vms,
  };
  return new RunContext(store, world, new Map([["hr", o.group ?? group()]]), pino({ level: "silent" }), new AbortController().signal);
}

/** Observe as the engine does: the item's handle polled first (one getTasks), a fresh inventory snapshot. */
async function observe<I extends VmRecord>(fake: FakeVsphere, step: BatchStep<RunContext, I>, ctx: RunContext, item: I): Promise<ItemObservation> {
  ctx.refresh();
  let op: PolledOp | undefined;
  const h = item.op?.handle;
  if (h) {
    const [s] = await fake.client().getTasks([{ type: "Task", value: h.id }]);
    op = { handle: h, state: s?.state === "success" ? "success" : s?.state === "error" ? "failure" : "running", ...(s?.error ? { error: s.error } : {}), ...(s?.result ? { result: s.result } : {}) };
    if (op.state !== "running") item.op = { ...item.op!, handle: undefined };
  }
  await step.prepare?.(ctx, [item], ctx.signal, 1);
  return step.observeItem(ctx, item, op);
}

/** Acts as the engine does: the handle it returns is kept on the item. */
async function act<I extends VmRecord>(step: BatchStep<RunContext, I>, ctx: RunContext, item: I): Promise<void> {
  const r = await step.actItem(ctx, item);
  item.op = { step: step.name, attempts: (item.op?.attempts ?? 0) + 1, ...(r.kind === "Started" ? { handle: r.handles[0] } : {}) };
}

const vmNamed = (fake: FakeVsphere, name: string) => fake.index().vms.find((v) => v.name === name);

describe("RegisterVms, observe and act", () => {
  it("registers a VM that is not there into its folder and pool by path, and is done once the inventory shows it", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }]);
    const vm = record("HR-DB1");
    const ctx = context(fake, [vm]);
    expect((await observe(fake, registerVms, ctx, vm)).kind).toBe("NeedsAct");
    await act(registerVms, ctx, vm);
    expect(fake.callCount("registerVm")).toBe(1);
    vm.instanceUuid = vmNamed(fake, "HR-DB1")!.instanceUuid!;
    expect(await observe(fake, registerVms, ctx, vm)).toEqual({ kind: "Done" });
    expect(vm).toMatchObject({ state: "Registered", registeredAs: vmNamed(fake, "HR-DB1")!.ref.value });
    expect(ctx.inventory(SITE).folderPath(vmNamed(fake, "HR-DB1")!.parent)).toBe("HR/Database");
  });

  it("takes a VM registered from its .vmx with its instance UUID as done, without a call", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }]);
    const vm = record("HR-DB1");
    const ctx = context(fake, [vm]);
    await act(registerVms, ctx, vm);
    const again = record("HR-DB1", { instanceUuid: vmNamed(fake, "HR-DB1")!.instanceUuid! });
    expect(await observe(fake, registerVms, context(fake, [again]), again)).toEqual({ kind: "Done" });
    expect(fake.callCount("registerVm")).toBe(1);
  });

  it("unregisters a stale registration of the same .vmx (an earlier test's, another UUID) before it registers", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }]);
    const stale = record("HR-DB1");
    await act(registerVms, context(fake, [stale]), stale);
    const vm = record("HR-DB1", { instanceUuid: "uuid-of-the-protected-vm" });
    const ctx = context(fake, [vm]);
    expect((await observe(fake, registerVms, ctx, vm)).kind).toBe("NeedsAct");
    await act(registerVms, ctx, vm);
    expect(fake.callCount("unregisterVm")).toBe(1);
    expect(vmNamed(fake, "HR-DB1")).toBeUndefined();
    expect((await observe(fake, registerVms, ctx, vm)).kind).toBe("NeedsAct");
    await act(registerVms, ctx, vm);
    expect(fake.callCount("registerVm")).toBe(2);
  });

  it("refuses, for that VM only, a stale registration of its .vmx that is running at the recovery site", async () => {
    const fake = recoverySite([{ name: "HR-DB1", copied: false }]);
    const stale = record("HR-DB1");
    const sctx = context(fake, [stale]);
    await act(registerVms, sctx, stale);
    await fake.client().powerOn(vmNamed(fake, "HR-DB1")!.ref);
    const vm = record("HR-DB1", { instanceUuid: "uuid-of-the-protected-vm" });
    await expect(registerVms.actItem(context(fake, [vm]), vm)).rejects.toMatchObject({ class: "Permanent", reason: "VmRunning" });
    expect(fake.callCount("unregisterVm")).toBe(0);
  });

  it("waits (not fails) while the VM's folder does not exist yet", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }]);
    const vm = record("HR-DB1", { folder: "HR/Not-Yet" });
    await expect(registerVms.actItem(context(fake, [vm]), vm)).rejects.toMatchObject({ class: "Wait", reason: "WaitingForFolder" });
    expect(fake.callCount("registerVm")).toBe(0);
  });

  it("reads a registration refused as AlreadyExists (an earlier attempt's, whose handle was lost) as in progress, never as a second registration", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }]);
    const first = record("HR-DB1");
    await act(registerVms, context(fake, [first]), first);
    // The record does not know the UUID vCenter shows yet: only the refusal says it is there.
    const vm = record("HR-DB1", { instanceUuid: "uuid-not-yet-seen" });
    const ctx = context(fake, [vm]);
    const inv = ctx.inventory(SITE);
    const again = await fake.client().registerVm({ folder: inv.folderByPath("HR/Database")!.ref, vmxPath: vm.vmx, name: vm.name, pool: [...inv.pools.values()].find((p) => p.name === "HR")!.ref });
    vm.op = { step: registerVms.name, attempts: 1, handle: { system: "vsphere", endpoint: SITE, kind: "task", id: again.task.value, startedAt: "" } };
    expect(await observe(fake, registerVms, ctx, vm)).toMatchObject({ kind: "InProgress", message: "registered by an earlier attempt; waiting for the inventory" });
    expect(fake.index().vms.filter((v) => v.name === "HR-DB1")).toHaveLength(1);
  });
});

describe("IsolateNetworks, observe and act", () => {
  async function registered(fake: FakeVsphere, name: string): Promise<VmRecord> {
    const vm = record(name);
    const ctx = context(fake, [vm]);
    await act(registerVms, ctx, vm);
    vm.instanceUuid = vmNamed(fake, name)!.instanceUuid!;
    await observe(fake, registerVms, ctx, vm);
    vm.op = undefined;
    return vm;
  }

  it("moves a NIC from its production portgroup to the group's test portgroup, keeping its MAC and type, in one reconfigure", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }]);
    const vm = await registered(fake, "HR-DB1");
    const ctx = context(fake, [vm]);
    const before = (await fake.client().getVmDevices({ type: "VirtualMachine", value: vm.registeredAs! })).nics[0]!;
    expect((await observe(fake, isolateNetworks, ctx, vm)).kind).toBe("NeedsAct");
    await act(isolateNetworks, ctx, vm);
    expect(fake.callCount("reconfigureVm")).toBe(1);
    expect(await observe(fake, isolateNetworks, ctx, vm)).toEqual({ kind: "Done" });
    const after = (await fake.client().getVmDevices({ type: "VirtualMachine", value: vm.registeredAs! })).nics[0]!;
    expect(after).toMatchObject({ macAddress: before.macAddress, key: before.key, startConnected: true });
    const test = [...fake.index().networks.values()].find((n) => n.name === TEST_PG)!;
    expect(after.portgroupKey).toBe(test.portgroupKey);
    expect(vm).toMatchObject({ state: "Configured", network: TEST_PG });
  });

  it("takes a VM already on its test portgroup with clean media as done, without a second reconfigure", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }]);
    const vm = await registered(fake, "HR-DB1");
    const ctx = context(fake, [vm]);
    await act(isolateNetworks, ctx, vm);
    vm.op = undefined;
    const fresh = context(fake, [vm]);
    expect(await observe(fake, isolateNetworks, fresh, vm)).toEqual({ kind: "Done" });
    expect(fake.callCount("reconfigureVm")).toBe(1);
  });

  it("has the act read the devices of a VM the look did not read, and change nothing when it is already isolated", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }]);
    const vm = await registered(fake, "HR-DB1");
    await act(isolateNetworks, context(fake, [vm]), vm);
    vm.op = undefined;
    const ctx = context(fake, [vm]);
    ctx.refresh();
    expect(isolateNetworks.observeItem(ctx, vm, undefined)).toEqual({ kind: "NeedsAct" });
    expect((await isolateNetworks.actItem(ctx, vm)).kind).toBe("Completed");
    expect(isolateNetworks.observeItem(ctx, vm, undefined)).toEqual({ kind: "Done" });
    expect(fake.callCount("reconfigureVm")).toBe(1);
  });

  it("disconnects a CD-ROM with an ISO and removes its image before power-on", async () => {
    const fake = recoverySite([{ name: "HR-DB1", cdrom: { file: "[RP1] iso/setup.iso", startConnected: true } }]);
    const vm = await registered(fake, "HR-DB1");
    const ctx = context(fake, [vm]);
    expect((await observe(fake, isolateNetworks, ctx, vm)).kind).toBe("NeedsAct");
    await act(isolateNetworks, ctx, vm);
    const d = await fake.client().getVmDevices({ type: "VirtualMachine", value: vm.registeredAs! });
    expect(d.media.every((m) => !m.startConnected && !m.connected)).toBe(true);
    expect(vm.devicesChanged).toBeGreaterThan(0);
  });

  it("disconnects the NICs instead with networkMode Disconnected", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }]);
    const vm = await registered(fake, "HR-DB1");
    const ctx = context(fake, [vm], { spec: { networkMode: "Disconnected" } });
    await act(isolateNetworks, ctx, vm);
    const nic = (await fake.client().getVmDevices({ type: "VirtualMachine", value: vm.registeredAs! })).nics[0]!;
    expect(nic).toMatchObject({ startConnected: false, connected: false });
    expect(vm.network).toBe("disconnected");
  });

  it("fails a VM that is no longer registered (it would otherwise be retried for ever)", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }]);
    const vm = await registered(fake, "HR-DB1");
    await fake.client().unregisterVm({ type: "VirtualMachine", value: vm.registeredAs! });
    expect(await observe(fake, isolateNetworks, context(fake, [vm]), vm)).toEqual({ kind: "Failed", message: `no longer registered at Site ${SITE}` });
  });

  it("fails the VM with a clear message when its portgroup has no test portgroup", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }]);
    const vm = await registered(fake, "HR-DB1");
    const ctx = context(fake, [vm], { group: group({ testPortgroup: undefined }) });
    await expect(observe(fake, isolateNetworks, ctx, vm)).rejects.toMatchObject({ class: "Permanent", message: expect.stringMatching(/no test portgroup for HR-DB1/) as unknown });
    await expect(isolateNetworks.actItem(context(fake, [vm], { group: group({ testPortgroup: undefined }) }), vm)).rejects.toMatchObject({ class: "Permanent" });
    expect(fake.callCount("reconfigureVm")).toBe(0);
  });
});

/** Registered at the recovery site and configured: what PowerOnVms (and CustomizeGuests) start from. */
async function configured(fake: FakeVsphere, vms: VmRecord[]): Promise<void> {
  for (const vm of vms) {
    const ctx = context(fake, [vm]);
    await act(registerVms, ctx, vm);
    vm.instanceUuid = vmNamed(fake, vm.name)!.instanceUuid!;
    await observe(fake, registerVms, ctx, vm);
    vm.state = "Configured";
    vm.op = undefined;
  }
}

describe("PowerOnVms, observe and act", () => {
  it("powers on, answers the moved-or-copied question with \"moved\" once, and is done when tools are running", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }]);
    const vm = record("HR-DB1");
    await configured(fake, [vm]);
    const uuid = vm.instanceUuid;
    const ctx = context(fake, [vm]);
    expect((await observe(fake, powerOnVms, ctx, vm)).kind).toBe("NeedsAct");
    await act(powerOnVms, ctx, vm);
    expect(fake.callCount("powerOn")).toBe(1);
    // The power-on waits on the question: observe asks for an act on it while the task runs.
    expect((await observe(fake, powerOnVms, ctx, vm)).kind).toBe("NeedsAct");
    const stale = fake.index(); // an inventory snapshot taken before the answer
    await act(powerOnVms, ctx, vm);
    expect(fake.callCount("answerQuestion")).toBe(1);
    expect(vm.questionAnswered).toBe("moved");
    // A snapshot that still shows the answered question does not get it answered again.
    const lagging = new RunContext(ctx.store, { ...ctx.world, inventory: () => stale }, new Map([["hr", group()]]), ctx.log, ctx.signal);
    await powerOnVms.actItem(lagging, vm);
    expect(fake.callCount("answerQuestion")).toBe(1);
    expect(await observe(fake, powerOnVms, ctx, vm)).toEqual({ kind: "Done" });
    expect(vm).toMatchObject({ state: "Ready" });
    expect(vmNamed(fake, "HR-DB1")!.instanceUuid).toBe(uuid);
  });

  it("holds a VM of a later wave until every VM of the earlier waves is settled", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }, { name: "HR-App1" }]);
    const db = record("HR-DB1");
    const app = record("HR-App1", { wave: 1 });
    await configured(fake, [db, app]);
    const ctx = context(fake, [db, app]);
    expect(await observe(fake, powerOnVms, ctx, app)).toMatchObject({ kind: "Waiting", message: "waiting for wave 1 (HR-DB1)" });
    db.state = "Ready";
    expect((await observe(fake, powerOnVms, ctx, app)).kind).toBe("NeedsAct");
  });

  it("skips a priority group whose dependency did not recover, and waits for one that is not ready yet", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }, { name: "HR-App1" }]);
    const db = record("HR-DB1", { priorityGroup: "db" });
    const app = record("HR-App1", { priorityGroup: "app" });
    await configured(fake, [db, app]);
    const g = group({ powerOn: { priorityGroups: [{ name: "db", priority: 1 }, { name: "app", priority: 1, dependsOn: ["db"] }] } });
    expect(await observe(fake, powerOnVms, context(fake, [db, app], { group: g }), app)).toMatchObject({ kind: "Waiting", message: "waiting for priority group db (HR-DB1)" });
    db.state = "Failed";
    expect(await observe(fake, powerOnVms, context(fake, [db, app], { group: g }), app)).toMatchObject({ kind: "Skipped" });
  });

  it("fails a VM that is no longer registered at the recovery site", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }]);
    const vm = record("HR-DB1");
    await configured(fake, [vm]);
    await fake.client().unregisterVm({ type: "VirtualMachine", value: vm.registeredAs! });
    vm.registeredAs = "vm-gone";
    vm.instanceUuid = "uuid-gone";
    expect((await observe(fake, powerOnVms, context(fake, [vm]), vm)).kind).toBe("Failed");
    expect(fake.callCount("powerOn")).toBe(0);
  });
});

describe("CustomizeGuests and the address check after boot", () => {
  /** 20.1.1.50/24 → 30.1.1.50/24 via 30.1.1.254, on the VM's only NIC. */
  const reip = (): VmRecord["reip"] => ({
    os: "linux",
    hostName: "hr-db1.site1.vmbook.lab",
    direction: "failover",
    nics: [{ index: 0, action: "reassign", source: "rule", rule: "rules[0]", from: { index: 0, ip: "20.1.1.50", prefixLength: 24 }, to: { ip: "30.1.1.50", prefixLength: 24, subnetMask: "255.255.255.0", gateway: "30.1.1.254", dns: ["30.1.1.5"] } }],
  });

  it("customizes a powered-off VM once with its new address, and takes the refusal of a repeat (handle lost) as done", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }]);
    const vm = record("HR-DB1", { reip: reip() });
    await configured(fake, [vm]);
    const ctx = context(fake, [vm]);
    expect((await observe(fake, customizeGuests, ctx, vm)).kind).toBe("NeedsAct");
    const stale = fake.index(); // an inventory snapshot taken before the customization
    await act(customizeGuests, ctx, vm);
    expect(fake.callCount("customizeVm")).toBe(1);
    expect(await observe(fake, customizeGuests, ctx, vm)).toEqual({ kind: "Done" });
    // A crash lost the handle and the inventory does not show the pending customization yet: the
    // act runs again, vCenter refuses it (CustomizationPending), and that is done, not a failure.
    const again = record("HR-DB1", { reip: reip(), instanceUuid: vm.instanceUuid, registeredAs: vm.registeredAs! });
    const fresh = context(fake, [again]);
    const lagging = new RunContext(fresh.store, { ...fresh.world, inventory: () => stale }, new Map([["hr", group()]]), fresh.log, fresh.signal);
    await act(customizeGuests, lagging, again);
    const o = await observe(fake, customizeGuests, lagging, again);
    expect(o).toEqual({ kind: "Done" });
    expect(fake.mutations.filter((m) => m.startsWith("CustomizeVM"))).toHaveLength(1);
  });

  it("powers the customized VM on and is ready once the guest reports 30.1.1.50/24, recording the address", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }]);
    const vm = record("HR-DB1", { reip: reip() });
    await configured(fake, [vm]);
    const ctx = context(fake, [vm]);
    await act(customizeGuests, ctx, vm);
    vm.op = undefined;
    await act(powerOnVms, ctx, vm);
    expect((await observe(fake, powerOnVms, ctx, vm)).kind).toBe("NeedsAct"); // the moved-or-copied question
    await act(powerOnVms, ctx, vm);
    expect(await observe(fake, powerOnVms, ctx, vm)).toEqual({ kind: "Done" });
    expect(vm).toMatchObject({ state: "Ready", addresses: ["30.1.1.50/24"] });
  });

  it("fails a VM whose guest still reports its old address after the settle time, naming that address", async () => {
    const fake = recoverySite([{ name: "HR-DB1" }]);
    fake.addVmxFile("RP1", { name: "HR-DB2", nics: [{ portgroup: LAN }], guestIp: "20.1.1.51" });
    const nic = { index: 0, action: "reassign", source: "rule", from: { index: 0, ip: "20.1.1.51", prefixLength: 24 }, to: { ip: "30.1.1.51", prefixLength: 24, subnetMask: "255.255.255.0" } } as const;
    const vm = record("HR-DB2", { reip: { ...reip()!, nics: [nic] } });
    await configured(fake, [vm]);
    const ctx = context(fake, [vm]);
    await act(powerOnVms, ctx, vm); // never customized: the guest keeps 20.1.1.51
    await observe(fake, powerOnVms, ctx, vm);
    await act(powerOnVms, ctx, vm);
    const early = await observe(fake, powerOnVms, ctx, vm);
    expect(early).toMatchObject({ kind: "InProgress", message: expect.stringContaining("20.1.1.51/24") });
    (ctx.world.clock as FakeClock).advance(ADDRESS_SETTLE_MS + 1);
    const late = await observe(fake, powerOnVms, ctx, vm);
    expect(late).toEqual({ kind: "Failed", message: "re-IP: NIC 0: the guest reports 20.1.1.51/24, expected 30.1.1.51/24" });
  });

  it("fails, without a call, a VM found running before its customization whose guest has other addresses", async () => {
    const fake = recoverySite([{ name: "HR-DB1", copied: false }]);
    const vm = record("HR-DB1", { reip: reip() });
    await configured(fake, [vm]);
    await fake.client().powerOn({ type: "VirtualMachine", value: vm.registeredAs! });
    const o = await observe(fake, customizeGuests, context(fake, [vm]), vm);
    expect(o.kind).toBe("Failed");
    expect(fake.callCount("customizeVm")).toBe(0);
  });

  it("gives every NIC of the VM a setting: the new address, a kept static one, DHCP for the rest", () => {
    const r = reip()!;
    const spec = customizationOf({ ...r, nics: [...r.nics, { index: 1, action: "keep", reason: "NoMatchingRule", message: "", from: { index: 1, ip: "10.9.9.9", prefixLength: 16, gateway: "10.9.0.1" } }, { index: 2, action: "keep", reason: "Dhcp", message: "", from: { index: 2, dhcp: true } }] }, 4);
    expect(spec).toEqual({
      os: "linux", hostName: "hr-db1", domain: "site1.vmbook.lab", dnsServers: ["30.1.1.5"],
      nics: [
        { ip: "30.1.1.50", subnetMask: "255.255.255.0", gateways: ["30.1.1.254"], dnsServers: ["30.1.1.5"] },
        { ip: "10.9.9.9", subnetMask: "255.255.0.0", gateways: ["10.9.0.1"] },
        {},
        {},
      ],
    });
  });
});
