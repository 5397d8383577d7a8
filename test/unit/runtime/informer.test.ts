import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { ReplicationRelationshipType } from "../../../src/api/v1alpha1/index.js";
import type { ReplicationRelationship } from "../../../src/api/v1alpha1/index.js";
import { Informer } from "../../../src/runtime/informer.js";
import type { Watcher, WatchEventType } from "../../../src/kube/watch.js";
import { FakeKubeStore } from "../../fakes/kube-store.js";
import { FakeClock, flushPromises } from "../../fakes/clock.js";
import { replicationRelationship } from "../../fixtures/objects.js";

type Step = { before?: () => Promise<unknown>; events: [WatchEventType, unknown][]; end: "close" | "error" | "hang" };

/** A watcher that plays one scripted step per watch call and records the resourceVersions asked for. */
class ScriptedWatcher implements Watcher {
  readonly requested: string[] = [];
  constructor(private readonly steps: Step[]) {}
  async watch(_path: string, query: Record<string, string | number | boolean>, onEvent: (t: WatchEventType, o: unknown) => void, signal: AbortSignal): Promise<void> {
    this.requested.push(String(query.resourceVersion));
    const step: Step = this.steps.shift() ?? { events: [], end: "hang" };
    await step.before?.();
    for (const [t, o] of step.events) onEvent(t, o);
    if (step.end === "close") return Promise.resolve();
    if (step.end === "error") return Promise.reject(new Error("connection reset"));
    if (signal.aborted) throw new Error("aborted");
    return new Promise((_res, rej) => signal.addEventListener("abort", () => rej(new Error("aborted")), { once: true }));
  }
}

function rr(name: string, rv: string, rpo = "2h"): ReplicationRelationship {
  const o = replicationRelationship("ns", name);
  o.metadata.resourceVersion = rv;
  o.spec.rpo = rpo;
  return o;
}

describe("Informer (unit, scripted watch)", () => {
  it("relists on 410 Gone and delivers the difference as adds, updates and deletes", async () => {
    const kube = new FakeKubeStore();
    const a = await kube.create(ReplicationRelationshipType, replicationRelationship("ns", "a"));
    const watcher = new ScriptedWatcher([
      {
        // While the watch is broken, a is deleted and b created; only a relist can tell.
        before: async () => {
          await kube.delete(ReplicationRelationshipType, { namespace: "ns", name: "a" });
          await kube.create(ReplicationRelationshipType, replicationRelationship("ns", "b"));
        },
        events: [["MODIFIED", { ...a, metadata: { ...a.metadata, resourceVersion: "100" }, spec: { ...a.spec, rpo: "3h" } }], ["ERROR", { kind: "Status", code: 410 }]],
        end: "close",
      },
    ]);
    const clock = new FakeClock();
    const informer = new Informer<ReplicationRelationship>({ type: ReplicationRelationshipType, kube, watcher, clock, log: pino({ level: "silent" }), resyncPeriodMs: 0 });
    const seen: string[] = [];
    informer.addHandlers({
      onAdd: (o) => seen.push(`add ${o.metadata.name}`),
      onUpdate: (_o, n) => seen.push(`update ${n.metadata.name} ${n.spec.rpo}`),
      onDelete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    const stop = new AbortController();
    const run = informer.run(stop.signal);
    await flushPromises();
    await flushPromises();
    expect(seen).toEqual(["add a", "update a 3h", "delete a", "add b"]);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(["b"]);
    expect(watcher.requested).toHaveLength(2); // the Gone watch, then a fresh watch after the relist
    stop.abort();
    await run;
  });

  it("re-watches from the last resourceVersion after a normal end, and relists after a backoff on error", async () => {
    const kube = new FakeKubeStore();
    await kube.create(ReplicationRelationshipType, replicationRelationship("ns", "a"));
    const watcher = new ScriptedWatcher([
      { events: [["BOOKMARK", { metadata: { resourceVersion: "500" } }]], end: "close" },
      { events: [], end: "error" },
    ]);
    const clock = new FakeClock();
    const informer = new Informer<ReplicationRelationship>({
      type: ReplicationRelationshipType, kube, watcher, clock, log: pino({ level: "silent" }), resyncPeriodMs: 0, backoff: { baseMs: 1000, maxMs: 1000 },
    });
    const stop = new AbortController();
    const run = informer.run(stop.signal);
    await flushPromises();
    await flushPromises();
    expect(watcher.requested).toEqual(["2", "500"]);
    clock.advance(999);
    await flushPromises();
    expect(watcher.requested).toHaveLength(2); // still backing off
    clock.advance(1);
    await flushPromises();
    await flushPromises();
    expect(watcher.requested).toHaveLength(3); // relisted, watching again
    stop.abort();
    await run;
  });

  it("redelivers every cached object as an update on each resync", async () => {
    const kube = new FakeKubeStore();
    await kube.create(ReplicationRelationshipType, rr("a", "1"));
    await kube.create(ReplicationRelationshipType, rr("b", "1"));
    const clock = new FakeClock();
    const informer = new Informer<ReplicationRelationship>({
      type: ReplicationRelationshipType, kube, watcher: new ScriptedWatcher([]), clock, log: pino({ level: "silent" }), resyncPeriodMs: 60_000,
    });
    let updates = 0;
    informer.addHandlers({ onUpdate: () => updates++ });
    const stop = new AbortController();
    const run = informer.run(stop.signal);
    await informer.waitForSync(stop.signal);
    clock.advance(60_000);
    expect(updates).toBe(2);
    clock.advance(60_000);
    expect(updates).toBe(4);
    stop.abort();
    await run;
  });
});
