import { createHash } from "node:crypto";
import type { Logger } from "../log/logger.js";
import type { Clock } from "../util/clock.js";
import type { Site } from "../api/v1alpha1/site.js";
import { VcenterClient } from "../vsphere/vcenter.js";
import { InventoryWatcher } from "../vsphere/watcher.js";
import type { InventoryEvent } from "../vsphere/watcher.js";
import type { SiteConnections } from "./connections.js";

export type InventoryListener = (site: string, e: InventoryEvent) => void;

interface Running {
  readonly fingerprint: string;
  readonly watcher: InventoryWatcher;
  readonly stop: AbortController;
  readonly done: Promise<void>;
}

/**
 * One inventory watcher per Site, owned by the Site controller: started when the Site is Ready,
 * restarted when its vCenter, datacenter or credentials change, stopped when it is deleted or when
 * this replica stops leading. Other controllers subscribe to the change stream (to map changes to
 * their keys) and read the cached inventory.
 */
export class SiteInventories {
  private readonly running = new Map<string, Running>();
  private readonly listeners = new Set<InventoryListener>();
  private leading: AbortSignal | undefined;

  constructor(
    private readonly deps: { readonly connections: SiteConnections; readonly clock: Clock; readonly log: Logger },
  ) {}

  /** A manager runnable: watchers live only while `signal` (leadership) lasts. */
  run(signal: AbortSignal): Promise<void> {
    this.leading = signal;
    return new Promise((resolve) => {
      const stop = (): void => {
        void this.stopAll().then(resolve);
      };
      if (signal.aborted) stop();
      else signal.addEventListener("abort", stop, { once: true });
    });
  }

  subscribe(l: InventoryListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  get(site: string): InventoryWatcher | undefined {
    return this.running.get(site)?.watcher;
  }

  /** Starts (or restarts, when its connection changed) the Site's watcher. Idempotent. */
  ensure(site: Site): void {
    if (!this.leading || this.leading.aborted) return;
    const name = site.metadata.name;
    const opts = this.deps.connections.vcenterOptions(site);
    const fingerprint = createHash("sha256")
      .update([opts.url, opts.username, opts.password, opts.tls.caBundle ?? "", String(opts.tls.insecureSkipVerify), site.spec.vcenter.datacenter].join("\u0000"))
      .digest("hex");
    const current = this.running.get(name);
    if (current?.fingerprint === fingerprint) return;
    if (current) this.stop(name);
    const log = this.deps.log.child({ site: name });
    const datacenter = site.spec.vcenter.datacenter;
    const watcher = new InventoryWatcher({
      connect: (signal) => this.deps.connections.sessions.get(opts, signal),
      root: async (session, signal) => {
        const dc = await new VcenterClient(session).findDatacenter(datacenter, signal);
        if (!dc) throw new Error(`datacenter "${datacenter}" not found`);
        return dc.ref;
      },
      clock: this.deps.clock,
      log,
      onEvent: (e) => {
        for (const l of this.listeners) {
          try {
            l(name, e);
          } catch (err) {
            log.error({ err }, "Inventory listener threw");
          }
        }
      },
    });
    const stop = new AbortController();
    const done = watcher.run(AbortSignal.any([stop.signal, this.leading]));
    this.running.set(name, { fingerprint, watcher, stop, done });
    log.info({ vcenter: opts.url, datacenter }, "Started vCenter inventory watch");
  }

  stop(site: string): void {
    const r = this.running.get(site);
    if (!r) return;
    r.stop.abort();
    this.running.delete(site);
    this.deps.log.info({ site }, "Stopped vCenter inventory watch");
  }

  async stopAll(): Promise<void> {
    const all = [...this.running.values()];
    for (const r of all) r.stop.abort();
    this.running.clear();
    await Promise.all(all.map((r) => r.done));
  }
}
