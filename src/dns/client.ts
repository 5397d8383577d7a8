/**
 * One RRset as the server holds it: all records of one type at one name. Plain JSON, so a run can
 * persist what it found before changing it and put it back on failback.
 */
export interface RRset {
  /** The zone holding the name: the zone section of the UPDATE that changes it. */
  readonly zone: string;
  readonly owner: string;
  readonly type: "A" | "PTR";
  readonly ttl: number;
  /** Sorted; empty when the RRset does not exist. A: dotted quads; PTR: host names. */
  readonly values: readonly string[];
}

export type PtrRRset = RRset & { readonly type: "PTR"; readonly address: string };

/** A host's forward record and the reverse records of the addresses concerned. */
export interface HostRecords {
  /** Fully qualified, lowercase, without the trailing dot. */
  readonly name: string;
  readonly a: RRset & { readonly type: "A" };
  /** The PTR RRset at the reverse name of each address concerned that a configured reverse zone holds. */
  readonly ptr: readonly PtrRRset[];
  /** Addresses concerned that no configured reverse zone holds: their PTR records are neither read nor changed. */
  readonly unmanaged: readonly string[];
}

export interface EnsureResult {
  /** The RRsets that differed from what was asked and were replaced; empty when nothing was sent. */
  readonly changed: readonly RRset[];
  /** UPDATE messages sent: at most one per zone. */
  readonly updates: number;
}

/** The SOA serial of a zone, as its primary server reports it. */
export interface ZoneSerial {
  readonly zone: string;
  readonly serial: number;
}

/**
 * A group's view of the recovery site's DNS server: forward (A) and reverse (PTR) records of the
 * recovered VMs, changed with dynamic updates (RFC 2136) signed with TSIG (RFC 8945).
 *
 * Contract shared by every method:
 *  - `signal` is last; every message is bounded by the configured timeout and by `signal`.
 *  - Every request is signed and every answer's signature is verified; an answer that does not
 *    verify is never taken as success.
 *  - Failures are classified OperatorErrors (errors.ts `classify`): an unreachable or failing
 *    server is Transient, a refused key or update Permanent with a reason a human can act on,
 *    records changed under us a Conflict.
 *  - The TSIG secret never appears in logs, errors or results.
 *
 * Typical use by a run's step: `observeHost` and persist the result (the "before"); `ensureHost`
 * with `planAddressChange(before, newAddresses, ttl)`; on failback, `ensureHost(before)`.
 */
export interface DnsClient {
  /**
   * Reads the SOA of the forward zone and of every reverse zone: proves that the server answers,
   * is authoritative for each zone and accepts the key. Read-only.
   */
  probe(signal: AbortSignal): Promise<ZoneSerial[]>;
  /**
   * The A RRset of `name` (a single label is taken inside the zone) and the PTR RRset of every
   * address concerned: the name's current addresses and `addresses` (those about to be given).
   * Read-only.
   */
  observeHost(name: string, addresses: readonly string[], signal: AbortSignal): Promise<HostRecords>;
  /**
   * Makes the server hold exactly the RRsets in `desired` (an RRset with no values is deleted).
   * Reads them first and sends nothing for those already so; otherwise one UPDATE per zone that
   * replaces each differing RRset (delete the RRset, add the wanted records), on the condition
   * that it still holds what was just read (RFC 2136 prerequisites), so a concurrent change is a
   * Conflict rather than overwritten. Idempotent: repeating it after a crash changes nothing more.
   * `observed`: what `observeHost` has just read; its RRsets are taken as read instead of asking
   * again (the prerequisites still catch a change in between), and only the others are read.
   */
  ensureHost(desired: HostRecords, signal: AbortSignal, observed?: HostRecords): Promise<EnsureResult>;
}

/**
 * What the records of `before`'s host should be once it has `addresses`: its A RRset is exactly
 * those addresses (with `ttl`); the PTR of each of them names the host alone; the PTR of an
 * address it no longer has stops naming it (other names there are kept). `before` must come from
 * observeHost with these addresses. Pure.
 */
export function planAddressChange(before: HostRecords, addresses: readonly string[], ttl: number): HostRecords {
  const wanted = [...new Set(addresses)].sort();
  for (const a of wanted) {
    if (!before.ptr.some((p) => p.address === a) && !before.unmanaged.includes(a)) {
      throw new RangeError(`planAddressChange: ${a} was not observed; call observeHost with the new addresses first`);
    }
  }
  const ptr = before.ptr.map((p): PtrRRset => (wanted.includes(p.address) ? { ...p, ttl, values: [before.name] } : { ...p, values: p.values.filter((v) => v !== before.name) }));
  return { ...before, a: { ...before.a, ttl, values: wanted }, ptr };
}

/** Whether two RRsets hold the same records (TTL aside). */
export function sameValues(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort();
  const y = [...b].sort();
  return x.every((v, i) => v === y[i]);
}
