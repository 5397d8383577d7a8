import { describe, expect, it } from "vitest";
import { FUDGE_SECONDS, signRequest, TsigKey, verifyResponse } from "../../../src/dns/tsig.js";
import {
  aData, decodeMessage, decodeTsigData, encodeMessage, encodeName, encodeRecord, encodeTsigData, nameData, Opcode, readA, readNameData, RRClass, RRType, tsigVariables,
  WireError,
} from "../../../src/dns/wire.js";
import type { Message } from "../../../src/dns/wire.js";
import { updateMessage } from "../../../src/dns/messages.js";

const SECRET = Buffer.alloc(32, 1).toString("base64");
const key = new TsigKey("vmdr-test", "hmac-sha256", SECRET);

const query = (id = 0x1234): Message => ({
  header: { id, qr: false, opcode: Opcode.QUERY, aa: false, tc: false, rd: false, rcode: 0 },
  question: [{ name: "app01.site2.vmbook.lab", type: RRType.A, class: RRClass.IN }],
  answer: [],
  authority: [],
  additional: [],
});

describe("DNS wire format", () => {
  it("encodes names as length-prefixed lowercase labels and refuses labels the wire cannot carry", () => {
    expect(encodeName("App01.Lab")).toEqual(Buffer.from([5, ...Buffer.from("app01"), 3, ...Buffer.from("lab"), 0]));
    expect(encodeName("")).toEqual(Buffer.from([0]));
    expect(() => encodeName(`${"a".repeat(64)}.lab`)).toThrow(/1-63 characters/);
    expect(() => encodeName("a..lab")).toThrow(/1-63 characters/);
    expect(() => encodeName(Array.from({ length: 130 }, () => "a").join("."))).toThrow(/longer than 255/);
  });

  it("decodes what it encodes", () => {
    const m = updateMessage("site2.vmbook.lab", [
      {
        have: { zone: "site2.vmbook.lab", owner: "app01.site2.vmbook.lab", type: "A", ttl: 300, values: ["20.1.1.50"] },
        want: { zone: "site2.vmbook.lab", owner: "app01.site2.vmbook.lab", type: "A", ttl: 600, values: ["30.1.1.50"] },
      },
    ]);
    const wire = encodeMessage(m);
    const d = decodeMessage(wire);
    expect(d.header).toEqual(m.header);
    expect(d.question).toEqual([{ name: "site2.vmbook.lab", type: RRType.SOA, class: RRClass.IN }]);
    // Prerequisite "RRset exists (value dependent)", then delete RRset, then add.
    expect(d.answer.map((r) => [r.class, r.ttl, readA(r.data)])).toEqual([[RRClass.IN, 0, "20.1.1.50"]]);
    expect(d.authority.map((r) => [r.class, r.ttl, r.data.length])).toEqual([
      [RRClass.ANY, 0, 0],
      [RRClass.IN, 600, 4],
    ]);
    expect(readA(d.authority[1]!.data)).toBe("30.1.1.50");
  });

  it("uses the 'RRset does not exist' prerequisite when nothing was there", () => {
    const m = updateMessage("1.1.30.in-addr.arpa", [
      {
        have: { zone: "1.1.30.in-addr.arpa", owner: "50.1.1.30.in-addr.arpa", type: "PTR", ttl: 300, values: [] },
        want: { zone: "1.1.30.in-addr.arpa", owner: "50.1.1.30.in-addr.arpa", type: "PTR", ttl: 300, values: ["app01.site2.vmbook.lab"] },
      },
    ]);
    expect(m.answer).toEqual([{ name: "50.1.1.30.in-addr.arpa", type: RRType.PTR, class: RRClass.NONE, ttl: 0, data: Buffer.alloc(0) }]);
    expect(m.authority[1]!.data).toEqual(nameData("app01.site2.vmbook.lab"));
  });

  it("follows compression pointers in names and in RDATA", () => {
    // Header, question "a.lab" at offset 12, answer name = pointer to 12, PTR RDATA = "x" + pointer to "lab" (offset 14).
    const header = Buffer.from([0, 1, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0]);
    const question = Buffer.concat([encodeName("a.lab"), Buffer.from([0, 12, 0, 1])]);
    const rdata = Buffer.from([1, 0x78, 0xc0, 14]);
    const answer = Buffer.concat([Buffer.from([0xc0, 12, 0, 12, 0, 1, 0, 0, 1, 0x2c, 0, rdata.length]), rdata]);
    const wire = Buffer.concat([header, question, answer]);
    const d = decodeMessage(wire);
    expect(d.header).toMatchObject({ id: 1, qr: true, aa: true });
    expect(d.answer[0]).toMatchObject({ name: "a.lab", type: RRType.PTR, ttl: 300 });
    expect(readNameData(wire, d.answer[0]!)).toBe("x.lab");
  });

  it.each([
    ["a truncated header", Buffer.from([0, 1, 0, 0]), /header runs past the end/],
    ["a forward compression pointer", Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0xc0, 20, 0, 1, 0, 1])]), /does not point backwards/],
    ["a self-pointing compression pointer", Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0xc0, 12, 0, 1, 0, 1])]), /does not point backwards/],
    ["a label past the end", Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([9, 0x61])]), /label runs past the end/],
    ["trailing bytes", Buffer.concat([encodeMessage(query()), Buffer.from([0])]), /1 bytes after the last record/],
  ])("refuses %s", (_name, wire, want) => {
    expect(() => decodeMessage(wire)).toThrow(WireError);
    expect(() => decodeMessage(wire)).toThrow(want);
  });

  it("refuses a TSIG record that is not the last additional record", () => {
    const signed = signRequest(encodeMessage(query()), key, 1_800_000_000).wire;
    const extra = encodeRecord({ name: "", type: RRType.A, class: RRClass.IN, ttl: 0, data: aData("1.2.3.4") });
    const wire = Buffer.concat([signed, extra]);
    wire.writeUInt16BE(2, 10);
    expect(() => decodeMessage(wire)).toThrow(/TSIG is not the last additional record/);
  });

  it("refuses to read a record's RDATA against a message it was not decoded from", () => {
    const a = signRequest(encodeMessage(query()), key, 1_800_000_000).wire;
    const b = signRequest(encodeMessage(query(7)), key, 1_800_000_001).wire;
    expect(() => decodeTsigData(b, decodeMessage(a).additional[0]!)).toThrow(/not decoded from this message/);
  });

  it("refuses malformed addresses in A records", () => {
    expect(() => aData("30.1.1.256")).toThrow(RangeError);
    expect(() => aData("30.1.1")).toThrow(RangeError);
  });
});

/** A server's signed answer to `request`, built the way RFC 8945 §4.3.1 says a server signs it. */
function answer(request: ReturnType<typeof signRequest>, o: { key?: TsigKey; time?: number; tamper?: boolean; error?: number } = {}): Buffer {
  const k = o.key ?? key;
  const reply = encodeMessage({ ...query(request.id), header: { ...query(request.id).header, qr: true, aa: true } });
  const fields = { algorithm: k.algorithm, timeSigned: o.time ?? 1_800_000_000, fudge: FUDGE_SECONDS, error: o.error ?? 0, other: Buffer.alloc(0) };
  const prior = Buffer.alloc(2);
  prior.writeUInt16BE(request.mac.length);
  const mac = o.error ? Buffer.alloc(0) : k.mac(Buffer.concat([prior, request.mac, reply, tsigVariables(k.name, fields)]));
  if (o.tamper) mac[0] = mac[0]! ^ 1;
  const rr = encodeRecord({ name: k.name, type: RRType.TSIG, class: RRClass.ANY, ttl: 0, data: encodeTsigData({ ...fields, mac, originalId: request.id }) });
  const out = Buffer.concat([reply, rr]);
  out.writeUInt16BE(1, 10);
  return out;
}

describe("TSIG (RFC 8945)", () => {
  const now = 1_800_000_000;

  it("appends a TSIG record whose MAC covers the message and the TSIG variables", () => {
    const msg = encodeMessage(query());
    const signed = signRequest(msg, key, now);
    const d = decodeMessage(signed.wire);
    expect(d.additional).toHaveLength(1);
    expect(d.tsigOffset).toBe(msg.length);
    const t = decodeTsigData(signed.wire, d.additional[0]!);
    expect(t).toMatchObject({ algorithm: "hmac-sha256", timeSigned: now, fudge: 300, originalId: 0x1234, error: 0 });
    expect(t.mac).toEqual(key.mac(Buffer.concat([msg, tsigVariables("vmdr-test", t)])));
    expect(t.mac).toHaveLength(32);
  });

  it("makes 64-byte MACs with hmac-sha512", () => {
    const k = new TsigKey("k512", "hmac-sha512", Buffer.alloc(64, 2).toString("base64"));
    const signed = signRequest(encodeMessage(query()), k, now);
    expect(decodeTsigData(signed.wire, decodeMessage(signed.wire).additional[0]!).mac).toHaveLength(64);
    const raw = answer(signed, { key: k });
    expect(verifyResponse(raw, decodeMessage(raw), signed, k, now)).toMatchObject({ kind: "verified" });
  });

  it("verifies a correctly signed answer", () => {
    const signed = signRequest(encodeMessage(query()), key, now);
    const raw = answer(signed);
    expect(verifyResponse(raw, decodeMessage(raw), signed, key, now)).toMatchObject({ kind: "verified" });
  });

  it.each([
    ["a changed MAC", { tamper: true }, /MAC does not match/],
    ["another key's signature", { key: new TsigKey("vmdr-test", "hmac-sha256", Buffer.alloc(32, 9).toString("base64")) }, /MAC does not match/],
    ["another key name", { key: new TsigKey("someone", "hmac-sha256", SECRET) }, /signed with key someone, not vmdr-test/],
    ["a signature beyond the fudge", { time: now - 301 }, /signed 301s from our clock, beyond its fudge of 300s/],
  ])("calls %s forged", (_name, o, problem) => {
    const signed = signRequest(encodeMessage(query()), key, now);
    const raw = answer(signed, o);
    const v = verifyResponse(raw, decodeMessage(raw), signed, key, now);
    expect(v.kind).toBe("forged");
    expect(v.kind === "forged" && v.problem).toMatch(problem);
  });

  it("does not accept an answer signed for another request", () => {
    const first = signRequest(encodeMessage(query()), key, now);
    const second = signRequest(encodeMessage(query()), key, now + 1);
    const raw = answer(first);
    expect(verifyResponse(raw, decodeMessage(raw), second, key, now).kind).toBe("forged");
  });

  it("reports the server's TSIG error and an unsigned answer as such", () => {
    const signed = signRequest(encodeMessage(query()), key, now);
    const bad = answer(signed, { error: 16 });
    expect(verifyResponse(bad, decodeMessage(bad), signed, key, now)).toMatchObject({ kind: "tsig-error", tsig: { error: 16 } });
    const plain = encodeMessage({ ...query(signed.id), header: { ...query(signed.id).header, qr: true } });
    expect(verifyResponse(plain, decodeMessage(plain), signed, key, now)).toEqual({ kind: "unsigned" });
  });

  it.each([
    ["not base64", "not base64!", /not base64/],
    ["too short", Buffer.alloc(8).toString("base64"), /has 8 bytes; use at least 16/],
  ])("refuses a secret that is %s without showing it", (_name, secret, want) => {
    expect(() => new TsigKey("k", "hmac-sha256", secret)).toThrow(want);
    try {
      new TsigKey("k", "hmac-sha256", secret);
    } catch (err) {
      expect((err as Error).message).not.toContain(secret);
    }
  });

  it("keeps the secret out of JSON and inspection", async () => {
    const { inspect } = await import("node:util");
    expect(JSON.stringify({ key })).toBe('{"key":{"name":"vmdr-test","algorithm":"hmac-sha256"}}');
    expect(inspect({ key })).not.toContain(SECRET);
    expect(inspect({ key })).toContain("TsigKey(vmdr-test, hmac-sha256)");
  });
});
