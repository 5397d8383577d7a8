import type { Logger } from "../log/logger.js";
import type { Clock } from "../util/clock.js";
import { sleep } from "../util/clock.js";
import { backoffDelay } from "../util/backoff.js";
import { jsonEqual } from "../util/equal.js";
import { el, text } from "./soap/builder.js";
import { child } from "./soap/xml.js";
import { INVENTORY_PROPERTIES, INVENTORY_VIEW_TYPES, applyPropertyChanges, emptyInventoryObject } from "./inventory.js";
import { filterSpec, readRef, readUpdateSet } from "./property-collector.js";
import type { ObjectUpdate } from "./property-collector.js";
import type { VsphereSession } from "./session.js";
import { VcenterClient } from "./vcenter.js";
import { refKey } from "./types.js";
import type { InventoryObject, MoRef } from "./types.js";

export type InventoryEvent =
  | { readonly type: "added"; readonly object: InventoryObject }
  | { readonly type: "modified"; readonly object: InventoryObject; readonly previous: InventoryObject }
  | { readonly type: "removed"; readonly object: InventoryObject };

export interface InventoryWatcherOptions {
  /** A logged-in session (from the SessionCache); called again after every failure. */
  readonly connect: (signal: AbortSignal) => Promise<VsphereSession>;
  /** The container to follow (the Site's datacenter); the root folder when omitted. */
  readonly root?: (session: VsphereSession, signal: AbortSignal) => Promise<MoRef>;
  readonly clock: Clock;
  readonly log: Logger;
  /** Called for each change, synchronously and in order; must not block (enqueue keys). */
  readonly onEvent: (e: InventoryEvent) => void;
  /** Called after each (re)synchronisation with the full state. */
  readonly onSynced?: () => void;
  readonly maxWaitSeconds?: number; // 30
  readonly maxObjectUpdates?: number; // 100
  readonly backoff?: { baseMs: number; maxMs: number };
}

/**
 * Follows a vCenter inventory through a PropertyCollector filter and WaitForUpdatesEx, keeping a
 * typed cache of the objects and emitting one event per change (STYLE.md departure 2: event-driven,
 * not polled).
 *
 *  1. Create a ContainerView over the root and a filter over it; WaitForUpdatesEx from version "".
 *  2. The first answer (possibly truncated over several calls) is the full state: it replaces the
 *     cache and only the differences from what the cache held are emitted.
 *  3. Later answers are applied as they come (enter / modify / leave), merging several updates of
 *     one object in one UpdateSet; versions are opaque and passed back as received.
 *  4. On any failure (network, expired session, vCenter restart, filter gone) wait with backoff,
 *     reconnect and go back to 1. Because step 2 diffs against the cache, a reconnect neither
 *     repeats events nor loses the changes made while disconnected.
 */
export class InventoryWatcher {
  private readonly entries = new Map<string, InventoryObject>();
  private synced = false;
  /** The cache follows an answering vCenter now (false from a failed call until the next full sync). */
  private live = false;
  private lastVersion: string | undefined;
  /** Number of full (re)synchronisations, for tests and diagnostics. */
  syncs = 0;

  constructor(private readonly o: InventoryWatcherOptions) {}

  hasSynced(): boolean {
    return this.synced;
  }

  /**
   * Whether the cache is current: synced, and the watch has not failed since. After a failure the
   * cache still answers with what vCenter last said (for plans made while a site is lost), but
   * whatever it says about the present (a VM running there now) is only as old as the outage.
   */
  isLive(): boolean {
    return this.synced && this.live;
  }

  version(): string | undefined {
    return this.lastVersion;
  }

  get(ref: MoRef): InventoryObject | undefined {
    return this.entries.get(refKey(ref));
  }

  objects(): InventoryObject[] {
    return [...this.entries.values()];
  }

  /** Runs until signal aborts; never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = this.o.backoff ?? { baseMs: 500, maxMs: 30_000 };
    let failures = 0;
    while (!signal.aborted) {
      try {
        await this.session(signal, () => {
          failures = 0;
        });
      } catch (err) {
        this.live = false;
        if (signal.aborted) break;
        const delay = backoffDelay(failures++, backoff);
        this.o.log.warn({ err, retryInMs: delay }, "vCenter inventory watch failed; will reconnect");
        try {
          await sleep(this.o.clock, delay, signal);
        } catch {
          break;
        }
      }
    }
  }

  /** One connection's worth of watching; returns only by throwing (or on abort). */
  private async session(signal: AbortSignal, onHealthy: () => void): Promise<void> {
    const session = await this.o.connect(signal);
    const pc = session.content.propertyCollector;
    const root = this.o.root ? await this.o.root(session, signal) : session.content.rootFolder;
    const view = await new VcenterClient(session).createContainerView(root, INVENTORY_VIEW_TYPES, signal);
    let filter: MoRef | undefined;
    try {
      const filterRes = await session.call("CreateFilter", pc, [filterSpec("spec", INVENTORY_PROPERTIES, [{ obj: view, viaView: true }]), text("partialUpdates", false)], {
        signal,
        operation: "CreateFilter",
      });
      filter = readRef(child(filterRes, "returnval"));
      let version = "";
      let fresh: Map<string, InventoryObject> | undefined = new Map();
      const maxWait = this.o.maxWaitSeconds ?? 30;
      for (;;) {
        const res = await session.call(
          "WaitForUpdatesEx",
          pc,
          [text("version", version), el("options", [text("maxWaitSeconds", maxWait), text("maxObjectUpdates", this.o.maxObjectUpdates ?? 100)])],
          { signal, timeoutMs: (maxWait + 30) * 1000, operation: "WaitForUpdates" },
        );
        const set = readUpdateSet(child(res, "returnval"));
        if (!set) continue; // maxWaitSeconds passed with no change: ask again with the same version
        version = set.version;
        this.lastVersion = version;
        if (fresh) {
          for (const u of set.updates) applyTo(fresh, u);
          if (set.truncated) continue;
          this.resync(fresh);
          fresh = undefined;
          this.live = true;
          onHealthy();
          continue;
        }
        for (const u of set.updates) this.apply(u);
      }
    } finally {
      if (filter) void session.call("DestroyPropertyFilter", filter, [], { operation: "DestroyPropertyFilter", signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
      void session.call("DestroyView", view, [], { operation: "DestroyView", signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
    }
  }

  /** Replaces the cache with a full state, emitting only what differs. */
  private resync(fresh: Map<string, InventoryObject>): void {
    for (const [key, old] of this.entries) {
      if (!fresh.has(key)) {
        this.entries.delete(key);
        this.o.onEvent({ type: "removed", object: old });
      }
    }
    for (const [key, object] of fresh) this.put(key, object);
    this.synced = true;
    this.syncs++;
    this.o.onSynced?.();
  }

  private apply(u: ObjectUpdate): void {
    const key = refKey(u.obj);
    if (u.kind === "leave") {
      const old = this.entries.get(key);
      this.entries.delete(key);
      if (old) this.o.onEvent({ type: "removed", object: old });
      return;
    }
    const base = u.kind === "enter" ? emptyInventoryObject(u.obj) : (this.entries.get(key) ?? emptyInventoryObject(u.obj));
    if (base) this.put(key, applyPropertyChanges(base, u.changes));
  }

  private put(key: string, object: InventoryObject): void {
    const old = this.entries.get(key);
    this.entries.set(key, object);
    if (!old) this.o.onEvent({ type: "added", object });
    else if (!jsonEqual(old, object)) this.o.onEvent({ type: "modified", object, previous: old });
  }
}

/** Folds an update into a state being built from scratch (the initial full state). */
function applyTo(fresh: Map<string, InventoryObject>, u: ObjectUpdate): void {
  const key = refKey(u.obj);
  if (u.kind === "leave") {
    fresh.delete(key);
    return;
  }
  const base = (u.kind === "modify" ? fresh.get(key) : undefined) ?? emptyInventoryObject(u.obj);
  if (base) fresh.set(key, applyPropertyChanges(base, u.changes));
}
