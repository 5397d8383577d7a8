import type { Logger } from "../log/logger.js";
import type { Clock } from "../util/clock.js";
import { sleep } from "../util/clock.js";
import { backoffDelay, jitter } from "../util/backoff.js";
import { isGone } from "../kube/errors.js";
import type { KubeStore } from "../kube/store.js";
import { keyOf, keyString, resourcePath } from "../kube/types.js";
import type { KubeObject, ResourceType } from "../kube/types.js";
import type { Watcher, WatchEventType } from "../kube/watch.js";

export interface InformerHandlers<T> {
  onAdd?(obj: T): void;
  /** Also called with old === new on each resync. */
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

export interface InformerOptions<T extends KubeObject> {
  readonly type: ResourceType<T>;
  /** Restrict to one namespace; all namespaces when undefined. */
  readonly namespace?: string;
  readonly labelSelector?: string;
  /** A field selector, e.g. metadata.name=x to follow one object (what RBAC resourceNames can allow). */
  readonly fieldSelector?: string;
  /** Reduces each object before it is cached (e.g. to drop Secret keys nobody reads). */
  readonly transform?: (obj: T) => T;
  /** Told about every failed list or watch (the informer retries by itself). */
  readonly onError?: (err: unknown) => void;
  readonly kube: KubeStore;
  readonly watcher: Watcher;
  readonly clock: Clock;
  readonly log: Logger;
  /** Re-deliver every cached object as an update this often (default 10 min; 0 disables). */
  readonly resyncPeriodMs?: number;
  /** Backoff between failed list/watch attempts (default 200 ms → 30 s). */
  readonly backoff?: { baseMs: number; maxMs: number };
  /** Page size of the initial and recovery lists. */
  readonly pageSize?: number;
}

class GoneError extends Error {}

/**
 * A cache of one resource type kept current by list + watch (client-go's reflector + store):
 *  1. list (paged, consistent) and replace the cache, delivering adds, updates and deletes;
 *  2. watch from the list's resourceVersion with bookmarks, applying events to the cache;
 *  3. when the server ends the watch normally, watch again from the last resourceVersion;
 *     when it answers 410 Gone, or the watch or list fails, relist — after a backoff on failure.
 * Handlers run synchronously on the event and must not block; controllers only enqueue keys.
 */
export class Informer<T extends KubeObject> {
  private readonly o: InformerOptions<T>;
  private readonly store = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private lastResourceVersion: string | undefined;

  constructor(o: InformerOptions<T>) {
    this.o = o;
  }

  addHandlers(h: InformerHandlers<T>): void {
    this.handlers.push(h);
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** The resourceVersion the cache reflects (for read-your-writes checks). */
  resourceVersion(): string | undefined {
    return this.lastResourceVersion;
  }

  /** Resolves once the first list has been applied, or rejects when signal aborts first. */
  waitForSync(signal: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(new Error(`${this.o.type.kind} informer did not sync before shutdown`));
      signal.addEventListener("abort", onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }

  /** Runs until signal aborts. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, log } = this.o;
    const backoff = this.o.backoff ?? { baseMs: 200, maxMs: 30_000 };
    const stopResync = this.startResync(signal);
    let failures = 0;
    let rv: string | undefined;
    while (!signal.aborted) {
      try {
        if (rv === undefined) rv = await this.relist(signal);
        rv = await this.watchFrom(rv, signal);
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        rv = undefined;
        if (err instanceof GoneError) {
          log.debug({ kind: this.o.type.kind }, "Watch history expired; relisting");
          continue;
        }
        this.o.onError?.(err);
        const delay = backoffDelay(failures++, backoff);
        log.warn({ kind: this.o.type.kind, err, retryInMs: delay }, "List/watch failed; will relist");
        try {
          await sleep(clock, delay, signal);
        } catch {
          break;
        }
      }
    }
    stopResync();
  }

  private async relist(signal: AbortSignal): Promise<string> {
    const { kube, type, namespace, labelSelector, fieldSelector } = this.o;
    const items: T[] = [];
    let cont: string | undefined;
    let rv = "";
    do {
      let page;
      try {
        page = await kube.list(type, { namespace, labelSelector, fieldSelector, limit: this.o.pageSize ?? 500, continue: cont }, signal);
      } catch (err) {
        // An expired continue token: start the list over.
        if (isGone(err) && cont) {
          items.length = 0;
          cont = undefined;
          continue;
        }
        throw err;
      }
      items.push(...(this.o.transform ? page.items.map(this.o.transform) : page.items));
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion ?? "";
    } while (cont);
    this.replace(items);
    this.lastResourceVersion = rv;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    return rv;
  }

  /** Watches from rv until the server ends the stream; returns the last resourceVersion seen. */
  private async watchFrom(rv: string, signal: AbortSignal): Promise<string> {
    const { type, namespace, labelSelector, fieldSelector, watcher } = this.o;
    signal.throwIfAborted();
    let last = rv;
    let gone = false;
    let streamError: Error | undefined;
    const local = new AbortController();
    const both = AbortSignal.any([signal, local.signal]);
    const query: Record<string, string | number | boolean> = {
      resourceVersion: rv,
      allowWatchBookmarks: true,
      // Like client-go: a random 5-10 minute server-side timeout so idle watches are recycled.
      timeoutSeconds: Math.round(jitter(450, 1 / 3)),
    };
    if (labelSelector) query.labelSelector = labelSelector;
    if (fieldSelector) query.fieldSelector = fieldSelector;
    const onEvent = (evType: WatchEventType, raw: unknown): void => {
      if (evType === "ERROR") {
        const status = raw as { code?: number; message?: string };
        if (status.code === 410) gone = true;
        else streamError = new Error(`watch error: ${status.message ?? "unknown"}`);
        local.abort();
        return;
      }
      const obj = evType === "BOOKMARK" || !this.o.transform ? (raw as T) : this.o.transform(raw as T);
      const objRv = obj.metadata?.resourceVersion;
      if (objRv) last = objRv;
      if (evType === "BOOKMARK") return;
      this.apply(evType, obj);
    };
    try {
      await watcher.watch(resourcePath(type, namespace), query, onEvent, both);
    } catch (err) {
      if (gone) throw new GoneError();
      if (signal.aborted) throw err;
      throw streamError ?? err;
    }
    if (gone) throw new GoneError();
    if (streamError) throw streamError;
    this.lastResourceVersion = last;
    return last;
  }

  private apply(evType: WatchEventType, obj: T): void {
    const key = keyString(keyOf(obj));
    const old = this.store.get(key);
    if (evType === "DELETED") {
      this.store.delete(key);
      this.dispatch((h) => h.onDelete?.(obj));
      return;
    }
    this.store.set(key, obj);
    if (!old) this.dispatch((h) => h.onAdd?.(obj));
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.dispatch((h) => h.onUpdate?.(old, obj));
  }

  /** Replaces the cache with a fresh list, delivering the differences. */
  private replace(items: T[]): void {
    const fresh = new Map<string, T>();
    for (const obj of items) fresh.set(keyString(keyOf(obj)), obj);
    for (const [key, old] of this.store) {
      if (!fresh.has(key)) {
        this.store.delete(key);
        this.dispatch((h) => h.onDelete?.(old));
      }
    }
    for (const [key, obj] of fresh) {
      const old = this.store.get(key);
      this.store.set(key, obj);
      if (!old) this.dispatch((h) => h.onAdd?.(obj));
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.dispatch((h) => h.onUpdate?.(old, obj));
    }
  }

  private startResync(signal: AbortSignal): () => void {
    const period = this.o.resyncPeriodMs ?? 600_000;
    if (period <= 0) return () => {};
    let cancel: () => void = () => {};
    const tick = (): void => {
      if (signal.aborted) return;
      if (this.synced) for (const obj of this.store.values()) this.dispatch((h) => h.onUpdate?.(obj, obj));
      cancel = this.o.clock.setTimer(tick, period);
    };
    cancel = this.o.clock.setTimer(tick, period);
    return () => cancel();
  }

  private dispatch(fn: (h: InformerHandlers<T>) => void): void {
    for (const h of this.handlers) {
      try {
        fn(h);
      } catch (err) {
        this.o.log.error({ err, kind: this.o.type.kind }, "Informer event handler threw");
      }
    }
  }
}
