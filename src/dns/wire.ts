/*
 * The DNS wire format (RFC 1035 §4) as far as this client needs it: headers, uncompressed names
 * on output, compressed names on input, questions and resource records with raw RDATA, and the
 * RDATA of A, PTR, SOA and TSIG (RFC 8945 §4.2). UPDATE messages (RFC 2136 §2) reuse the four
 * sections as zone, prerequisite, update and additional.
 *
 * Names are kept as lowercase strings without the trailing dot ("app01.site2.vmbook.lab"; the
 * root is ""): DNS compares names case-insensitively, and the only names we build are host and
 * zone names. A label holding a dot or a non-printable byte is shown as \DDD on input.
 */

export const RRType = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TSIG: 250, ANY: 255 } as const;
export const RRClass = { IN: 1, NONE: 254, ANY: 255 } as const;
export const Opcode = { QUERY: 0, UPDATE: 5 } as const;

/** Response codes (RFC 1035 §4.1.1, RFC 2136 §2.2) and TSIG error codes (RFC 8945 §4.2). */
export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADSIG: 16,
  BADKEY: 17,
  BADTIME: 18,
  BADTRUNC: 22,
} as const;

const RCODE_NAMES = new Map<number, string>(Object.entries(Rcode).map(([k, v]) => [v, k]));

/** "REFUSED", or "RCODE 12" for a code we have no name for. */
export function rcodeName(code: number): string {
  return RCODE_NAMES.get(code) ?? `RCODE ${code}`;
}

export interface Header {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  rcode: number;
}

export interface Question {
  name: string;
  type: number;
  class: number;
}

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: Buffer;
}

/** A message; for UPDATE, question = zone, answer = prerequisites, authority = updates. */
export interface Message {
  header: Header;
  question: Question[];
  answer: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
}

/** A record as received: also where its RDATA starts in the message (names in it may point back into the message). */
export interface DecodedRecord extends ResourceRecord {
  dataOffset: number;
}

/** A message as received: the decoded form, plus where its trailing TSIG record starts (if any). */
export interface DecodedMessage extends Message {
  answer: DecodedRecord[];
  authority: DecodedRecord[];
  additional: DecodedRecord[];
  /** Byte offset of the TSIG record when it is the last additional record (RFC 8945 §5.1). */
  tsigOffset?: number;
}

/** A message that does not parse: the server sent something we cannot read. */
export class WireError extends Error {
  constructor(message: string) {
    super(`malformed DNS message: ${message}`);
    this.name = "WireError";
  }
}

// Encoding -----------------------------------------------------------------------------------

/** The uncompressed wire form of a name (also the canonical form RFC 8945 §4.3.2 asks for). */
export function encodeName(name: string): Buffer {
  const labels = name === "" ? [] : name.split(".");
  const parts: Buffer[] = [];
  let total = 1;
  for (const label of labels) {
    const bytes = Buffer.from(label.toLowerCase(), "latin1");
    if (bytes.length === 0 || bytes.length > 63) throw new RangeError(`DNS name ${JSON.stringify(name)}: each label must have 1-63 characters`);
    parts.push(Buffer.from([bytes.length]), bytes);
    total += bytes.length + 1;
  }
  if (total > 255) throw new RangeError(`DNS name ${JSON.stringify(name)} is longer than 255 bytes`);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** 48-bit unsigned big-endian (TSIG's time signed). */
export function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}

export function encodeHeader(h: Header, counts: [number, number, number, number]): Buffer {
  const flags = (h.qr ? 0x8000 : 0) | ((h.opcode & 0xf) << 11) | (h.aa ? 0x0400 : 0) | (h.tc ? 0x0200 : 0) | (h.rd ? 0x0100 : 0) | (h.rcode & 0xf);
  return Buffer.concat([u16(h.id), u16(flags), ...counts.map(u16)]);
}

export function encodeRecord(rr: ResourceRecord): Buffer {
  return Buffer.concat([encodeName(rr.name), u16(rr.type), u16(rr.class), u32(rr.ttl), u16(rr.data.length), rr.data]);
}

export function encodeMessage(m: Message): Buffer {
  const counts: [number, number, number, number] = [m.question.length, m.answer.length, m.authority.length, m.additional.length];
  return Buffer.concat([
    encodeHeader(m.header, counts),
    ...m.question.map((q) => Buffer.concat([encodeName(q.name), u16(q.type), u16(q.class)])),
    ...[...m.answer, ...m.authority, ...m.additional].map(encodeRecord),
  ]);
}

/** RDATA of an A record; `ip` is a dotted quad. */
export function aData(ip: string): Buffer {
  const octets = ip.split(".").map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) throw new RangeError(`${ip} is not an IPv4 address`);
  return Buffer.from(octets);
}

/** RDATA of a PTR (or CNAME, NS) record: one name. */
export function nameData(name: string): Buffer {
  return encodeName(name);
}

// Decoding -----------------------------------------------------------------------------------

class Reader {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
  ) {}

  need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) throw new WireError(`${what} runs past the end (${this.buf.length} bytes)`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf.readUInt8(this.pos++);
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u48(what: string): number {
    this.need(6, what);
    const v = this.buf.readUIntBE(this.pos, 6);
    this.pos += 6;
    return v;
  }
  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** A possibly compressed name; pointers must point backwards, which also rules out loops. */
  name(what: string): string {
    const labels: string[] = [];
    let pos = this.pos;
    let jumped = false;
    let length = 1;
    for (;;) {
      if (pos >= this.buf.length) throw new WireError(`${what}: name runs past the end`);
      const len = this.buf[pos]!;
      if ((len & 0xc0) === 0xc0) {
        if (pos + 1 >= this.buf.length) throw new WireError(`${what}: truncated compression pointer`);
        const target = ((len & 0x3f) << 8) | this.buf[pos + 1]!;
        if (target >= pos) throw new WireError(`${what}: compression pointer does not point backwards`);
        if (!jumped) this.pos = pos + 2;
        jumped = true;
        pos = target;
        continue;
      }
      if ((len & 0xc0) !== 0) throw new WireError(`${what}: unknown label type`);
      if (len === 0) {
        if (!jumped) this.pos = pos + 1;
        return labels.join(".");
      }
      if (pos + 1 + len > this.buf.length) throw new WireError(`${what}: label runs past the end`);
      length += len + 1;
      if (length > 255) throw new WireError(`${what}: name longer than 255 bytes`);
      labels.push(showLabel(this.buf.subarray(pos + 1, pos + 1 + len)));
      pos += 1 + len;
    }
  }
}

function showLabel(bytes: Buffer): string {
  let s = "";
  for (const c of bytes) {
    if (c === 0x2e || c === 0x5c || c < 0x21 || c > 0x7e) s += `\\${String(c).padStart(3, "0")}`;
    else s += String.fromCharCode(c).toLowerCase();
  }
  return s;
}

function readRecord(r: Reader, what: string): DecodedRecord {
  const name = r.name(what);
  const type = r.u16(what);
  const klass = r.u16(what);
  const ttl = r.u32(what);
  const len = r.u16(what);
  const dataOffset = r.pos;
  return { name, type, class: klass, ttl, data: r.bytes(len, `${what} RDATA`), dataOffset };
}

/** A reader positioned at `rr`'s RDATA in `message`, the message it was decoded from. */
function rdataReader(message: Buffer, rr: DecodedRecord): Reader {
  if (rr.dataOffset + rr.data.length > message.length || !message.subarray(rr.dataOffset, rr.dataOffset + rr.data.length).equals(rr.data)) {
    throw new RangeError("the record was not decoded from this message");
  }
  return new Reader(message, rr.dataOffset);
}

export function decodeMessage(buf: Buffer): DecodedMessage {
  const r = new Reader(buf);
  const id = r.u16("header");
  const flags = r.u16("header");
  const counts = [r.u16("header"), r.u16("header"), r.u16("header"), r.u16("header")] as const;
  const header: Header = {
    id,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    rcode: flags & 0xf,
  };
  const question: Question[] = [];
  for (let i = 0; i < counts[0]; i++) question.push({ name: r.name("question"), type: r.u16("question"), class: r.u16("question") });
  const answer = Array.from({ length: counts[1] }, () => readRecord(r, "answer"));
  const authority = Array.from({ length: counts[2] }, () => readRecord(r, "authority"));
  const additional: DecodedRecord[] = [];
  let tsigOffset: number | undefined;
  for (let i = 0; i < counts[3]; i++) {
    const start = r.pos;
    const rr = readRecord(r, "additional");
    if (rr.type === RRType.TSIG) {
      if (i !== counts[3] - 1) throw new WireError("TSIG is not the last additional record");
      tsigOffset = start;
    }
    additional.push(rr);
  }
  if (r.pos !== buf.length) throw new WireError(`${buf.length - r.pos} bytes after the last record`);
  return { header, question, answer, authority, additional, ...(tsigOffset !== undefined ? { tsigOffset } : {}) };
}

/** The dotted quad of an A record's RDATA. */
export function readA(data: Buffer): string {
  if (data.length !== 4) throw new WireError(`A record of ${data.length} bytes`);
  return [...data].join(".");
}

/**
 * The name in a PTR/CNAME/NS record's RDATA. `message` is the whole message the record was
 * decoded from, since the name may be compressed against it.
 */
export function readNameData(message: Buffer, rr: DecodedRecord): string {
  return rdataReader(message, rr).name("RDATA name");
}

/** The serial of an SOA record's RDATA (after the two names). */
export function readSoaSerial(message: Buffer, rr: DecodedRecord): number {
  const r = rdataReader(message, rr);
  r.name("SOA mname");
  r.name("SOA rname");
  return r.u32("SOA serial");
}

/** TSIG RDATA (RFC 8945 §4.2). */
export interface TsigData {
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

export function encodeTsigData(t: TsigData): Buffer {
  return Buffer.concat([encodeName(t.algorithm), u48(t.timeSigned), u16(t.fudge), u16(t.mac.length), t.mac, u16(t.originalId), u16(t.error), u16(t.other.length), t.other]);
}

export function decodeTsigData(message: Buffer, rr: DecodedRecord): TsigData {
  const r = rdataReader(message, rr);
  const end = r.pos + rr.data.length;
  const algorithm = r.name("TSIG algorithm");
  const timeSigned = r.u48("TSIG time");
  const fudge = r.u16("TSIG fudge");
  const mac = r.bytes(r.u16("TSIG MAC size"), "TSIG MAC");
  const originalId = r.u16("TSIG original ID");
  const error = r.u16("TSIG error");
  const other = r.bytes(r.u16("TSIG other length"), "TSIG other data");
  if (r.pos !== end) throw new WireError("TSIG RDATA length does not match its fields");
  return { algorithm, timeSigned, fudge, mac, originalId, error, other };
}

/** The TSIG variables that follow the message in a MAC's input (RFC 8945 §4.3.3). */
export function tsigVariables(keyName: string, t: Omit<TsigData, "mac" | "originalId">): Buffer {
  return Buffer.concat([encodeName(keyName), u16(RRClass.ANY), u32(0), encodeName(t.algorithm), u48(t.timeSigned), u16(t.fudge), u16(t.error), u16(t.other.length), t.other]);
}
