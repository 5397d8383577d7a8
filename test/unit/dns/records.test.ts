import { describe, expect, it } from "vitest";
import { planAddressChange } from "../../../src/dns/client.js";
import type { HostRecords } from "../../../src/dns/client.js";
import { resolveDnsConfig } from "../../../src/dns/config.js";
import type { DnsSettings } from "../../../src/dns/config.js";
import { classify, DnsAuthenticityError, DnsResponseError } from "../../../src/dns/errors.js";
import { locatePtr, qualify, resolveReverseZone, reverseName } from "../../../src/dns/names.js";
import type { ResolvedReverseZone } from "../../../src/dns/names.js";
import { DnsTransportError } from "../../../src/dns/transport.js";
import { Rcode, WireError } from "../../../src/dns/wire.js";
import { ConflictError, PermanentError, TransientError } from "../../../src/runtime/errors.js";

describe("host and reverse names", () => {
  it.each([
    ["app01", "app01.site2.vmbook.lab"],
    ["App01.Site2.vmbook.lab", "app01.site2.vmbook.lab"],
    ["app01.site2.vmbook.lab.", "app01.site2.vmbook.lab"],
    ["web.dept.site2.vmbook.lab", "web.dept.site2.vmbook.lab"],
    ["app01.other.lab", undefined],
    ["app01.other.lab.", undefined],
    ["app01.", undefined],
  ])("qualifies %s in site2.vmbook.lab as %s", (name, want) => expect(qualify(name, "site2.vmbook.lab")).toBe(want));

  it("writes the in-addr.arpa name of an address", () => {
    expect(reverseName("30.1.1.50")).toBe("50.1.1.30.in-addr.arpa");
  });

  const zones = (list: { zone: string; cidr?: string }[]): ResolvedReverseZone[] =>
    list.map((z) => {
      const r = resolveReverseZone(z);
      if (typeof r === "string") throw new Error(r);
      return r;
    });

  it.each([
    ["a /24 zone", [{ zone: "1.1.30.in-addr.arpa" }], "30.1.1.50", { zone: "1.1.30.in-addr.arpa", owner: "50.1.1.30.in-addr.arpa" }],
    ["a /16 zone", [{ zone: "1.30.in-addr.arpa" }], "30.1.7.50", { zone: "1.30.in-addr.arpa", owner: "50.7.1.30.in-addr.arpa" }],
    ["a /8 zone", [{ zone: "30.in-addr.arpa" }], "30.9.7.5", { zone: "30.in-addr.arpa", owner: "5.7.9.30.in-addr.arpa" }],
    ["the most specific of nested zones", [{ zone: "30.in-addr.arpa" }, { zone: "1.1.30.in-addr.arpa" }, { zone: "1.30.in-addr.arpa" }], "30.1.1.50", { zone: "1.1.30.in-addr.arpa", owner: "50.1.1.30.in-addr.arpa" }],
    [
      "an RFC 2317 /28 zone inside its /24",
      [{ zone: "1.1.30.in-addr.arpa" }, { zone: "48/28.1.1.30.in-addr.arpa", cidr: "30.1.1.48/28" }],
      "30.1.1.50",
      { zone: "48/28.1.1.30.in-addr.arpa", owner: "50.48/28.1.1.30.in-addr.arpa" },
    ],
    ["the /24 for an address outside the /28", [{ zone: "1.1.30.in-addr.arpa" }, { zone: "48/28.1.1.30.in-addr.arpa", cidr: "30.1.1.48/28" }], "30.1.1.64", { zone: "1.1.30.in-addr.arpa", owner: "64.1.1.30.in-addr.arpa" }],
    ["no zone for an address outside them all", [{ zone: "1.1.30.in-addr.arpa" }], "30.1.2.50", undefined],
  ])("places a PTR by %s", (_name, list, ip, want) => expect(locatePtr(ip, zones(list))).toEqual(want));

  it.each([
    [{ zone: "site2.vmbook.lab" }, /not under in-addr.arpa/],
    [{ zone: "300.1.30.in-addr.arpa" }, /not an octet-aligned in-addr.arpa zone/],
    [{ zone: "48/28.1.1.30.in-addr.arpa" }, /for a classless \(RFC 2317\) zone give its cidr/],
    [{ zone: "48/28.1.1.30.in-addr.arpa", cidr: "30.1.1.0/24" }, /must be an IPv4 network from \/25 to \/32/],
    [{ zone: "48/28.1.1.30.in-addr.arpa", cidr: "30.1.1.50/28" }, /has host bits set/],
    [{ zone: "48/28.1.2.30.in-addr.arpa", cidr: "30.1.1.48/28" }, /is not below 1.1.30.in-addr.arpa/],
  ])("refuses the reverse zone %j", (rz, want) => {
    const r = resolveReverseZone(rz);
    expect(typeof r).toBe("string");
    expect(r).toMatch(want);
  });
});

describe("DNS settings", () => {
  const settings: DnsSettings = { server: "ns1.site2.vmbook.lab", zone: "Site2.vmbook.lab.", reverseZones: [{ zone: "1.1.30.in-addr.arpa" }], tsig: { keyName: "vmdr", secretRef: { name: "dns-key" } } };
  const secret = Buffer.alloc(32, 5).toString("base64");

  it("fills in the defaults", () => {
    const c = resolveDnsConfig(settings, secret);
    expect(c).toMatchObject({ server: "ns1.site2.vmbook.lab", port: 53, zone: "site2.vmbook.lab", ttl: 300, timeoutMs: 5000 });
    expect(c.key.toJSON()).toEqual({ name: "vmdr", algorithm: "hmac-sha256" });
    expect(c.reverseZones).toHaveLength(1);
  });

  it("reports every problem at once as a PermanentError, without the secret", () => {
    const bad: DnsSettings = { ...settings, port: 70000, zone: "bad zone", reverseZones: [{ zone: "example.com" }], ttl: -1, tsig: { keyName: "vmdr", algorithm: "hmac-md5" as never, secretRef: { name: "x" } } };
    let err: unknown;
    try {
      resolveDnsConfig(bad, secret);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).reason).toBe("InvalidDnsConfig");
    const m = (err as Error).message;
    for (const part of ["port 70000", "zone bad zone", "ttl -1", "example.com is not under in-addr.arpa", "hmac-md5 is not supported"]) expect(m).toContain(part);
    expect(() => resolveDnsConfig(settings, "short")).toThrow(/tsig: the secret of TSIG key vmdr is not base64/);
  });
});

describe("planning an address change", () => {
  const before: HostRecords = {
    name: "app01.site2.vmbook.lab",
    a: { zone: "site2.vmbook.lab", owner: "app01.site2.vmbook.lab", type: "A", ttl: 300, values: ["20.1.1.50"] },
    ptr: [
      { zone: "1.1.20.in-addr.arpa", owner: "50.1.1.20.in-addr.arpa", type: "PTR", ttl: 300, values: ["app01.site2.vmbook.lab", "alias.site2.vmbook.lab"], address: "20.1.1.50" },
      { zone: "1.1.30.in-addr.arpa", owner: "50.1.1.30.in-addr.arpa", type: "PTR", ttl: 300, values: ["stale.site2.vmbook.lab"], address: "30.1.1.50" },
    ],
    unmanaged: [],
  };

  it("gives the name only the new address, points the new PTR at it alone and removes it from the old PTR", () => {
    const d = planAddressChange(before, ["30.1.1.50"], 600);
    expect(d.a).toMatchObject({ ttl: 600, values: ["30.1.1.50"] });
    expect(d.ptr.map((p) => [p.owner, p.values])).toEqual([
      ["50.1.1.20.in-addr.arpa", ["alias.site2.vmbook.lab"]],
      ["50.1.1.30.in-addr.arpa", ["app01.site2.vmbook.lab"]],
    ]);
  });

  it("refuses an address that was not observed", () => {
    expect(() => planAddressChange(before, ["30.1.1.99"], 600)).toThrow(/30.1.1.99 was not observed/);
  });

  it("accepts an address outside the reverse zones, which gets no PTR", () => {
    expect(planAddressChange({ ...before, unmanaged: ["40.1.1.1"] }, ["40.1.1.1"], 600).a.values).toEqual(["40.1.1.1"]);
  });
});

describe("DNS error classification", () => {
  const ctx = { server: "ns1:53", key: "vmdr", zone: "site2.vmbook.lab" };
  const resp = (rcode: number, tsigError?: number) => new DnsResponseError({ rcode, tsigError, request: "UPDATE site2.vmbook.lab", signed: tsigError === undefined });
  const table: [string, unknown, "update" | "query", string, string, RegExp?][] = [
    ["a refused connection", new DnsTransportError("unreachable", "DNS server ns1:53: ECONNREFUSED", "ECONNREFUSED"), "update", "Transient", "DnsUnreachable"],
    ["a timeout", new DnsTransportError("timeout", "DNS server ns1:53: no answer within 5000ms"), "update", "Transient", "DnsTimeout"],
    ["an abort", new DnsTransportError("aborted", "DNS server ns1:53: request aborted"), "query", "Transient", "Aborted"],
    ["SERVFAIL", resp(Rcode.SERVFAIL), "update", "Transient", "DnsServerFailure"],
    ["BADKEY", resp(Rcode.NOTAUTH, Rcode.BADKEY), "update", "Permanent", "DnsKeyRejected", /does not know TSIG key vmdr/],
    ["BADSIG", resp(Rcode.NOTAUTH, Rcode.BADSIG), "query", "Permanent", "DnsKeyRejected", /the secret differs/],
    ["BADTIME", resp(Rcode.NOTAUTH, Rcode.BADTIME), "update", "Permanent", "DnsClockSkew", /synchronise them \(NTP\)/],
    ["REFUSED on an update", resp(Rcode.REFUSED), "update", "Permanent", "DnsUpdateRefused", /allow it in the zone's update-policy or allow-update/],
    ["REFUSED on a query", resp(Rcode.REFUSED), "query", "Permanent", "DnsNotAuthoritative", /not one of its zones/],
    ["NOTAUTH", resp(Rcode.NOTAUTH), "update", "Permanent", "DnsNotAuthoritative", /not the primary server of site2.vmbook.lab/],
    ["NOTZONE", resp(Rcode.NOTZONE), "update", "Permanent", "DnsNotAuthoritative"],
    ["NOTIMP", resp(Rcode.NOTIMP), "update", "Permanent", "DnsUpdateNotSupported"],
    ["FORMERR", resp(Rcode.FORMERR), "update", "Permanent", "DnsRequestRejected"],
    ["NXRRSET", resp(Rcode.NXRRSET), "update", "Conflict", "DnsRecordsChanged"],
    ["YXRRSET", resp(Rcode.YXRRSET), "update", "Conflict", "DnsRecordsChanged"],
    ["a forged answer", new DnsAuthenticityError("UPDATE x", "the response's MAC does not match"), "update", "Permanent", "DnsResponseNotAuthentic", /uses the same secret for key vmdr/],
    ["a malformed answer", new WireError("header runs past the end"), "query", "Permanent", "DnsUnexpectedResponse"],
  ];
  it.each(table)("classifies %s", (_name, err, kind, cls, reason, message) => {
    const c = classify(err, "update A of app01", { ...ctx, kind });
    expect(c.class).toBe(cls);
    expect(c.reason).toBe(reason);
    expect(c.cause).toBe(err);
    expect(c.message.startsWith("update A of app01: ")).toBe(true);
    if (message) expect(c.message).toMatch(message);
  });

  it("passes classified errors through", () => {
    const e = new ConflictError("x", "Y");
    expect(classify(e, "w", ctx)).toBe(e);
    expect(classify(new Error("boom"), "w", ctx)).toBeInstanceOf(TransientError);
  });
});
