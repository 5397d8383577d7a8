import type { Clock } from "../util/clock.js";
import type { RateLimiter } from "./rate-limiter.js";

/** Optional instrumentation hooks (prom-client metrics in production, nothing in unit tests). */
export interface QueueMetrics {
  add(): void;
  retry(): void;
  depth(n: number): void;
  /** Seconds a key waited between becoming ready and being handed to a worker. */
  latency(seconds: number): void;
}

export interface WorkQueueOptions {
  readonly clock: Clock;
  readonly rateLimiter: RateLimiter;
  readonly metrics?: QueueMetrics;
}

interface Delayed {
  key: string;
  readyAt: number;
  seq: number;
  index: number; // position in the heap
}

/**
 * A keyed work queue with client-go's semantics (STYLE.md §2.3):
 *  - a key that is already waiting is not added twice (duplicates collapse);
 *  - a key that is being processed is never handed to a second worker; adding it meanwhile marks
 *    it dirty, and it is queued again, once, when the worker calls done();
 *  - addAfter() delays a key (the earliest of several requested times wins);
 *  - addRateLimited() delays it by the rate limiter (per-key exponential backoff and an overall
 *    bucket); forget() resets that backoff.
 * Keys are handed out in FIFO order of becoming ready.
 */
export class WorkQueue {
  private readonly clock: Clock;
  private readonly limiter: RateLimiter;
  private readonly metrics: QueueMetrics | undefined;

  // Ready keys: an array used as a FIFO with a moving head (amortised O(1) shift).
  private ready: string[] = [];
  private head = 0;
  private readonly readySince = new Map<string, number>();
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];

  // Delayed keys: a binary min-heap by readyAt plus an index so each key waits at most once.
  private readonly heap: Delayed[] = [];
  private readonly waiting = new Map<string, Delayed>();
  private seq = 0;
  private cancelTimer: (() => void) | undefined;
  private timerAt = Infinity;

  private shuttingDown = false;
  private drained: (() => void) | undefined;

  constructor(o: WorkQueueOptions) {
    this.clock = o.clock;
    this.limiter = o.rateLimiter;
    this.metrics = o.metrics;
  }

  /** Marks key for processing. No-op if it is already queued or after shutDown(). */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.metrics?.add();
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.pushReady(key);
  }

  /** Adds key after ms (0 or less: now). A key already waiting keeps the earlier of the two times. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const readyAt = this.clock.monotonic() + ms;
    const existing = this.waiting.get(key);
    if (existing) {
      if (readyAt < existing.readyAt) {
        existing.readyAt = readyAt;
        this.siftUp(existing.index);
        this.armTimer();
      }
      return;
    }
    const d: Delayed = { key, readyAt, seq: this.seq++, index: this.heap.length };
    this.waiting.set(key, d);
    this.heap.push(d);
    this.siftUp(this.heap.length - 1);
    this.armTimer();
  }

  /** Adds key after the rate limiter's delay for it (a retry). */
  addRateLimited(key: string): void {
    this.metrics?.retry();
    this.addAfter(key, this.limiter.when(key));
  }

  /** Resets key's backoff; call after a pass that did not fail. */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  retries(key: string): number {
    return this.limiter.retries(key);
  }

  /**
   * The next key to process, waiting until one is ready. Resolves undefined once the queue is
   * shut down and (for getters) empty. The caller must call done(key) when finished.
   */
  get(): Promise<string | undefined> {
    const key = this.popReady();
    if (key !== undefined) return Promise.resolve(key);
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Ends processing of key; if it was added meanwhile, it is queued again now. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.pushReady(key);
    if (this.shuttingDown && this.processing.size === 0) this.drained?.();
  }

  /** Keys ready to be processed now. */
  len(): number {
    return this.ready.length - this.head;
  }

  /** Keys waiting for a delay to pass. */
  delayedLen(): number {
    return this.waiting.size;
  }

  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }

  /** Stops handing out keys: pending get() calls resolve undefined and adds are ignored. */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    for (const w of this.waiters.splice(0)) w(undefined);
    this.ready = [];
    this.head = 0;
    this.heap.length = 0;
    this.waiting.clear();
  }

  /** shutDown(), then resolves once every key in processing has been marked done. */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.drained = resolve;
    });
  }

  private pushReady(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      this.metrics?.latency(0);
      waiter(key);
      return;
    }
    this.ready.push(key);
    this.readySince.set(key, this.clock.monotonic());
    this.metrics?.depth(this.len());
  }

  private popReady(): string | undefined {
    if (this.head >= this.ready.length) return undefined;
    const key = this.ready[this.head++] as string;
    if (this.head > 1024 && this.head * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.head);
      this.head = 0;
    }
    this.dirty.delete(key);
    this.processing.add(key);
    const since = this.readySince.get(key);
    this.readySince.delete(key);
    if (since !== undefined) this.metrics?.latency((this.clock.monotonic() - since) / 1000);
    this.metrics?.depth(this.len());
    return key;
  }

  private armTimer(): void {
    const next = this.heap[0];
    if (!next) return;
    if (next.readyAt >= this.timerAt && this.cancelTimer) return;
    this.cancelTimer?.();
    this.timerAt = next.readyAt;
    this.cancelTimer = this.clock.setTimer(() => this.fireDue(), next.readyAt - this.clock.monotonic());
  }

  private fireDue(): void {
    this.cancelTimer = undefined;
    this.timerAt = Infinity;
    const now = this.clock.monotonic();
    while (this.heap.length > 0 && (this.heap[0] as Delayed).readyAt <= now) {
      const d = this.popHeap();
      this.waiting.delete(d.key);
      this.add(d.key);
    }
    this.armTimer();
  }

  private less(a: Delayed, b: Delayed): boolean {
    return a.readyAt < b.readyAt || (a.readyAt === b.readyAt && a.seq < b.seq);
  }

  private siftUp(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i] as Delayed, h[p] as Delayed)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private swap(i: number, j: number): void {
    const h = this.heap;
    const a = h[i] as Delayed;
    const b = h[j] as Delayed;
    h[i] = b;
    h[j] = a;
    a.index = j;
    b.index = i;
  }

  private popHeap(): Delayed {
    const h = this.heap;
    const top = h[0] as Delayed;
    const last = h.pop() as Delayed;
    if (h.length > 0) {
      h[0] = last;
      last.index = 0;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l] as Delayed, h[m] as Delayed)) m = l;
        if (r < h.length && this.less(h[r] as Delayed, h[m] as Delayed)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}
