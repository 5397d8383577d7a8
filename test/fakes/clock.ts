import type { Clock } from "../../src/util/clock.js";

/** A clock that only moves when told to; timers fire in time order during advance(). */
export class FakeClock implements Clock {
  private t: number;
  private mono = 0;
  private timers: { at: number; seq: number; fn: () => void; cancelled: boolean }[] = [];
  private seq = 0;

  constructor(startMs = Date.UTC(2026, 10, 25, 12, 0, 0)) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  monotonic(): number {
    return this.mono;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const timer = { at: this.mono + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Timers not yet fired or cancelled. */
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by ms, firing due timers in order (timers they set are honoured too). */
  advance(ms: number): void {
    const end = this.mono + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => !t.cancelled && t.at <= end)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      due.cancelled = true;
      this.t += due.at - this.mono;
      this.mono = due.at;
      due.fn();
    }
    this.t += end - this.mono;
    this.mono = end;
    this.timers = this.timers.filter((t) => !t.cancelled);
  }
}

/** Lets pending promise callbacks run (microtasks and one macrotask turn). */
export function flushPromises(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
