import { createHash } from "node:crypto";
import type { Logger } from "../log/logger.js";
import type { ExternalMetrics } from "../metrics/external.js";
import type { EndpointTls } from "../net/http.js";
import type { Clock } from "../util/clock.js";
import { isFault } from "./errors.js";
import { text } from "./soap/builder.js";
import type { Xml } from "./soap/builder.js";
import { MAX_API_VERSION, SoapTransport } from "./soap/transport.js";
import { child, textAt } from "./soap/xml.js";
import type { XNode } from "./soap/xml.js";
import { filterSpec, readRef, readRetrieveResult } from "./property-collector.js";
import type { MoRef } from "./types.js";

export interface VsphereConnectionOptions {
  /** vCenter base URL (https://vcenter.example.com); /sdk is appended. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly tls: EndpointTls;
  /** Upper bound of one SOAP call (default 60 s). */
  readonly timeoutMs?: number;
  /**
   * Calls in flight at once on this session (default VCENTER_CONNECTIONS). A run's per-VM steps
   * start up to `powerOn.concurrency` calls together; with fewer connections they queue here and
   * the concurrency asked for is not the concurrency vCenter sees.
   */
  readonly maxConnections?: number;
}

/** Connections per vCenter session by default: a run at concurrency 64, the inventory watcher's long poll and the controllers' reads at once. */
export const VCENTER_CONNECTIONS = 72;

export interface SessionDeps {
  readonly clock: Clock;
  readonly metrics: ExternalMetrics;
  readonly log: Logger;
}

export interface ServiceContent {
  readonly rootFolder: MoRef;
  readonly propertyCollector: MoRef;
  readonly viewManager: MoRef;
  readonly searchIndex: MoRef;
  readonly sessionManager: MoRef;
  readonly customizationSpecManager?: MoRef;
  readonly fileManager?: MoRef;
}

export interface About {
  readonly fullName: string;
  readonly version: string;
  readonly apiVersion: string;
  readonly instanceUuid: string;
}

const SERVICE_INSTANCE: MoRef = { type: "ServiceInstance", value: "ServiceInstance" };

/** Numeric comparison of dotted versions ("7.0.3.0" < "8.0.1"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * A logged-in session with one vCenter. Calls that fail with NotAuthenticated (session expired or
 * vCenter restarted) log in once more and are retried once: the fault means the call was not
 * executed, so the retry is safe. The password is kept only to log in again; it never reaches a log.
 */
export class VsphereSession {
  private relogin: Promise<void> | undefined;
  private lastVerified = 0;

  private constructor(
    private readonly o: VsphereConnectionOptions,
    private readonly deps: SessionDeps,
    readonly transport: SoapTransport,
    readonly content: ServiceContent,
    readonly about: About,
  ) {}

  /** Connects: reads the service content (no session needed), then logs in. */
  static async open(o: VsphereConnectionOptions, deps: SessionDeps, signal?: AbortSignal): Promise<VsphereSession> {
    const transport = new SoapTransport({ url: o.url, tls: o.tls, clock: deps.clock, metrics: deps.metrics, timeoutMs: o.timeoutMs, maxSockets: o.maxConnections ?? VCENTER_CONNECTIONS });
    try {
      const res = await transport.call("RetrieveServiceContent", SERVICE_INSTANCE, [], { signal, operation: "RetrieveServiceContent" });
      const rv = child(res, "returnval");
      const about: About = {
        fullName: textAt(rv, "about.fullName") ?? "",
        version: textAt(rv, "about.version") ?? "",
        apiVersion: textAt(rv, "about.apiVersion") ?? "",
        instanceUuid: textAt(rv, "about.instanceUuid") ?? "",
      };
      if (about.apiVersion && compareVersions(about.apiVersion, MAX_API_VERSION) < 0) transport.apiVersion = about.apiVersion;
      const need = (name: string): MoRef => {
        const r = readRef(child(rv, name));
        if (!r) throw new Error(`vCenter service content has no ${name}`);
        return r;
      };
      const content: ServiceContent = {
        rootFolder: need("rootFolder"),
        propertyCollector: need("propertyCollector"),
        viewManager: need("viewManager"),
        searchIndex: need("searchIndex"),
        sessionManager: need("sessionManager"),
        customizationSpecManager: readRef(child(rv, "customizationSpecManager")),
        fileManager: readRef(child(rv, "fileManager")),
      };
      const session = new VsphereSession(o, deps, transport, content, about);
      await session.login(signal);
      return session;
    } catch (err) {
      transport.close();
      throw err;
    }
  }

  /** Calls a method, logging in again once if the session was lost. */
  async call(method: string, self: MoRef, params: readonly Xml[], o: { signal?: AbortSignal; timeoutMs?: number; operation?: string } = {}): Promise<XNode> {
    try {
      return await this.transport.call(method, self, params, o);
    } catch (err) {
      if (!isFault(err, "NotAuthenticated")) throw err;
      this.deps.log.info({ vcenter: this.o.url, user: this.o.username }, "vCenter session lost; logging in again");
      this.relogin ??= this.login(o.signal).finally(() => {
        this.relogin = undefined;
      });
      await this.relogin;
      return this.transport.call(method, self, params, o);
    }
  }

  /** True when the session is still logged in (SessionManager.currentSession is set). */
  async isAlive(signal?: AbortSignal): Promise<boolean> {
    try {
      const res = await this.transport.call(
        "RetrievePropertiesEx",
        this.content.propertyCollector,
        [filterSpec("specSet", [{ type: "SessionManager", pathSet: ["currentSession"] }], [{ obj: this.content.sessionManager, viaView: false }]), text("options", "")],
        { signal, operation: "CheckSession" },
      );
      const { objects } = readRetrieveResult(child(res, "returnval"));
      const alive = objects[0]?.props.get("currentSession") !== undefined;
      if (alive) this.lastVerified = this.deps.clock.monotonic();
      return alive;
    } catch (err) {
      if (isFault(err, "NotAuthenticated")) return false;
      throw err;
    }
  }

  /** Liveness, checked at most once per `maxAgeMs` (CAPV checks before reuse; we bound the cost). */
  async isAliveCached(maxAgeMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.deps.clock.monotonic() - this.lastVerified < maxAgeMs) return true;
    return this.isAlive(signal);
  }

  /** Logs out (best effort) and closes connections. */
  async close(): Promise<void> {
    try {
      if (this.transport.cookie) await this.transport.call("Logout", this.content.sessionManager, [], { timeoutMs: 5_000, operation: "Logout" });
    } catch {
      /* the session may already be gone */
    } finally {
      this.transport.close();
    }
  }

  private async login(signal?: AbortSignal): Promise<void> {
    this.transport.cookie = undefined;
    await this.transport.call("Login", this.content.sessionManager, [text("userName", this.o.username), text("password", this.o.password)], {
      signal,
      operation: "Login",
    });
    if (!this.transport.cookie) throw new Error("vCenter accepted the login but set no session cookie");
    this.lastVerified = this.deps.clock.monotonic();
    this.deps.log.info({ vcenter: this.o.url, user: this.o.username, version: this.about.version }, "Logged in to vCenter");
  }
}

/** Cache key: server, user and trust settings; the password only as a hash (CAPV). */
export function sessionKey(o: VsphereConnectionOptions): string {
  const h = createHash("sha256");
  h.update(o.password);
  h.update("\u0000");
  h.update(o.tls.caBundle ?? "");
  h.update(o.tls.insecureSkipVerify ? "insecure" : "verify");
  return `${o.url}|${o.username}|${h.digest("hex")}`;
}

/**
 * Sessions shared by every controller, one per vCenter + user + password. A cached session is
 * reused after a liveness check (at most once a minute); a dead one is closed and replaced. A
 * changed password gives a different key, so the old session ages out when released.
 */
export class SessionCache {
  private readonly sessions = new Map<string, Promise<VsphereSession>>();

  constructor(
    private readonly deps: SessionDeps,
    private readonly livenessMaxAgeMs = 60_000,
  ) {}

  async get(o: VsphereConnectionOptions, signal?: AbortSignal): Promise<VsphereSession> {
    const key = sessionKey(o);
    const existing = this.sessions.get(key);
    if (existing) {
      try {
        const s = await existing;
        if (await s.isAliveCached(this.livenessMaxAgeMs, signal)) return s;
        this.deps.log.info({ vcenter: o.url, user: o.username }, "Replacing expired vCenter session");
        void s.close();
      } catch {
        /* the previous attempt failed; try again below */
      }
      if (this.sessions.get(key) === existing) this.sessions.delete(key);
    }
    const opening = VsphereSession.open(o, this.deps, signal);
    this.sessions.set(key, opening);
    opening.catch(() => {
      if (this.sessions.get(key) === opening) this.sessions.delete(key);
    });
    return opening;
  }

  /** Closes and forgets every session for this server+user (e.g. when a Site is deleted). */
  async release(url: string, username: string): Promise<void> {
    const doomed = [...this.sessions.entries()].filter(([k]) => k.startsWith(`${url}|${username}|`));
    for (const [k] of doomed) this.sessions.delete(k);
    await Promise.all(doomed.map(async ([, p]) => (await p.catch(() => undefined))?.close()));
  }

  async closeAll(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.close()));
  }
}
