import { describe, expect, it } from "vitest";
import type { FailoverRun, ProtectionGroup, Site, VmReip } from "../../../../src/api/v1alpha1/index.js";
import { planTest } from "../../../../src/controllers/failover-run/plan.js";
import { failbackReip, groupReip, reipOn, vmReip } from "../../../../src/controllers/failover-run/reip.js";
import { guestScriptOf } from "../../../../src/controllers/failover-run/steps/guest-script.js";
import type { CompiledReip } from "../../../../src/reip/rules.js";
import { InventoryIndex } from "../../../../src/sites/inventory-index.js";

const RULE = { fromCidr: "20.1.1.0/24", toCidr: "30.1.1.0/24", gateway: "30.1.1.254", dns: ["30.1.1.5"] };

function group(ipCustomization?: ProtectionGroup["spec"]["ipCustomization"]): ProtectionGroup {
  return { metadata: { name: "finance", namespace: "dr" }, spec: { protectedSiteRef: "site1", recoverySiteRef: "site2", replicationRefs: [], vms: {}, shadow: {}, ...(ipCustomization ? { ipCustomization } : {}) } } as unknown as ProtectionGroup;
}
const site = (networks: Site["spec"]["networks"] = []): Site => ({ metadata: { name: "site1" }, spec: { networks } }) as unknown as Site;
const run = (spec: Partial<FailoverRun["spec"]>): FailoverRun => ({ metadata: { name: "r", namespace: "dr" }, spec: { type: "PlannedMigration", ...spec } });
const compiled = (g: ProtectionGroup, direction: "failover" | "failback", s?: Site): CompiledReip => groupReip(g, direction, s) as CompiledReip;
const guest = (ip: string, extra: object = {}) => ({ os: "linux" as const, hostName: "fin-app1", nics: [{ index: 0, ip, prefixLength: 24, ...extra }] });

describe("re-IP in a run's plan", () => {
  it("is on by default for the runs that move production and off for a Test, and spec.reIp decides", () => {
    expect(reipOn(run({ type: "PlannedMigration" }))).toBe(true);
    expect(reipOn(run({ type: "Disaster" }))).toBe(true);
    expect(reipOn(run({ type: "Failback" }))).toBe(true);
    expect(reipOn(run({ type: "Test" }))).toBe(false);
    expect(reipOn(run({ type: "Disaster", reIp: false }))).toBe(false);
  });

  it("has no rules for a group without ipCustomization, and names the field of overlapping rules", () => {
    expect(groupReip(group(), "failover", undefined)).toBeUndefined();
    const bad = groupReip(group({ rules: [RULE, { fromCidr: "20.1.0.0/16", toCidr: "40.1.0.0/16" }] }), "failover", undefined);
    expect(bad).toEqual(expect.stringContaining("ProtectionGroup finance: invalid IP customization"));
    expect(bad).toEqual(expect.stringContaining("rules[1]"));
  });

  it("plans 20.1.1.50 → 30.1.1.50/24 with the rule's gateway and DNS from what the guest last reported", () => {
    const r = vmReip(compiled(group({ rules: [RULE] }), "failover"), "Fin-App1", guest("20.1.1.50"));
    expect(r).toMatchObject({ os: "linux", hostName: "fin-app1", direction: "failover" });
    expect(r?.nics).toEqual([expect.objectContaining({ index: 0, action: "reassign", source: "rule", to: { ip: "30.1.1.50", prefixLength: 24, subnetMask: "255.255.255.0", gateway: "30.1.1.254", dns: ["30.1.1.5"] } })]);
  });

  it("plans nothing for a VM whose NICs all stay (DHCP, no matching rule) or whose guest never reported", () => {
    const c = compiled(group({ rules: [RULE] }), "failover");
    expect(vmReip(c, "a", guest("20.1.1.50", { dhcp: true }))).toBeUndefined();
    expect(vmReip(c, "b", guest("10.0.0.5"))).toBeUndefined();
    expect(vmReip(c, "c", undefined)).toBeUndefined();
    expect(vmReip(undefined, "d", guest("20.1.1.50"))).toBeUndefined();
  });

  it("fails back to the address, gateway and DNS servers the guest had at home, from its shadow record", () => {
    const g = group({ rules: [RULE] });
    const back = compiled(g, "failback", site());
    const r = failbackReip(back, compiled(g, "failover"), "Fin-App1", guest("30.1.1.50"), guest("20.1.1.50", { gateway: "20.1.1.1", dns: ["20.1.1.5"] }));
    expect(r?.direction).toBe("failback");
    expect(r?.nics[0]).toMatchObject({ action: "reassign", source: "recorded", to: { ip: "20.1.1.50", prefixLength: 24, gateway: "20.1.1.1", dns: ["20.1.1.5"] } });
    // Without a record, the inverse rule and the protected Site's networks decide.
    const bySite = failbackReip(compiled(g, "failback", site([{ name: "lan", portgroup: "Site1-LAN", cidr: "20.1.1.0/24", gateway: "20.1.1.254" }])), undefined, "Fin-App1", guest("30.1.1.50"), undefined);
    expect(bySite?.nics[0]).toMatchObject({ action: "reassign", source: "rule", to: { ip: "20.1.1.50", gateway: "20.1.1.254" } });
  });

  it("rehearses the failover's re-IP in a Test only when spec.reIp is true", () => {
    const ready = { ...group({ rules: [RULE] }), status: { conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "", lastTransitionTime: "2026-12-04T06:00:00Z" }] } } as unknown as ProtectionGroup;
    ready.spec.testPortgroup = "Site2-Test";
    const inv = new InventoryIndex([{ kind: "Network", info: { ref: { type: "Network", value: "net-1" }, name: "Site2-Test" } }]);
    const record = { name: "Fin-App1", protectedFolder: "PG2", shadowFolder: "DR/PG2", resourcePool: "", vmx: "[ds1] Fin-App1/Fin-App1.vmx", datastores: [], shadowed: true, guest: guest("20.1.1.50") };
    const plan = (reIp?: boolean) =>
      planTest({
        run: run({ type: "Test", protectionGroups: ["finance"], ...(reIp !== undefined ? { reIp } : {}) }),
        groups: [ready],
        relationship: () => undefined,
        site: (n) => ({ ...site(), metadata: { name: n } }),
        records: new Map([["dr/finance", new Map([["uuid-1", record]])]]),
        recoveryInventory: () => inv,
      });
    const on = plan(true);
    expect(on.ok && on.vms[0]?.reip?.nics[0]).toMatchObject({ action: "reassign", to: { ip: "30.1.1.50", gateway: "30.1.1.254" } });
    const off = plan();
    expect(off.ok && off.vms[0]).toMatchObject({ name: "Fin-App1" });
    expect(off.ok && off.vms[0]?.reip).toBeUndefined();
  });
});

describe("the guest script's re-IP variable", () => {
  it("carries only the NICs that move, by device position, with their new settings", () => {
    const value = guestScriptOf({
      os: "linux",
      direction: "failover",
      nics: [
        { index: 0, action: "reassign", source: "rule", to: { ip: "30.1.1.21", subnetMask: "255.255.255.0", gateway: "30.1.1.254", dns: ["30.1.1.5"] } },
        { index: 1, action: "keep", reason: "NoMatchingRule", message: "no rule matches", from: { ip: "10.9.9.9", prefixLength: 24 } },
        { index: 2, action: "reassign", source: "override", to: { ip: "30.1.2.7", subnetMask: "255.255.255.0" } },
      ],
    } as VmReip);
    expect(JSON.parse(value)).toEqual({
      nics: [
        { index: 0, ip: "30.1.1.21", mask: "255.255.255.0", gateway: "30.1.1.254", dns: ["30.1.1.5"] },
        { index: 2, ip: "30.1.2.7", mask: "255.255.255.0", gateway: "", dns: [] },
      ],
    });
  });
});
