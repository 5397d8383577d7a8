import { randomInt } from "node:crypto";
import type { RRset } from "./client.js";
import { aData, nameData, Opcode, RRClass, RRType } from "./wire.js";
import type { Message, ResourceRecord } from "./wire.js";

/** One RRset to replace: what the server held when read (`have`) and what it should hold (`want`). */
export interface RRsetChange {
  readonly have: RRset;
  readonly want: RRset;
}

export const TYPE_CODE = { A: RRType.A, PTR: RRType.PTR } as const;

/** A non-recursive query (we ask the zone's primary server, which answers from its own data). */
export function queryMessage(name: string, type: number): Message {
  return {
    header: { id: randomInt(0x10000), qr: false, opcode: Opcode.QUERY, aa: false, tc: false, rd: false, rcode: 0 },
    question: [{ name, type, class: RRClass.IN }],
    answer: [],
    authority: [],
    additional: [],
  };
}

/**
 * One UPDATE (RFC 2136) for `zone` replacing each RRset of `changes`, on the condition that each
 * still holds `have`:
 *  - prerequisites (§2.4): "RRset does not exist" (class NONE) when `have` is empty, else "RRset
 *    exists, value dependent" (each record, class IN, TTL 0), which the server compares as a whole;
 *  - updates: delete the RRset (§2.5.2, class ANY), then add each wanted record (§2.5.1).
 * The server applies all of it or nothing (§3.4.2).
 */
export function updateMessage(zone: string, changes: readonly RRsetChange[]): Message {
  const prereq: ResourceRecord[] = [];
  const updates: ResourceRecord[] = [];
  for (const { want, have } of changes) {
    const type = TYPE_CODE[want.type];
    if (have.values.length === 0) prereq.push({ name: have.owner, type, class: RRClass.NONE, ttl: 0, data: Buffer.alloc(0) });
    else for (const v of have.values) prereq.push({ name: have.owner, type, class: RRClass.IN, ttl: 0, data: rdata(want.type, v) });
    updates.push({ name: want.owner, type, class: RRClass.ANY, ttl: 0, data: Buffer.alloc(0) });
    for (const v of want.values) updates.push({ name: want.owner, type, class: RRClass.IN, ttl: want.ttl, data: rdata(want.type, v) });
  }
  return {
    header: { id: randomInt(0x10000), qr: false, opcode: Opcode.UPDATE, aa: false, tc: false, rd: false, rcode: 0 },
    question: [{ name: zone, type: RRType.SOA, class: RRClass.IN }],
    answer: prereq,
    authority: updates,
    additional: [],
  };
}

function rdata(type: "A" | "PTR", value: string): Buffer {
  return type === "A" ? aData(value) : nameData(value);
}
