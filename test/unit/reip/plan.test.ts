import { describe, expect, it } from "vitest";
import type { SiteNetwork } from "../../../src/api/v1alpha1/site.js";
import { planVmNics, verifyVmNics } from "../../../src/reip/plan.js";
import type { NicPlan, ReportedNic, VmReipPlan } from "../../../src/reip/plan.js";
import { compileIpCustomization } from "../../../src/reip/rules.js";
import type { IpCustomization } from "../../../src/reip/rules.js";

const spec: IpCustomization = {
  rules: [
    // The VMbook's example (appendix B): 20.1.1.50 → 30.1.1.50/24, gateway 30.1.1.254.
    { fromCidr: "20.1.1.0/24", toCidr: "30.1.1.0/24", gateway: "30.1.1.254", dns: ["30.1.1.10", "30.1.1.11"] },
    { fromCidr: "20.2.0.0/16", toCidr: "30.2.0.0/16", gateway: "30.2.0.1" },
    { fromCidr: "20.3.3.16/28", toCidr: "30.3.3.32/28" },
  ],
  overrides: [{ vm: "db01", nics: [{ index: 1, ip: "30.9.9.9", prefixLength: 24, gateway: "30.9.9.1", dns: ["30.9.9.2"] }] }],
};
const recoveryNetworks: SiteNetwork[] = [{ name: "dmz", portgroup: "DMZ", cidr: "30.3.3.32/28", gateway: "30.3.3.33", dns: ["30.3.3.34"] }];
const protectedNetworks: SiteNetwork[] = [
  { name: "prod", portgroup: "Prod", cidr: "20.1.1.0/24", gateway: "20.1.1.254", dns: ["20.1.1.10"] },
  { name: "big", portgroup: "Big", cidr: "20.2.0.0/16", gateway: "20.2.0.1" },
];
const failover = compileIpCustomization(spec, "failover", recoveryNetworks);
const failback = compileIpCustomization(spec, "failback", protectedNetworks);

const nic = (index: number, ip: string, prefixLength?: number, gateway?: string, dns?: string[]): ReportedNic => ({ index, ip, prefixLength, gateway, dns });
const only = (p: VmReipPlan): NicPlan => {
  expect(p.nics).toHaveLength(1);
  return p.nics[0]!;
};

describe("re-IP planning on failover", () => {
  it("moves the VMbook's 20.1.1.50 to 30.1.1.50/24 with gateway 30.1.1.254", () => {
    const p = only(planVmNics(failover, "web01", [nic(0, "20.1.1.50", 24, "20.1.1.254", ["20.1.1.10"])]));
    expect(p).toEqual({
      index: 0,
      action: "reassign",
      source: "rule",
      rule: "rules[0] (20.1.1.0/24 → 30.1.1.0/24)",
      from: nic(0, "20.1.1.50", 24, "20.1.1.254", ["20.1.1.10"]),
      to: { ip: "30.1.1.50", prefixLength: 24, subnetMask: "255.255.255.0", gateway: "30.1.1.254", dns: ["30.1.1.10", "30.1.1.11"] },
    });
  });

  const table: [string, ReportedNic, Partial<NicPlan> & Record<string, unknown>][] = [
    ["a /16 rule keeps two octets of host part", nic(0, "20.2.200.7", 16), { action: "reassign", to: { ip: "30.2.200.7", prefixLength: 16, subnetMask: "255.255.0.0", gateway: "30.2.0.1" } }],
    [
      "a /28 rule maps into another /28 and takes gateway and DNS from the recovery Site's network",
      nic(0, "20.3.3.20", 28),
      { action: "reassign", to: { ip: "30.3.3.36", prefixLength: 28, subnetMask: "255.255.255.240", gateway: "30.3.3.33", dns: ["30.3.3.34"] } },
    ],
    ["the rule's prefix length wins over the guest's", nic(0, "20.2.1.5", 24), { action: "reassign", to: { ip: "30.2.1.5", prefixLength: 16, subnetMask: "255.255.0.0", gateway: "30.2.0.1" } }],
    ["a DHCP NIC is left alone", { index: 0, dhcp: true }, { action: "keep", reason: "Dhcp" }],
    ["an address just outside the /28 matches no rule and is reported", nic(0, "20.3.3.32", 28), { action: "keep", reason: "NoMatchingRule", message: "NIC 0: 20.3.3.32 matches no rule: left unchanged" }],
    ["an address already on a recovery network is kept (a re-run)", nic(0, "30.1.1.50", 24), { action: "keep", reason: "AlreadyAssigned" }],
    ["an IPv6 address is kept and says why", nic(0, "2001:db8::5", 64), { action: "keep", reason: "NotIpv4", message: "NIC 0: 2001:db8::5 is IPv6; re-IP changes IPv4 addresses only" }],
    ["a NIC without an address is kept", { index: 0 }, { action: "keep", reason: "NoAddress" }],
  ];
  it.each(table)("%s", (_name, reported, want) => {
    expect(only(planVmNics(failover, "vm", [reported]))).toMatchObject(want);
  });

  it("notes that no gateway is known when neither the rule nor the Site's networks name one", () => {
    const bare = compileIpCustomization({ rules: [{ fromCidr: "20.5.5.0/24", toCidr: "30.5.5.0/24" }] }, "failover");
    const p = only(planVmNics(bare, "vm", [nic(0, "20.5.5.5", 24)]));
    expect(p).toMatchObject({ action: "reassign", to: { ip: "30.5.5.5", prefixLength: 24 } });
    expect(p.action === "reassign" && "gateway" in p.to).toBe(false);
    expect(p.action === "reassign" && p.notes).toEqual([
      "no gateway known for 30.5.5.0/24: give the rule a gateway or the Site a network for it",
      "no DNS servers known for 30.5.5.0/24: the guest keeps its own",
    ]);
  });

  it("applies a VM's override before any rule, also to a NIC the guest did not report, and plans each NIC once in order", () => {
    const plan = planVmNics(failover, "db01", [nic(0, "20.1.1.60", 24), nic(1, "20.1.1.61", 24), { index: 2, dhcp: true }]);
    expect(plan.nics.map((n) => [n.index, n.action, n.action === "reassign" ? n.source : n.reason])).toEqual([
      [0, "reassign", "rule"],
      [1, "reassign", "override"],
      [2, "keep", "Dhcp"],
    ]);
    expect(plan.nics[1]).toMatchObject({ to: { ip: "30.9.9.9", prefixLength: 24, subnetMask: "255.255.255.0", gateway: "30.9.9.1", dns: ["30.9.9.2"] } });
    const unreported = planVmNics(failover, "db01", []);
    expect(unreported.nics).toEqual([{ index: 1, action: "reassign", source: "override", from: undefined, to: expect.objectContaining({ ip: "30.9.9.9" }) }]);
  });

  it("keeps an overridden NIC that already has its override address", () => {
    expect(only(planVmNics(failover, "db01", [nic(1, "30.9.9.9", 24)]))).toMatchObject({ action: "keep", reason: "AlreadyAssigned" });
  });

  it("applies another VM's rules, not db01's override", () => {
    expect(only(planVmNics(failover, "web01", [nic(1, "20.1.1.61", 24)]))).toMatchObject({ source: "rule", to: { ip: "30.1.1.61" } });
  });

  it("lets the first matching rule win when rules are only adjacent", () => {
    const adjacent = compileIpCustomization(
      { rules: [{ fromCidr: "20.1.1.0/25", toCidr: "30.1.1.0/25" }, { fromCidr: "20.1.1.128/25", toCidr: "40.1.1.128/25" }] },
      "failover",
    );
    const plan = planVmNics(adjacent, "vm", [nic(0, "20.1.1.127"), nic(1, "20.1.1.128")]);
    expect(plan.nics.map((n) => (n.action === "reassign" ? `${n.to.ip}/${n.to.prefixLength}` : n.reason))).toEqual(["30.1.1.127/25", "40.1.1.128/25"]);
  });
});

describe("re-IP planning on failback", () => {
  const ip = (p: VmReipPlan): string[] => p.nics.map((n) => (n.action === "reassign" ? `${n.to.ip}/${n.to.prefixLength} gw ${n.to.gateway ?? "-"} dns ${(n.to.dns ?? []).join(",") || "-"}` : n.reason));

  const roundTrips: [string, ReportedNic][] = [
    ["the VMbook's /24 address", nic(0, "20.1.1.50", 24, "20.1.1.254", ["20.1.1.10"])],
    ["a /16 address", nic(0, "20.2.9.9", 16, "20.2.0.1")],
    ["a /28 address", nic(0, "20.3.3.29", 28, "20.3.3.17", ["20.1.1.10"])],
  ];
  it.each(roundTrips)("returns %s to exactly what the guest had, from the recorded failover plan", (_name, original) => {
    const out = planVmNics(failover, "vm", [original]);
    const moved = only(out);
    if (moved.action !== "reassign") throw new Error("not moved");
    const after = nic(0, moved.to.ip, moved.to.prefixLength, moved.to.gateway, moved.to.dns ? [...moved.to.dns] : undefined);
    const back = only(planVmNics(failback, "vm", [after], out));
    const want = JSON.parse(JSON.stringify({ ip: original.ip, prefixLength: original.prefixLength, gateway: original.gateway, dns: original.dns }));
    expect(back).toMatchObject({ action: "reassign", source: "recorded" });
    expect(back.action === "reassign" && { ...back.to, subnetMask: undefined }).toEqual({ ...want, subnetMask: undefined });
  });

  it.each([
    ["20.1.1.50", 24, "30.1.1.50/24", "20.1.1.50/24 gw 20.1.1.254 dns 20.1.1.10"],
    ["20.2.77.1", 16, "30.2.77.1/16", "20.2.77.1/16 gw 20.2.0.1 dns -"],
    ["20.3.3.31", 28, "30.3.3.47/28", "20.3.3.31/28 gw - dns -"],
  ] as const)("without a record, maps %s/%i forward to %s and the reversed rules bring it back with the protected Site's gateway", (addr, len, fwd, backWant) => {
    const out = only(planVmNics(failover, "vm", [nic(0, addr, len)]));
    if (out.action !== "reassign") throw new Error("not moved");
    expect(`${out.to.ip}/${out.to.prefixLength}`).toBe(fwd);
    expect(ip(planVmNics(failback, "vm", [nic(0, out.to.ip, out.to.prefixLength)]))).toEqual([backWant]);
  });

  it("uses the rules, not the record, when the NIC's address changed since the failover", () => {
    const out = planVmNics(failover, "vm", [nic(0, "20.1.1.50", 24, "20.1.1.1")]);
    expect(ip(planVmNics(failback, "vm", [nic(0, "30.1.1.99", 24)], out))).toEqual(["20.1.1.99/24 gw 20.1.1.254 dns 20.1.1.10"]);
  });

  it("returns an overridden NIC to its recorded address, and leaves it alone when nothing was recorded", () => {
    const out = planVmNics(failover, "db01", [nic(1, "20.1.1.61", 24, "20.1.1.254")]);
    expect(ip(planVmNics(failback, "db01", [nic(1, "30.9.9.9", 24)], out))).toEqual(["20.1.1.61/24 gw 20.1.1.254 dns -"]);
    expect(ip(planVmNics(failback, "db01", [nic(1, "30.9.9.9", 24)]))).toEqual(["NoMatchingRule"]);
  });

  it("keeps a NIC that is back on the protected network already", () => {
    expect(ip(planVmNics(failback, "vm", [nic(0, "20.1.1.50", 24)]))).toEqual(["AlreadyAssigned"]);
  });

  it("ignores a recorded plan of the wrong direction", () => {
    const out = planVmNics(failover, "vm", [nic(0, "20.1.1.50", 24, "20.1.1.7")]);
    const wrong: VmReipPlan = { ...out, direction: "failback" };
    expect(ip(planVmNics(failback, "vm", [nic(0, "30.1.1.50", 24)], wrong))).toEqual(["20.1.1.50/24 gw 20.1.1.254 dns 20.1.1.10"]);
  });
});

describe("re-IP verification after boot", () => {
  const plan = planVmNics(failover, "web01", [nic(0, "20.1.1.50", 24), { index: 1, dhcp: true }]);

  it.each([
    ["the intended address", ["30.1.1.50"], undefined],
    ["the intended address with its prefix, among others", ["fe80::1/64", "30.1.1.50/24"], "30.1.1.254"],
  ])("is ok when the guest reports %s", (_name, addresses, gateway) => {
    const v = verifyVmNics(plan, [{ index: 0, addresses, gateway }]);
    expect(v).toMatchObject({ vm: "web01", ok: true, message: "" });
    expect(v.nics).toHaveLength(1);
  });

  it.each([
    ["still the old address", [{ index: 0, addresses: ["20.1.1.50/24"] }], "NIC 0: the guest reports 20.1.1.50/24, expected 30.1.1.50/24"],
    ["the address with another prefix", [{ index: 0, addresses: ["30.1.1.50/16"] }], "NIC 0: the guest reports 30.1.1.50/16, expected 30.1.1.50/24"],
    ["only IPv6", [{ index: 0, addresses: ["fe80::1/64"] }], "NIC 0: the guest reports no IPv4 address, expected 30.1.1.50/24"],
    ["no such NIC", [], "NIC 0: the guest reports no such NIC, expected 30.1.1.50/24"],
    ["another gateway", [{ index: 0, addresses: ["30.1.1.50/24"], gateway: "20.1.1.254" }], "NIC 0: the guest reports gateway 20.1.1.254, expected 30.1.1.254"],
  ])("is a mismatch naming what was observed when the guest reports %s", (_name, observed, message) => {
    const v = verifyVmNics(plan, observed);
    expect(v.ok).toBe(false);
    expect(v.message).toBe(message);
  });
});
