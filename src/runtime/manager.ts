import type http from "node:http";
import type { Registry } from "prom-client";
import type { Logger } from "../log/logger.js";
import type { RuntimeMetrics } from "../metrics/controller.js";
import type { Clock } from "../util/clock.js";
import type { KubeStore } from "../kube/store.js";
import { keyOf, keyString } from "../kube/types.js";
import type { KubeObject, ResourceType } from "../kube/types.js";
import type { Watcher } from "../kube/watch.js";
import type { Cache } from "./cache.js";
import { Controller } from "./controller.js";
import type { RateLimiter } from "./rate-limiter.js";
import type { Reconciler } from "./controller.js";
import { checksRoute, metricsRoute, serve } from "./health.js";
import type { Check } from "./health.js";
import { Informer } from "./informer.js";
import { LeaderElector } from "./leader-election.js";
import type { LeaderElectionOptions } from "./leader-election.js";

export interface ManagerOptions {
  readonly kube: KubeStore;
  readonly watcher: Watcher;
  readonly clock: Clock;
  readonly log: Logger;
  readonly registry: Registry;
  readonly metrics: RuntimeMetrics;
  /** Watch one namespace; all when undefined. */
  readonly namespace?: string;
  /** Leader election; undefined runs without it (single replica, tests). */
  readonly leaderElection?: Omit<LeaderElectionOptions, "kube" | "clock" | "log">;
  readonly healthProbeBindAddress: string; // "0" disables
  readonly metricsBindAddress: string; // "0" disables
  readonly workers: number;
  readonly reconcileTimeoutMs: number;
  readonly resyncPeriodMs: number;
  /** How long a graceful stop waits for in-flight reconciles. */
  readonly gracefulShutdownMs?: number;
}

/** Maps a watched object to the keys of the objects a controller should reconcile. */
export type MapFunc<T> = (obj: T) => readonly string[];

export type RunOutcome = "stopped" | "lost";

/**
 * Our controller-runtime Manager: shared informers, controllers, leader election, health and
 * metrics endpoints. Informers and controllers run only while this replica leads.
 */
export class Manager {
  private readonly o: ManagerOptions;
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly caches = new Map<string, Cache>();
  private readonly controllers: Controller[] = [];
  private readonly servers: http.Server[] = [];
  private elector: LeaderElector | undefined;
  private leading = false;
  private readonly extraReadyChecks: Check[] = [];
  private readonly runnables: ((signal: AbortSignal) => Promise<void>)[] = [];
  /** Addresses actually bound (useful when configured with port 0). */
  readonly addresses: { health?: string; metrics?: string } = {};

  constructor(o: ManagerOptions) {
    this.o = o;
  }

  /**
   * The shared informer for a type (created on first use). Namespaced types follow the manager's
   * namespace unless allNamespaces.
   */
  informer<T extends KubeObject>(type: ResourceType<T>, o: { allNamespaces?: boolean } = {}): Informer<T> {
    const id = `${type.group}/${type.version}/${type.plural}`;
    let inf = this.informers.get(id);
    if (!inf) {
      inf = new Informer<KubeObject>({
        type: type,
        namespace: type.namespaced && !o.allNamespaces ? this.o.namespace : undefined,
        kube: this.o.kube,
        watcher: this.o.watcher,
        clock: this.o.clock,
        log: this.o.log,
        resyncPeriodMs: this.o.resyncPeriodMs,
      });
      this.informers.set(id, inf);
    }
    return inf as unknown as Informer<T>;
  }

  /**
   * Registers a cache that is not one shared informer (e.g. ReferencedSecrets): it runs with the
   * informers while this replica leads, controllers start once it has synced, and /readyz waits
   * for it.
   */
  addCache(id: string, cache: Cache): void {
    if (this.caches.has(id) || this.informers.has(id)) throw new Error(`cache ${id} is registered twice`);
    this.caches.set(id, cache);
  }

  /** Registers a reconciler (with the controller-runtime rate limiter unless given one); returns its controller for setting up watches. */
  addController(reconciler: Reconciler, workers = this.o.workers, rateLimiter?: RateLimiter): Controller {
    const c = new Controller({
      reconciler,
      log: this.o.log,
      clock: this.o.clock,
      metrics: this.o.metrics,
      workers,
      reconcileTimeoutMs: this.o.reconcileTimeoutMs,
      ...(rateLimiter ? { rateLimiter } : {}),
    });
    this.controllers.push(c);
    return c;
  }

  /** Enqueues keys into `controller` whenever an object of `type` is added, changed or deleted. */
  watch<T extends KubeObject>(
    controller: Controller,
    type: ResourceType<T>,
    map: MapFunc<T> = (o) => [keyString(keyOf(o))],
    o: { allNamespaces?: boolean } = {},
  ): void {
    const enqueue = (obj: T): void => {
      for (const k of map(obj)) controller.enqueue(k);
    };
    this.informer(type, o).addHandlers({ onAdd: enqueue, onUpdate: (_old, obj) => enqueue(obj), onDelete: enqueue });
  }

  /**
   * Registers long-running work that runs only while this replica leads (controller-runtime's
   * leader-election runnables), e.g. the vCenter inventory watchers. It gets the leadership signal.
   */
  addRunnable(run: (signal: AbortSignal) => Promise<void>): void {
    this.runnables.push(run);
  }

  addReadyCheck(c: Check): void {
    this.extraReadyChecks.push(c);
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Runs until `signal` aborts ("stopped", after a graceful drain and lease release) or the lease
   * is lost ("lost": every in-flight reconcile's signal is aborted and this resolves at once,
   * without draining; the caller must exit the process immediately).
   */
  async run(signal: AbortSignal): Promise<RunOutcome> {
    const { log } = this.o;
    await this.startServers();
    const leading = new AbortController();
    const stopAll = (): void => leading.abort(new Error("manager stopping"));
    signal.addEventListener("abort", stopAll, { once: true });
    if (signal.aborted) stopAll();
    try {
      if (this.o.leaderElection) {
        this.elector = new LeaderElector({ ...this.o.leaderElection, kube: this.o.kube, clock: this.o.clock, log });
        if (!(await this.elector.acquire(signal))) return "stopped";
      }
      this.leading = true;
      this.o.metrics.leader.set(1);
      const work = this.startWork(leading.signal);
      if (this.elector) {
        const outcome = await this.elector.hold(signal);
        if (outcome === "lost") {
          this.leading = false;
          this.o.metrics.leader.set(0);
          leading.abort(new Error("leader lease lost"));
          return "lost";
        }
      } else {
        if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      }
      leading.abort(new Error("manager stopping"));
      let cancelGrace = (): void => {};
      const grace = new Promise<void>((r) => (cancelGrace = this.o.clock.setTimer(r, this.o.gracefulShutdownMs ?? 30_000)));
      await Promise.race([work, grace]);
      cancelGrace();
      this.leading = false;
      this.o.metrics.leader.set(0);
      return "stopped";
    } finally {
      signal.removeEventListener("abort", stopAll);
      await this.closeServers();
    }
  }

  private async startWork(signal: AbortSignal): Promise<void> {
    const caches: Cache[] = [...this.informers.values(), ...this.caches.values()];
    const runs = caches.map((i) => i.run(signal));
    try {
      await Promise.all(caches.map((i) => i.waitForSync(signal)));
    } catch {
      await Promise.all(runs);
      return;
    }
    this.o.log.info({ informers: caches.length, controllers: this.controllers.map((c) => c.name) }, "Caches synced; starting controllers");
    await Promise.all([...this.runnables.map((r) => r(signal)), ...this.controllers.map((c) => c.start(signal)), ...runs]);
  }

  private readyChecks(): Check[] {
    return [
      {
        name: "informers-synced",
        check: () => {
          if (!this.leading) return undefined; // a standby is ready to take over
          const all: [string, Cache][] = [...this.informers.entries(), ...this.caches.entries()];
          const unsynced = all.filter(([, i]) => !i.hasSynced()).map(([id]) => id);
          return unsynced.length ? `not synced: ${unsynced.join(", ")}` : undefined;
        },
      },
      ...this.extraReadyChecks,
    ];
  }

  private async startServers(): Promise<void> {
    const { healthProbeBindAddress: h, metricsBindAddress: m, log } = this.o;
    if (h !== "0") {
      const ping: Check = { name: "ping", check: () => undefined };
      const s = await serve(h, { "/healthz": checksRoute(() => [ping]), "/readyz": checksRoute(() => this.readyChecks()) });
      this.servers.push(s.server);
      this.addresses.health = s.address;
      log.info({ address: s.address }, "Serving health probes");
    }
    if (m !== "0") {
      const s = await serve(m, { "/metrics": metricsRoute(this.o.registry) });
      this.servers.push(s.server);
      this.addresses.metrics = s.address;
      log.info({ address: s.address }, "Serving metrics");
    }
  }

  private async closeServers(): Promise<void> {
    await Promise.all(
      this.servers.splice(0).map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }
}
