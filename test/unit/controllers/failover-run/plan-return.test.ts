import { describe, expect, it } from "vitest";
import type { FailoverRun, ProtectionGroup } from "../../../../src/api/v1alpha1/index.js";
import { planFailback, planReprotect } from "../../../../src/controllers/failover-run/plan-return.js";
import { auxiliaryVms, planFailover, planTest } from "../../../../src/controllers/failover-run/plan.js";
import type { PlanInput } from "../../../../src/controllers/failover-run/plan.js";
import { InventoryIndex } from "../../../../src/sites/inventory-index.js";
import type { InventoryObject } from "../../../../src/vsphere/types.js";
import { clientMatches } from "../../../../src/controllers/failover-run/steps/present.js";

const group = (failover?: NonNullable<ProtectionGroup["status"]>["failover"]): ProtectionGroup => ({
  metadata: { namespace: "dr", name: "finance" },
  spec: { protectedSiteRef: "site1", recoverySiteRef: "site2", replicationRefs: ["rg2fv1"], vms: { folder: "PG2" }, shadow: { rootFolder: "DR" } } as ProtectionGroup["spec"],
  status: { ...(failover ? { failover } : {}) },
});
const input = (type: FailoverRun["spec"]["type"], g: ProtectionGroup, extra: Partial<FailoverRun["spec"]> = {}): PlanInput => ({
  run: { metadata: { namespace: "dr", name: "r" }, spec: { type, protectionGroups: ["finance"], confirmation: type, ...extra } },
  groups: [g],
  relationship: () => undefined,
  site: () => undefined,
  records: new Map(),
  recoveryInventory: () => undefined,
});
const failedOver = { state: "FailedOver" as const, runningAt: "site2", run: "pm-finance", type: "PlannedMigration" as const, at: "2026-12-03T07:00:00Z" };

describe("planning a Failback or a Reprotect refuses before anything is touched", () => {
  it("refuses to fail back a group that is at home", () => {
    expect(planFailback(input("Failback", group()))).toMatchObject({ ok: false, reason: "NotFailedOver" });
  });

  it("refuses to fail back a group that is already back home", () => {
    expect(planFailback(input("Failback", group({ ...failedOver, state: "FailedBack", runningAt: "site1" })))).toMatchObject({ ok: false, reason: "NotFailedOver" });
  });

  it("refuses to reprotect a group that was never failed over", () => {
    expect(planReprotect(input("Reprotect", group()))).toMatchObject({ ok: false, reason: "NotFailedOver" });
  });

  it("refuses a Reprotect after a failover that was not failed back, naming the confirmation that discards the recovery site's writes", () => {
    const r = planReprotect(input("Reprotect", group(failedOver)));
    expect(r).toMatchObject({ ok: false, reason: "WouldDiscardRecoverySiteChanges" });
    expect(r.ok === false && r.message).toContain("discardRecoverySiteChanges: true");
  });

  it("goes past the discard check when the spec confirms it (and then needs both sites)", () => {
    expect(planReprotect(input("Reprotect", group(failedOver), { discardRecoverySiteChanges: true }))).toMatchObject({ ok: false, reason: "SiteNotFound" });
  });
});

describe("an NFS export rule's client matches a host address", () => {
  it("matches the address itself and the IPv4 subnets that hold it", () => {
    expect(clientMatches("20.1.1.11", "20.1.1.11")).toBe(true);
    expect(clientMatches("20.1.1.0/24", "20.1.1.11")).toBe(true);
    expect(clientMatches("0.0.0.0/0", "20.1.1.11")).toBe(true);
    expect(clientMatches("20.1.1.12/32", "20.1.1.11")).toBe(false);
    expect(clientMatches("30.1.1.0/24", "20.1.1.11")).toBe(false);
    expect(clientMatches("20.1.1.0/33", "20.1.1.11")).toBe(false);
    expect(clientMatches("host.example", "20.1.1.11")).toBe(false);
  });
});

describe("a group's auxiliary VMs are found by name at the recovery site, exactly once", () => {
  const vmAt = (name: string, id: string): InventoryObject => ({
    kind: "VirtualMachine",
    info: { ref: { type: "VirtualMachine", value: id }, name, instanceUuid: `uuid-${id}`, vmPathName: `[LP1] ${name}/${name}.vmx`, datastores: [], networks: [], template: false },
  });
  const withAux = (names: string[]): ProtectionGroup => ({ ...group(), spec: { ...group().spec, auxiliaryVms: names.map((name, i) => ({ name, ...(i === 0 ? { priority: 1 } : {}) })) } });

  it("records each as an auxiliary VM to power on, in its priority's wave", () => {
    const inv = new InventoryIndex([vmAt("Jumphost", "vm-7"), vmAt("Directory", "vm-8")]);
    const r = auxiliaryVms(withAux(["Jumphost", "Directory"]), inv);
    expect(r).toEqual([
      expect.objectContaining({ name: "Jumphost", auxiliary: true, registeredAs: "vm-7", instanceUuid: "uuid-vm-7", wave: 1, state: "Configured" }),
      expect.objectContaining({ name: "Directory", auxiliary: true, registeredAs: "vm-8", wave: 1_000 }),
    ]);
  });

  it("refuses one that does not exist there, or whose name is not unique", () => {
    expect(auxiliaryVms(withAux(["Nowhere"]), new InventoryIndex([vmAt("Jumphost", "vm-7")]))).toMatchObject({ ok: false, reason: "InvalidSpec", message: expect.stringContaining("does not exist at Site site2") });
    expect(auxiliaryVms(withAux(["Jumphost"]), new InventoryIndex([vmAt("Jumphost", "vm-7"), vmAt("Jumphost", "vm-9")]))).toMatchObject({ ok: false, message: expect.stringContaining("not unique") });
  });
});

describe("a group that is not Ready", () => {
  const notReady = (reason: string): ProtectionGroup => ({
    ...group(),
    status: { conditions: [{ type: "Ready", status: "False", reason, message: "m", lastTransitionTime: "2026-12-04T06:00:00Z" }] },
  });

  it("makes a Test or a planned migration wait while it only waits for the operator's inventories (a restart)", () => {
    expect(planTest(input("Test", notReady("WaitingForInventory")))).toMatchObject({ ok: false, reason: "WaitingForInventory" });
    expect(planFailover(input("PlannedMigration", notReady("WaitingForInventory")))).toMatchObject({ ok: false, reason: "WaitingForInventory" });
  });

  it("refuses them for any other reason", () => {
    expect(planTest(input("Test", notReady("NotReady")))).toMatchObject({ ok: false, reason: "GroupNotReady" });
    expect(planFailover(input("PlannedMigration", notReady("NotReady")))).toMatchObject({ ok: false, reason: "GroupNotReady" });
  });
});
