import { describe, expect, it } from "vitest";
import { PermanentError } from "../../../src/runtime/errors.js";
import { compileIpCustomization, INVALID_IP_CUSTOMIZATION, validateIpCustomization } from "../../../src/reip/rules.js";
import type { IpCustomization } from "../../../src/reip/rules.js";
import { formatIpv4, isHostOf, parseCidr, parseIpv4, subnetMask, translate } from "../../../src/reip/ipv4.js";

describe("IPv4 parsing", () => {
  it.each([
    ["20.1.1.50", 0x14010132],
    ["0.0.0.0", 0],
    ["255.255.255.255", 0xffffffff],
  ])("parses %s", (s, n) => {
    expect(parseIpv4(s)).toBe(n);
    expect(formatIpv4(n)).toBe(s);
  });

  it.each(["20.1.1", "20.1.1.256", "020.1.1.1", "20.1.1.1.1", "20.1.1.-1", "a.b.c.d", "", " 20.1.1.1", "2001:db8::1"])(
    "refuses %j",
    (s) => expect(parseIpv4(s)).toBeUndefined(),
  );

  it.each([
    [24, "255.255.255.0"],
    [16, "255.255.0.0"],
    [28, "255.255.255.240"],
    [32, "255.255.255.255"],
    [1, "128.0.0.0"],
  ])("gives /%i the subnet mask %s", (len, mask) => expect(subnetMask(len)).toBe(mask));

  it("keeps the host part when translating between networks of one length", () => {
    const from = parseCidr("20.1.0.0/16");
    const to = parseCidr("30.7.0.0/16");
    if (!from.ok || !to.ok) throw new Error("parse");
    expect(formatIpv4(translate(parseIpv4("20.1.200.9")!, from.net, to.net))).toBe("30.7.200.9");
  });

  it.each([
    ["30.1.1.0/24", "30.1.1.0", false],
    ["30.1.1.0/24", "30.1.1.255", false],
    ["30.1.1.0/24", "30.1.1.254", true],
    ["30.1.1.0/24", "30.1.2.1", false],
    ["30.1.1.0/31", "30.1.1.0", true],
    ["30.1.1.7/32", "30.1.1.7", true],
  ])("in %s, %s is a host address: %s", (cidr, ip, want) => {
    const p = parseCidr(cidr);
    if (!p.ok) throw new Error(p.problem);
    expect(isHostOf(p.net, parseIpv4(ip)!)).toBe(want);
  });
});

describe("re-IP rule validation", () => {
  const rule = (fromCidr: string, toCidr: string, gateway?: string, dns?: string[]) => ({ fromCidr, toCidr, gateway, dns });
  const problemsOf = (spec: IpCustomization): string[] => validateIpCustomization(spec).map((p) => `${p.field}: ${p.message}`);

  it("accepts the VMbook's example and rules of other lengths", () => {
    expect(
      problemsOf({
        rules: [
          rule("20.1.1.0/24", "30.1.1.0/24", "30.1.1.254", ["30.1.1.10"]),
          rule("20.2.0.0/16", "30.2.0.0/16", "30.2.255.254"),
          rule("20.3.3.16/28", "30.3.3.32/28", "30.3.3.33"),
        ],
        overrides: [{ vm: "db01", nics: [{ index: 0, ip: "30.9.9.9", prefixLength: 24, gateway: "30.9.9.1", dns: ["30.1.1.10"] }] }],
      }),
    ).toEqual([]);
    expect(validateIpCustomization(undefined)).toEqual([]);
  });

  const table: [string, IpCustomization, RegExp][] = [
    ["a malformed fromCidr", { rules: [rule("20.1.1.0/33", "30.1.1.0/24")] }, /rules\[0\]\.fromCidr: 20\.1\.1\.0\/33 is not an IPv4 CIDR/],
    ["a fromCidr with host bits", { rules: [rule("20.1.1.5/24", "30.1.1.0/24")] }, /rules\[0\]\.fromCidr: 20\.1\.1\.5\/24 has host bits set; the network is 20\.1\.1\.0\/24/],
    ["an IPv6 toCidr", { rules: [rule("20.1.1.0/24", "2001:db8::/64")] }, /rules\[0\]\.toCidr: 2001:db8::\/64 is IPv6; re-IP rules map IPv4 networks only/],
    [
      "different prefix lengths",
      { rules: [rule("20.1.1.0/24", "30.1.0.0/16")] },
      /rules\[0\]: fromCidr 20\.1\.1\.0\/24 and toCidr 30\.1\.0\.0\/16 have different prefix lengths; a rule keeps each address's host part/,
    ],
    ["a gateway outside the toCidr", { rules: [rule("20.1.1.0/24", "30.1.1.0/24", "20.1.1.254")] }, /rules\[0\]\.gateway: gateway 20\.1\.1\.254 is not a host address inside toCidr 30\.1\.1\.0\/24/],
    ["a gateway on the broadcast address", { rules: [rule("20.1.1.0/24", "30.1.1.0/24", "30.1.1.255")] }, /gateway 30\.1\.1\.255 is not a host address/],
    ["a malformed DNS server", { rules: [rule("20.1.1.0/24", "30.1.1.0/24", undefined, ["30.1.1.x"])] }, /rules\[0\]\.dns\[0\]: 30\.1\.1\.x is not an IPv4 address/],
    [
      "overlapping fromCidrs",
      { rules: [rule("20.1.0.0/16", "30.1.0.0/16"), rule("20.1.5.0/24", "40.1.5.0/24")] },
      /rules\[0\] \(20\.1\.0\.0\/16 → 30\.1\.0\.0\/16\) and rules\[1\] \(20\.1\.5\.0\/24 → 40\.1\.5\.0\/24\): their fromCidrs overlap/,
    ],
    [
      "identical fromCidrs",
      { rules: [rule("20.1.1.0/24", "30.1.1.0/24"), rule("20.1.1.0/24", "40.1.1.0/24")] },
      /rules\[0\] .* and rules\[1\] .*: their fromCidrs overlap/,
    ],
    [
      "overlapping toCidrs (two protected networks onto one)",
      { rules: [rule("20.1.1.0/24", "30.1.1.0/24"), rule("20.2.2.0/24", "30.1.1.0/24")] },
      /rules\[0\] \(20\.1\.1\.0\/24 → 30\.1\.1\.0\/24\) and rules\[1\] \(20\.2\.2\.0\/24 → 30\.1\.1\.0\/24\): their toCidrs overlap, so two protected networks would land on one/,
    ],
    [
      "a toCidr that is another rule's fromCidr",
      { rules: [rule("20.1.1.0/24", "30.1.1.0/24"), rule("30.1.1.0/28", "40.1.1.0/28")] },
      /the toCidr of the first overlaps the fromCidr of the second; a recovery network cannot also be a protected network/,
    ],
    ["a rule onto its own network", { rules: [rule("20.1.1.0/24", "20.1.1.0/24")] }, /rules\[0\] .*: its toCidr overlaps its own fromCidr/],
    ["an IPv6 override", { overrides: [{ vm: "a", nics: [{ index: 0, ip: "2001:db8::5", prefixLength: 64 }] }] }, /overrides\[0\]\.nics\[0\]\.ip: 2001:db8::5 is IPv6/],
    ["an override prefix beyond /32", { overrides: [{ vm: "a", nics: [{ index: 0, ip: "30.1.1.5", prefixLength: 64 }] }] }, /nics\[0\]\.prefixLength: 64 is not an IPv4 prefix length/],
    ["an override on a network address", { overrides: [{ vm: "a", nics: [{ index: 0, ip: "30.1.1.0", prefixLength: 24 }] }] }, /30\.1\.1\.0 is the network or broadcast address of 30\.1\.1\.0\/24/],
    [
      "an override gateway outside the NIC's subnet",
      { overrides: [{ vm: "a", nics: [{ index: 0, ip: "30.1.1.5", prefixLength: 28, gateway: "30.1.1.30" }] }] },
      /nics\[0\]\.gateway: gateway 30\.1\.1\.30 is not a host address inside the NIC's subnet 30\.1\.1\.0\/28/,
    ],
    [
      "a VM with two override entries",
      { overrides: [{ vm: "a", nics: [{ index: 0, ip: "30.1.1.5", prefixLength: 24 }] }, { vm: "a", nics: [{ index: 1, ip: "30.1.1.6", prefixLength: 24 }] }] },
      /overrides\[1\]\.vm: VM a has more than one override entry/,
    ],
    [
      "a NIC listed twice",
      { overrides: [{ vm: "a", nics: [{ index: 0, ip: "30.1.1.5", prefixLength: 24 }, { index: 0, ip: "30.1.1.6", prefixLength: 24 }] }] },
      /nics\[1\]\.index: NIC 0 of VM a is listed twice/,
    ],
  ];
  it.each(table)("rejects %s, naming the field", (_name, spec, want) => {
    const problems = problemsOf(spec);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join("\n")).toMatch(want);
  });

  it("reports every problem at once rather than the first", () => {
    const problems = problemsOf({ rules: [rule("20.1.1.5/24", "30.1.1.0/24"), rule("20.2.2.0/24", "30.2.0.0/16"), rule("20.3.3.0/24", "30.3.3.0/24", "1.2.3.4")] });
    expect(problems).toHaveLength(3);
  });

  it("refuses to compile invalid rules with a PermanentError that lists the problems", () => {
    const spec = { rules: [rule("20.1.1.0/24", "30.1.1.0/24"), rule("20.1.1.128/25", "40.1.1.128/25")] };
    let err: unknown;
    try {
      compileIpCustomization(spec, "failover");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).reason).toBe(INVALID_IP_CUSTOMIZATION);
    expect((err as PermanentError).message).toMatch(/^invalid IP customization: ipCustomization\.rules: rules\[0\] .* and rules\[1\] .*: their fromCidrs overlap/);
  });

  it("reverses the rules for failback and drops the recovery-side gateway, DNS and overrides", () => {
    const spec: IpCustomization = {
      rules: [rule("20.1.1.0/24", "30.1.1.0/24", "30.1.1.254", ["30.1.1.10"])],
      overrides: [{ vm: "db01", nics: [{ index: 0, ip: "30.9.9.9", prefixLength: 24 }] }],
    };
    const back = compileIpCustomization(spec, "failback");
    expect(back.rules).toEqual([
      { label: "rules[0] (20.1.1.0/24 → 30.1.1.0/24) reversed", from: { base: parseIpv4("30.1.1.0"), prefixLength: 24 }, to: { base: parseIpv4("20.1.1.0"), prefixLength: 24 } },
    ]);
    expect(back.overrides.size).toBe(0);
    expect(compileIpCustomization(spec, "failover").overrides.get("db01")?.get(0)?.ip).toBe("30.9.9.9");
  });
});
