import { PermanentError } from "../runtime/errors.js";
import { DnsReason } from "./errors.js";
import { isHostName, normalizeName, resolveReverseZone } from "./names.js";
import type { ResolvedReverseZone, ReverseZone } from "./names.js";
import { TSIG_ALGORITHMS, TsigKey } from "./tsig.js";
import type { TsigAlgorithm } from "./tsig.js";

export type { ReverseZone } from "./names.js";
export type { TsigAlgorithm } from "./tsig.js";

/**
 * A group's DNS settings as a user writes them (the shape ProtectionGroup.spec will carry): the
 * recovery site's primary DNS server, the zones to change, and the TSIG key, whose secret stays in
 * a Secret. See docs/dns.md.
 */
export interface DnsSettings {
  /** Host name or address of the primary server of the zones below. */
  server: string;
  /** Default 53. */
  port?: number;
  /** The forward zone the VMs' names live in, e.g. "site2.vmbook.lab". */
  zone: string;
  /** Reverse zones on the same server; an address outside all of them gets no PTR change. */
  reverseZones?: ReverseZone[];
  /** TTL of the records written, in seconds (default 300). */
  ttl?: number;
  tsig: {
    keyName: string;
    /** Default hmac-sha256. */
    algorithm?: TsigAlgorithm;
    /** The Secret (in the group's namespace) and its key holding the base64 secret (default key "secret"). */
    secretRef: { name: string; key?: string };
  };
}

/** Everything the client needs, resolved and checked: what `createDnsClient` takes. */
export interface DnsClientConfig {
  readonly server: string;
  readonly port: number;
  readonly zone: string;
  readonly reverseZones: readonly ResolvedReverseZone[];
  readonly ttl: number;
  readonly key: TsigKey;
  /** Bound on one message exchange (connect, send, answer); default 5000 ms. */
  readonly timeoutMs: number;
}

export const DEFAULT_DNS_PORT = 53;
export const DEFAULT_TTL_SECONDS = 300;
export const DEFAULT_DNS_TIMEOUT_MS = 5_000;
export const DEFAULT_SECRET_KEY = "secret";

/**
 * Checks `settings` and builds the client configuration with the TSIG secret (base64, as BIND's
 * tsig-keygen prints it) that the caller read from the Secret named by `settings.tsig.secretRef`.
 * Every problem is a PermanentError (InvalidDnsConfig) naming the field; a message never contains
 * the secret. Pure.
 */
export function resolveDnsConfig(settings: DnsSettings, secretBase64: string, o: { timeoutMs?: number } = {}): DnsClientConfig {
  const problems: string[] = [];
  const port = settings.port ?? DEFAULT_DNS_PORT;
  if (!settings.server.trim()) problems.push("server is empty");
  if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) problems.push(`port ${port} is not a TCP port`);
  const zone = normalizeName(settings.zone);
  if (!isHostName(zone)) problems.push(`zone ${settings.zone} is not a DNS zone name`);
  const ttl = settings.ttl ?? DEFAULT_TTL_SECONDS;
  if (!(Number.isInteger(ttl) && ttl >= 0 && ttl <= 2_147_483_647)) problems.push(`ttl ${ttl} is not a number of seconds`);
  const reverseZones: ResolvedReverseZone[] = [];
  for (const rz of settings.reverseZones ?? []) {
    const r = resolveReverseZone(rz);
    if (typeof r === "string") problems.push(r);
    else reverseZones.push(r);
  }
  const algorithm = settings.tsig.algorithm ?? "hmac-sha256";
  let key: TsigKey | undefined;
  if (!(algorithm in TSIG_ALGORITHMS)) problems.push(`tsig.algorithm ${String(algorithm)} is not supported (use hmac-sha256 or hmac-sha512)`);
  else {
    try {
      key = new TsigKey(settings.tsig.keyName, algorithm, secretBase64);
    } catch (err) {
      problems.push(`tsig: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0 || !key) throw new PermanentError(`invalid DNS settings: ${problems.join("; ")}`, DnsReason.InvalidConfig);
  return { server: settings.server.trim(), port, zone, reverseZones, ttl, key, timeoutMs: o.timeoutMs ?? DEFAULT_DNS_TIMEOUT_MS };
}
