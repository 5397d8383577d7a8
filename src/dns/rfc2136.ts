import type { ExternalMetrics, ExternalOutcome } from "../metrics/external.js";
import { noExternalMetrics } from "../metrics/external.js";
import { PermanentError } from "../runtime/errors.js";
import type { OperatorError } from "../runtime/errors.js";
import { sameValues } from "./client.js";
import type { DnsClient, EnsureResult, HostRecords, PtrRRset, RRset, ZoneSerial } from "./client.js";
import type { DnsClientConfig } from "./config.js";
import { classify, DnsAuthenticityError, DnsReason, DnsResponseError } from "./errors.js";
import { isHostName, locatePtr, qualify } from "./names.js";
import { signRequest, verifyResponse } from "./tsig.js";
import { exchangeTcp, DnsTransportError } from "./transport.js";
import { queryMessage, TYPE_CODE, updateMessage } from "./messages.js";
import type { RRsetChange } from "./messages.js";
import { aData, decodeMessage, encodeMessage, Rcode, readA, readNameData, readSoaSerial, RRClass, RRType } from "./wire.js";
import type { DecodedMessage, Message } from "./wire.js";

export interface DnsClientDeps {
  readonly metrics?: ExternalMetrics;
  /** Seconds since the epoch, for TSIG's time signed (tests may move it). */
  readonly nowSeconds?: () => number;
}

/** The client over the configured server; no connection is opened until a method is called. */
export function createDnsClient(config: DnsClientConfig, deps: DnsClientDeps = {}): DnsClient {
  return new Rfc2136Client(config, deps);
}

interface Answer {
  readonly raw: Buffer;
  readonly msg: DecodedMessage;
}

class Rfc2136Client implements DnsClient {
  private readonly metrics: ExternalMetrics;
  private readonly now: () => number;

  constructor(
    private readonly cfg: DnsClientConfig,
    deps: DnsClientDeps,
  ) {
    this.metrics = deps.metrics ?? noExternalMetrics;
    this.now = deps.nowSeconds ?? (() => Date.now() / 1000);
  }

  async probe(signal: AbortSignal): Promise<ZoneSerial[]> {
    const zones = [this.cfg.zone, ...this.cfg.reverseZones.map((z) => z.zone)];
    return Promise.all(
      zones.map(async (zone) => {
        const { raw, msg } = await this.query(zone, RRType.SOA, zone, `read SOA of zone ${zone}`, signal);
        const soa = msg.answer.find((rr) => rr.type === RRType.SOA && rr.name === zone);
        if (!soa) throw this.notAuthoritative(`read SOA of zone ${zone}`, zone);
        return { zone, serial: readSoaSerial(raw, soa) };
      }),
    );
  }

  async observeHost(name: string, addresses: readonly string[], signal: AbortSignal): Promise<HostRecords> {
    const fqdn = this.hostName(name);
    for (const a of addresses) checkAddress(a, `host ${fqdn}`); // before asking anything
    const a = await this.readRRset(this.cfg.zone, fqdn, "A", signal);
    const concerned = [...new Set([...a.values, ...addresses])].sort();
    const unmanaged: string[] = [];
    const located: { address: string; zone: string; owner: string }[] = [];
    for (const address of concerned) {
      const loc = locatePtr(address, this.cfg.reverseZones);
      if (loc) located.push({ address, ...loc });
      else unmanaged.push(address);
    }
    const ptr = await Promise.all(
      located.map(async (l): Promise<PtrRRset> => ({ ...(await this.readRRset(l.zone, l.owner, "PTR", signal)), type: "PTR", address: l.address })),
    );
    return { name: fqdn, a: { ...a, type: "A" }, ptr, unmanaged };
  }

  async ensureHost(desired: HostRecords, signal: AbortSignal, observed?: HostRecords): Promise<EnsureResult> {
    const wanted: RRset[] = [desired.a, ...desired.ptr];
    for (const w of wanted) for (const v of w.values) checkValue(w, v);
    const read: RRset[] = observed ? [observed.a, ...observed.ptr] : [];
    const known = (w: RRset): RRset | undefined => read.find((r) => r.zone === w.zone && r.owner === w.owner && r.type === w.type);
    const current = await Promise.all(wanted.map(async (w) => known(w) ?? (await this.readRRset(w.zone, w.owner, w.type, signal))));
    const byZone = new Map<string, RRsetChange[]>();
    wanted.forEach((want, i) => {
      const have = current[i]!;
      if (sameValues(have.values, want.values)) return;
      const list = byZone.get(want.zone) ?? [];
      list.push({ want, have });
      byZone.set(want.zone, list);
    });
    const changed: RRset[] = [];
    let updates = 0;
    // The forward zone first: the name is what clients look up; a failed reverse update is retried by the next call.
    for (const [zone, changes] of [...byZone].sort(([a], [b]) => Number(b === this.cfg.zone) - Number(a === this.cfg.zone))) {
      const what = `update ${changes.map((c) => `${c.want.type} of ${c.want.owner}`).join(", ")} in zone ${zone}`;
      await this.update(zone, changes, what, signal);
      updates++;
      changed.push(...changes.map((c) => c.want));
    }
    return { changed, updates };
  }

  // ----------------------------------------------------------------------------------------

  private hostName(name: string): string {
    const fqdn = qualify(name, this.cfg.zone);
    if (!fqdn) throw new PermanentError(`host name ${name} is outside zone ${this.cfg.zone}`, DnsReason.InvalidConfig);
    return fqdn;
  }

  /** One RRset read from the server; empty values when the name or the type does not exist. */
  private async readRRset(zone: string, owner: string, type: "A" | "PTR", signal: AbortSignal): Promise<RRset> {
    const what = `read ${type} of ${owner}`;
    const { raw, msg } = await this.query(zone, TYPE_CODE[type], owner, what, signal);
    const records = msg.answer.filter((rr) => rr.name === owner && rr.class === RRClass.IN);
    const cname = records.find((rr) => rr.type === RRType.CNAME);
    if (cname) {
      const target = readNameData(raw, cname);
      throw new PermanentError(
        `${what}: it is an alias (CNAME) of ${target}; configure the zone that holds ${target} (for RFC 2317 delegation, a reverse zone with its cidr)`,
        DnsReason.InvalidConfig,
      );
    }
    const mine = records.filter((rr) => rr.type === TYPE_CODE[type]);
    const values = mine.map((rr) => (type === "A" ? readA(rr.data) : readNameData(raw, rr))).sort();
    const ttl = mine.length ? Math.min(...mine.map((rr) => rr.ttl)) : this.cfg.ttl;
    return { zone, owner, type, ttl, values: [...new Set(values)] };
  }

  private async query(zone: string, type: number, name: string, what: string, signal: AbortSignal): Promise<Answer> {
    const answer = await this.exchange("query", queryMessage(name, type), what, zone, signal, [Rcode.NOERROR, Rcode.NXDOMAIN]);
    if (!answer.msg.header.aa) throw this.notAuthoritative(what, zone);
    return answer;
  }

  private async update(zone: string, changes: readonly RRsetChange[], what: string, signal: AbortSignal): Promise<void> {
    await this.exchange("update", updateMessage(zone, changes), what, zone, signal, [Rcode.NOERROR]);
  }

  /**
   * Signs, sends and verifies one message; anything but an authentic answer with one of `ok`
   * rcodes is thrown, classified. Records the exchange's duration and outcome.
   */
  private async exchange(kind: "query" | "update", message: Message, what: string, zone: string, signal: AbortSignal, ok: readonly number[]): Promise<Answer> {
    const started = performance.now();
    let outcome: ExternalOutcome = "ok";
    try {
      const signed = signRequest(encodeMessage(message), this.cfg.key, this.now());
      const raw = await exchangeTcp(this.cfg.server, this.cfg.port, signed.wire, { timeoutMs: this.cfg.timeoutMs, signal });
      const msg = decodeMessage(raw);
      const request = `${kind === "update" ? "UPDATE" : "QUERY"} ${message.question[0]!.name}`;
      if (msg.header.id !== signed.id || !msg.header.qr || msg.header.opcode !== message.header.opcode) {
        throw new DnsAuthenticityError(request, "the answer does not match the request (ID, QR or opcode)");
      }
      const verdict = verifyResponse(raw, msg, signed, this.cfg.key, this.now());
      if (verdict.kind === "tsig-error") throw new DnsResponseError({ rcode: msg.header.rcode, tsigError: verdict.tsig.error, request, signed: false });
      if (verdict.kind !== "verified") {
        // An unsigned error is believed (it can only make us stop); an unsigned success never is.
        if (verdict.kind === "unsigned" && !ok.includes(msg.header.rcode)) throw new DnsResponseError({ rcode: msg.header.rcode, request, signed: false });
        throw new DnsAuthenticityError(request, verdict.kind === "unsigned" ? "the answer is not signed" : verdict.problem);
      }
      if (!ok.includes(msg.header.rcode)) throw new DnsResponseError({ rcode: msg.header.rcode, request, signed: true });
      return { raw, msg };
    } catch (err) {
      outcome = outcomeOf(err);
      throw classify(err, what, { server: `${this.cfg.server}:${this.cfg.port}`, key: this.cfg.key.name, zone, kind });
    } finally {
      this.metrics.observe("dns", kind, outcome, (performance.now() - started) / 1000);
    }
  }

  private notAuthoritative(what: string, zone: string): OperatorError {
    return classify(new DnsResponseError({ rcode: Rcode.NOTAUTH, request: `QUERY ${zone}`, signed: true }), what, {
      server: `${this.cfg.server}:${this.cfg.port}`,
      key: this.cfg.key.name,
      zone,
    });
  }
}

function checkAddress(ip: string, what: string): void {
  try {
    aData(ip);
  } catch {
    throw new PermanentError(`${what}: ${ip} is not an IPv4 address`, DnsReason.InvalidConfig);
  }
}

/** A value we are asked to write must be one the wire can carry: refuse it before sending anything. */
function checkValue(rrset: RRset, value: string): void {
  if (rrset.type === "A") return checkAddress(value, `A of ${rrset.owner}`);
  if (!isHostName(value)) throw new PermanentError(`PTR of ${rrset.owner}: ${value} is not a host name`, DnsReason.InvalidConfig);
}

function outcomeOf(err: unknown): ExternalOutcome {
  if (err instanceof DnsTransportError) return err.failure === "timeout" ? "timeout" : "unreachable";
  if (err instanceof DnsResponseError && err.rcode === Rcode.SERVFAIL) return "server_error";
  return "client_error";
}
