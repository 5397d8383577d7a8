import { createHmac, timingSafeEqual } from "node:crypto";
import { decodeTsigData, encodeName, encodeRecord, encodeTsigData, RRClass, RRType, tsigVariables } from "./wire.js";
import type { DecodedMessage, TsigData } from "./wire.js";

/** The TSIG algorithms we sign with (RFC 8945 §6): their names on the wire and their hashes. */
export const TSIG_ALGORITHMS = { "hmac-sha256": "sha256", "hmac-sha512": "sha512" } as const;
export type TsigAlgorithm = keyof typeof TSIG_ALGORITHMS;

/** The clock skew we and the server tolerate (RFC 8945 §10 recommends 300 s). */
export const FUDGE_SECONDS = 300;

/** Shortest secret we accept: RFC 8945 §6 wants keys no shorter than the MAC; 16 bytes is a floor for typos. */
export const MIN_SECRET_BYTES = 16;

/**
 * A TSIG key: its name, algorithm and shared secret. The secret lives in a private field, so it
 * never reaches a log line, an event or a status through JSON or util.inspect.
 */
export class TsigKey {
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  readonly #secret: Buffer;

  /** `secret` as BIND's tsig-keygen prints it (base64). Throws a RangeError saying what is wrong, never the value. */
  constructor(name: string, algorithm: TsigAlgorithm, secretBase64: string) {
    if (!(algorithm in TSIG_ALGORITHMS)) throw new RangeError(`TSIG algorithm ${String(algorithm)} is not supported (use hmac-sha256 or hmac-sha512)`);
    const text = secretBase64.trim();
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) throw new RangeError(`the secret of TSIG key ${name} is not base64`);
    const secret = Buffer.from(text, "base64");
    if (secret.length < MIN_SECRET_BYTES) throw new RangeError(`the secret of TSIG key ${name} has ${secret.length} bytes; use at least ${MIN_SECRET_BYTES} (tsig-keygen makes 32 for hmac-sha256)`);
    encodeName(name); // a name the wire can carry
    this.name = name.toLowerCase().replace(/\.$/, "");
    this.algorithm = algorithm;
    this.#secret = secret;
  }

  mac(data: Buffer): Buffer {
    return createHmac(TSIG_ALGORITHMS[this.algorithm], this.#secret).update(data).digest();
  }

  toJSON(): { name: string; algorithm: string } {
    return { name: this.name, algorithm: this.algorithm };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `TsigKey(${this.name}, ${this.algorithm})`;
  }
}

/** A request signed with a key, and the MAC its response must be signed against. */
export interface SignedRequest {
  readonly wire: Buffer;
  readonly id: number;
  readonly mac: Buffer;
}

/**
 * Appends a TSIG record to an encoded message (RFC 8945 §4.3.1): the MAC covers the message as
 * it is (ARCOUNT without the TSIG) followed by the TSIG variables. The message's ARCOUNT is then
 * incremented for the record.
 */
export function signRequest(message: Buffer, key: TsigKey, nowSeconds: number): SignedRequest {
  const id = message.readUInt16BE(0);
  const fields = { algorithm: key.algorithm, timeSigned: Math.floor(nowSeconds), fudge: FUDGE_SECONDS, error: 0, other: Buffer.alloc(0) };
  const mac = key.mac(Buffer.concat([message, tsigVariables(key.name, fields)]));
  const rr = encodeRecord({ name: key.name, type: RRType.TSIG, class: RRClass.ANY, ttl: 0, data: encodeTsigData({ ...fields, mac, originalId: id }) });
  const out = Buffer.concat([message, rr]);
  out.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { wire: out, id, mac };
}

/** What a response's TSIG says about it. */
export type TsigVerdict =
  /** Signed with our key, the MAC checks, the time is within the fudge. */
  | { readonly kind: "verified"; readonly tsig: TsigData }
  /** The server reports a TSIG error (BADKEY, BADSIG, BADTIME...), unsigned as RFC 8945 §5.3.2 allows for BADKEY/BADSIG. */
  | { readonly kind: "tsig-error"; readonly tsig: TsigData }
  /** No TSIG record at all. */
  | { readonly kind: "unsigned" }
  /** Signed, but not by our key, or the MAC or the time does not check: not authentic. */
  | { readonly kind: "forged"; readonly problem: string };

/**
 * Checks a response to `request` (RFC 8945 §5.3): the MAC must cover the request's MAC, the
 * response without its TSIG record (ARCOUNT decremented, original ID restored) and the TSIG
 * variables, and match in constant time; the full-length MAC is required (no truncation).
 */
export function verifyResponse(raw: Buffer, decoded: DecodedMessage, request: SignedRequest, key: TsigKey, nowSeconds: number): TsigVerdict {
  if (decoded.tsigOffset === undefined) return { kind: "unsigned" };
  const rr = decoded.additional[decoded.additional.length - 1]!;
  let tsig: TsigData;
  try {
    tsig = decodeTsigData(raw, rr);
  } catch (err) {
    return { kind: "forged", problem: (err as Error).message };
  }
  if (rr.name !== key.name) return { kind: "forged", problem: `signed with key ${rr.name}, not ${key.name}` };
  if (tsig.algorithm !== key.algorithm) return { kind: "forged", problem: `signed with ${tsig.algorithm}, not ${key.algorithm}` };
  if (tsig.error !== 0) return { kind: "tsig-error", tsig };
  if (tsig.originalId !== request.id) return { kind: "forged", problem: "TSIG original ID does not match the request" };
  const unsigned = Buffer.from(raw.subarray(0, decoded.tsigOffset));
  unsigned.writeUInt16BE(tsig.originalId, 0);
  unsigned.writeUInt16BE(decoded.additional.length - 1, 10);
  const prior = Buffer.alloc(2);
  prior.writeUInt16BE(request.mac.length);
  const want = key.mac(Buffer.concat([prior, request.mac, unsigned, tsigVariables(key.name, tsig)]));
  if (tsig.mac.length !== want.length || !timingSafeEqual(tsig.mac, want)) return { kind: "forged", problem: "the response's MAC does not match" };
  if (Math.abs(nowSeconds - tsig.timeSigned) > tsig.fudge) {
    return { kind: "forged", problem: `the response was signed ${Math.round(nowSeconds - tsig.timeSigned)}s from our clock, beyond its fudge of ${tsig.fudge}s` };
  }
  return { kind: "verified", tsig };
}
