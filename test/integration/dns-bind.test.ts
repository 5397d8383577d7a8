import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planAddressChange } from "../../src/dns/client.js";
import type { DnsClient, HostRecords } from "../../src/dns/client.js";
import { resolveDnsConfig } from "../../src/dns/config.js";
import type { DnsSettings } from "../../src/dns/config.js";
import { classify, DnsResponseError } from "../../src/dns/errors.js";
import { updateMessage } from "../../src/dns/messages.js";
import { createDnsClient } from "../../src/dns/rfc2136.js";
import { signRequest, verifyResponse } from "../../src/dns/tsig.js";
import { exchangeTcp } from "../../src/dns/transport.js";
import { decodeMessage, encodeMessage, Rcode } from "../../src/dns/wire.js";
import type { ExternalMetrics } from "../../src/metrics/external.js";
import { ConflictError, OperatorError, PermanentError, TransientError } from "../../src/runtime/errors.js";
import { Bind } from "../harness/bind.js";
import type { BindKey } from "../harness/bind.js";

const ZONE = "site2.vmbook.lab";
const REVERSE = [{ zone: "1.1.30.in-addr.arpa" }, { zone: "1.1.20.in-addr.arpa" }, { zone: "2.30.in-addr.arpa" }, { zone: "64/28.1.1.30.in-addr.arpa", cidr: "30.1.1.64/28" }];

/** Counts the client's exchanges by operation (query / update), as the metrics see them. */
class CountingMetrics implements ExternalMetrics {
  readonly counts = new Map<string, number>();
  observe(system: string, operation: string, outcome: string): void {
    const k = `${system} ${operation} ${outcome}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }
  updates(): number {
    return this.counts.get("dns update ok") ?? 0;
  }
}

let bind: Bind;

function client(o: { key?: BindKey; secret?: string; reverseZones?: DnsSettings["reverseZones"]; timeoutMs?: number; metrics?: ExternalMetrics; port?: number } = {}): DnsClient {
  const key = o.key ?? bind.key;
  const settings: DnsSettings = {
    server: "127.0.0.1",
    port: o.port ?? bind.port,
    zone: ZONE,
    reverseZones: o.reverseZones ?? REVERSE,
    ttl: 600,
    tsig: { keyName: key.name, algorithm: key.algorithm, secretRef: { name: "dns-key" } },
  };
  return createDnsClient(resolveDnsConfig(settings, o.secret ?? key.secret, { timeoutMs: o.timeoutMs ?? 5_000 }), { metrics: o.metrics });
}

const signal = (): AbortSignal => new AbortController().signal;

async function failure(p: Promise<unknown>): Promise<OperatorError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(OperatorError);
    return err as OperatorError;
  }
  throw new Error("expected the call to fail");
}

beforeAll(async () => {
  bind = await Bind.start({
    zones: [
      { name: ZONE, records: ["app01 300 IN A 20.1.1.50", "idem01 300 IN A 20.1.1.51", "back01 300 IN A 20.1.1.52", "race01 300 IN A 20.1.1.53"] },
      { name: "1.1.20.in-addr.arpa", records: ["50 IN PTR app01.site2.vmbook.lab.", "52 IN PTR back01.site2.vmbook.lab."] },
      // 30.1.1.50 was someone else's; 30.1.1.64/28 is delegated the RFC 2317 way.
      { name: "1.1.30.in-addr.arpa", records: ["50 IN PTR stale.site2.vmbook.lab.", ...Array.from({ length: 16 }, (_, i) => `${64 + i} IN CNAME ${64 + i}.64/28.1.1.30.in-addr.arpa.`)] },
      { name: "2.30.in-addr.arpa" },
      { name: "64/28.1.1.30.in-addr.arpa" },
    ],
  });
});

afterAll(async () => {
  await bind?.close();
});

describe("DNS updates against a real BIND", () => {
  it("reads a host's A record and the PTR records of its old and new addresses", async () => {
    const before = await client().observeHost("app01", ["30.1.1.50"], signal());
    expect(before).toEqual({
      name: "app01.site2.vmbook.lab",
      a: { zone: ZONE, owner: "app01.site2.vmbook.lab", type: "A", ttl: 300, values: ["20.1.1.50"] },
      ptr: [
        { zone: "1.1.20.in-addr.arpa", owner: "50.1.1.20.in-addr.arpa", type: "PTR", ttl: 300, values: ["app01.site2.vmbook.lab"], address: "20.1.1.50" },
        { zone: "1.1.30.in-addr.arpa", owner: "50.1.1.30.in-addr.arpa", type: "PTR", ttl: 300, values: ["stale.site2.vmbook.lab"], address: "30.1.1.50" },
      ],
      unmanaged: [],
    });
  });

  it("replaces the A record and both PTR records with one UPDATE per zone, and dig sees the new records", async () => {
    const metrics = new CountingMetrics();
    const dns = client({ metrics });
    const updatesBefore = await bind.updatesReceived();
    const before = await dns.observeHost("app01", ["30.1.1.50"], signal());
    const result = await dns.ensureHost(planAddressChange(before, ["30.1.1.50"], 600), signal());

    expect(result.updates).toBe(3);
    expect(result.changed.map((r) => `${r.type} ${r.owner}`).sort()).toEqual(["A app01.site2.vmbook.lab", "PTR 50.1.1.20.in-addr.arpa", "PTR 50.1.1.30.in-addr.arpa"]);
    expect(metrics.updates()).toBe(3);
    expect(await bind.updatesReceived()).toBe(updatesBefore + 3);
    expect(await bind.dig("app01.site2.vmbook.lab", "A")).toEqual(["30.1.1.50"]);
    expect(await bind.dig("50.1.1.30.in-addr.arpa", "PTR")).toEqual(["app01.site2.vmbook.lab."]);
    expect(await bind.dig("50.1.1.20.in-addr.arpa", "PTR")).toEqual([]);
  });

  it("sends no UPDATE when the records already are what is asked", async () => {
    const dns = client();
    const before = await dns.observeHost("idem01", ["30.1.1.51"], signal());
    const desired = planAddressChange(before, ["30.1.1.51"], 600);
    expect((await dns.ensureHost(desired, signal())).updates).toBe(2); // A, and the new PTR (20.1.1.51 had none)

    const metrics = new CountingMetrics();
    const again = client({ metrics });
    const updatesBefore = await bind.updatesReceived();
    expect(await again.ensureHost(desired, signal())).toEqual({ changed: [], updates: 0 });
    expect(await again.ensureHost(planAddressChange(await again.observeHost("idem01", ["30.1.1.51"], signal()), ["30.1.1.51"], 600), signal())).toEqual({ changed: [], updates: 0 });
    expect(metrics.updates()).toBe(0);
    expect(metrics.counts.get("dns query ok")).toBeGreaterThan(0);
    expect(await bind.updatesReceived()).toBe(updatesBefore);
  });

  it("restores on failback exactly the records it found before, including a PTR that named another host", async () => {
    const dns = client();
    const before = await dns.observeHost("back01", ["30.1.1.52"], signal());
    await dns.ensureHost(planAddressChange(before, ["30.1.1.52"], 600), signal());
    expect(await bind.dig("back01.site2.vmbook.lab", "A")).toEqual(["30.1.1.52"]);

    // What a run persisted in its status goes through JSON.
    const persisted = JSON.parse(JSON.stringify(before)) as HostRecords;
    const result = await dns.ensureHost(persisted, signal());
    expect(result.updates).toBe(3);
    expect(await bind.dig("back01.site2.vmbook.lab", "A")).toEqual(["20.1.1.52"]);
    expect(await bind.dig("52.1.1.20.in-addr.arpa", "PTR")).toEqual(["back01.site2.vmbook.lab."]);
    expect(await bind.dig("52.1.1.30.in-addr.arpa", "PTR")).toEqual([]);
    expect((await dns.ensureHost(persisted, signal())).updates).toBe(0);
  });

  it("writes PTR records in a /16 reverse zone and in an RFC 2317 classless zone, and creates a host that did not exist", async () => {
    const dns = client();
    const before = await dns.observeHost("new01", ["30.2.5.7", "30.1.1.70"], signal());
    expect(before.a.values).toEqual([]);
    expect(before.ptr.map((p) => `${p.zone} ${p.owner}`)).toEqual(["64/28.1.1.30.in-addr.arpa 70.64/28.1.1.30.in-addr.arpa", "2.30.in-addr.arpa 7.5.2.30.in-addr.arpa"]);
    expect((await dns.ensureHost(planAddressChange(before, ["30.2.5.7", "30.1.1.70"], 600), signal())).updates).toBe(3);
    expect(await bind.dig("new01.site2.vmbook.lab", "A")).toEqual(["30.1.1.70", "30.2.5.7"]);
    expect(await bind.dig("7.5.2.30.in-addr.arpa", "PTR")).toEqual(["new01.site2.vmbook.lab."]);
    expect(await bind.dig("70.64/28.1.1.30.in-addr.arpa", "PTR")).toEqual(["new01.site2.vmbook.lab."]);
    // The parent zone's alias, which resolvers follow, is left as it was.
    expect(await bind.dig("70.1.1.30.in-addr.arpa", "PTR")).toEqual(["70.64/28.1.1.30.in-addr.arpa."]);

    // Failback to "before": the host had no records at all, so none remain.
    expect((await dns.ensureHost(before, signal())).updates).toBe(3);
    expect(await bind.dig("new01.site2.vmbook.lab", "A")).toEqual([]);
    expect(await bind.dig("7.5.2.30.in-addr.arpa", "PTR")).toEqual([]);
    expect(await bind.dig("70.64/28.1.1.30.in-addr.arpa", "PTR")).toEqual([]);
  });

  it("reports an address outside every configured reverse zone as unmanaged and leaves its PTR alone", async () => {
    const dns = client();
    const before = await dns.observeHost("far01", ["30.9.9.9"], signal());
    expect(before.unmanaged).toEqual(["30.9.9.9"]);
    expect(before.ptr).toEqual([]);
    expect((await dns.ensureHost(planAddressChange(before, ["30.9.9.9"], 600), signal())).changed.map((r) => r.type)).toEqual(["A"]);
  });

  it("refuses malformed addresses and names before sending anything", async () => {
    const metrics = new CountingMetrics();
    const dns = client({ metrics });
    expect((await failure(dns.observeHost("app01", ["30.1.1.300"], signal()))).message).toBe("host app01.site2.vmbook.lab: 30.1.1.300 is not an IPv4 address");
    expect((await failure(dns.observeHost("app01.other.lab", [], signal()))).reason).toBe("InvalidDnsConfig");
    const before = await dns.observeHost("app01", [], signal());
    const err = await failure(dns.ensureHost({ ...before, a: { ...before.a, values: ["not-an-ip"] } }, signal()));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe("A of app01.site2.vmbook.lab: not-an-ip is not an IPv4 address");
    expect([...metrics.counts.keys()]).toEqual(["dns query ok"]);
  });

  it("refuses a PTR name that is an alias (RFC 2317) when the classless zone is not configured, naming what to configure", async () => {
    const err = await failure(client({ reverseZones: [{ zone: "1.1.30.in-addr.arpa" }] }).observeHost("x01", ["30.1.1.75"], signal()));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.reason).toBe("InvalidDnsConfig");
    expect(err.message).toContain("alias (CNAME) of 75.64/28.1.1.30.in-addr.arpa");
  });

  it("signs with hmac-sha512 keys too", async () => {
    const dns = client({ key: bind.key512 });
    const before = await dns.observeHost("sha512", ["30.1.1.99"], signal());
    expect((await dns.ensureHost(planAddressChange(before, ["30.1.1.99"], 600), signal())).updates).toBe(2);
    expect(await bind.dig("sha512.site2.vmbook.lab", "A")).toEqual(["30.1.1.99"]);
  });

  it("proves each zone is served and the key accepted, with the zones' serials", async () => {
    const serials = await client().probe(signal());
    expect(serials.map((s) => s.zone)).toEqual([ZONE, ...REVERSE.map((r) => r.zone)]);
    expect(serials.every((s) => s.serial >= 1)).toBe(true);
  });

  it("is told when a zone is not the server's", async () => {
    const err = await failure(client({ reverseZones: [{ zone: "9.9.30.in-addr.arpa" }] }).probe(signal()));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.reason).toBe("DnsNotAuthoritative");
    expect(err.message).toContain("9.9.30.in-addr.arpa");
  });
});

describe("DNS failures against a real BIND", () => {
  it("refuses a wrong secret with a Permanent error that names the key and never the secret, and changes nothing", async () => {
    const wrong = Buffer.alloc(32, 7).toString("base64");
    const updatesBefore = await bind.updatesReceived();
    const err = await failure(client({ secret: wrong }).observeHost("app01", ["30.1.1.50"], signal()));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.reason).toBe("DnsKeyRejected");
    expect(err.message).toMatch(/BADSIG.*rejected the signature of key vmdr-test \(the secret differs/);
    expect(err.message).not.toContain(wrong);
    expect(err.message).not.toContain(bind.key.secret);
    expect(await bind.updatesReceived()).toBe(updatesBefore);
  });

  it("refuses a key the server does not know with a Permanent error", async () => {
    const err = await failure(client({ key: { ...bind.key, name: "no-such-key" } }).observeHost("app01", [], signal()));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.reason).toBe("DnsKeyRejected");
    expect(err.message).toContain("does not know TSIG key no-such-key");
  });

  it("refuses an update by a key the zone does not allow with a Permanent error saying what to allow", async () => {
    const dns = client({ key: bind.readOnlyKey });
    const before = await dns.observeHost("app01", ["30.1.1.88"], signal());
    const err = await failure(dns.ensureHost(planAddressChange(before, ["30.1.1.88"], 600), signal()));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.reason).toBe("DnsUpdateRefused");
    expect(err.message).toContain("does not allow key vmdr-reader to change site2.vmbook.lab (allow it in the zone's update-policy");
    expect(await bind.dig("app01.site2.vmbook.lab", "A")).not.toContain("30.1.1.88");
  });

  it("has the server refuse an UPDATE whose prerequisites no longer hold, classified as a Conflict", async () => {
    const dns = client();
    const before = await dns.observeHost("race01", ["30.1.1.53"], signal());
    // Someone else changes the record after we read it.
    const other = await dns.observeHost("race01", ["30.1.1.54"], signal());
    await dns.ensureHost(planAddressChange(other, ["30.1.1.54"], 600), signal());
    // Our UPDATE, built from the stale read, must not overwrite theirs.
    const key = resolveDnsConfig({ server: "127.0.0.1", zone: ZONE, tsig: { keyName: bind.key.name, secretRef: { name: "k" } } }, bind.key.secret).key;
    const want = planAddressChange(before, ["30.1.1.53"], 600).a;
    const signed = signRequest(encodeMessage(updateMessage(ZONE, [{ have: before.a, want }])), key, Date.now() / 1000);
    const raw = await exchangeTcp("127.0.0.1", bind.port, signed.wire, { timeoutMs: 5_000 });
    const answer = decodeMessage(raw);
    expect(answer.header.rcode).toBe(Rcode.NXRRSET);
    expect(verifyResponse(raw, answer, signed, key, Date.now() / 1000).kind).toBe("verified");
    const c = classify(new DnsResponseError({ rcode: answer.header.rcode, request: `UPDATE ${ZONE}`, signed: true }), "update A", { server: "s", key: "k" });
    expect(c).toBeInstanceOf(ConflictError);
    expect(c.reason).toBe("DnsRecordsChanged");
    expect(await bind.dig("race01.site2.vmbook.lab", "A")).toEqual(["30.1.1.54"]);
  });

  it("updates from the records observeHost just read without reading them again, and still refuses to overwrite a change made in between", async () => {
    const metrics = new CountingMetrics();
    const dns = client({ metrics });
    const before = await dns.observeHost("once01", ["30.1.1.60"], signal());
    expect(metrics.counts.get("dns query ok")).toBe(2); // its A record, the new address's PTR
    const result = await dns.ensureHost(planAddressChange(before, ["30.1.1.60"], 600), signal(), before);
    expect(result.updates).toBe(2);
    expect(metrics.counts.get("dns query ok")).toBe(2);
    expect(await bind.dig("once01.site2.vmbook.lab", "A")).toEqual(["30.1.1.60"]);
    expect(await bind.dig("60.1.1.30.in-addr.arpa", "PTR")).toEqual(["once01.site2.vmbook.lab."]);

    // A read that someone else's change has made stale: the UPDATE's prerequisites fail.
    const stale = await dns.observeHost("once01", ["30.1.1.61"], signal());
    await client().ensureHost(planAddressChange(await dns.observeHost("once01", ["30.1.1.62"], signal()), ["30.1.1.62"], 600), signal());
    await expect(dns.ensureHost(planAddressChange(stale, ["30.1.1.61"], 600), signal(), stale)).rejects.toBeInstanceOf(ConflictError);
    expect(await bind.dig("once01.site2.vmbook.lab", "A")).toEqual(["30.1.1.62"]);
  });
});

describe("an unavailable DNS server", () => {
  let down: Bind;
  beforeAll(async () => {
    down = await Bind.start({ zones: [{ name: ZONE }] });
  });
  afterAll(async () => {
    await down?.close();
  });

  it("is a Transient timeout while the server is frozen, and works again once it runs", async () => {
    const dns = createDnsClient(
      resolveDnsConfig({ server: "127.0.0.1", port: down.port, zone: ZONE, tsig: { keyName: down.key.name, secretRef: { name: "k" } } }, down.key.secret, { timeoutMs: 500 }),
    );
    await down.pause();
    try {
      const err = await failure(dns.observeHost("app01", [], signal()));
      expect(err).toBeInstanceOf(TransientError);
      expect(err.reason).toBe("DnsTimeout");
      expect(err.message).toContain(`DNS server 127.0.0.1:${down.port}: no answer within 500ms`);
    } finally {
      down.resume();
    }
    expect((await dns.observeHost("app01", [], signal())).a.values).toEqual([]);
  });

  it("is a Transient error once the server is stopped", async () => {
    await down.stop();
    const dns = createDnsClient(
      resolveDnsConfig({ server: "127.0.0.1", port: down.port, zone: ZONE, tsig: { keyName: down.key.name, secretRef: { name: "k" } } }, down.key.secret, { timeoutMs: 2_000 }),
    );
    const err = await failure(dns.observeHost("app01", [], signal()));
    expect(err).toBeInstanceOf(TransientError);
    expect(err.reason).toBe("DnsUnreachable");
    expect(err.message).toContain("ECONNREFUSED");
  });

  it("stops waiting when the caller aborts", async () => {
    const dns = createDnsClient(
      resolveDnsConfig({ server: "127.0.0.1", port: down.port, zone: ZONE, tsig: { keyName: down.key.name, secretRef: { name: "k" } } }, down.key.secret),
    );
    const ac = new AbortController();
    ac.abort(new Error("reconcile cancelled"));
    const err = await failure(dns.observeHost("app01", [], ac.signal));
    expect(err).toBeInstanceOf(TransientError);
    expect(err.reason).toBe("Aborted");
  });
});
