import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { ReplicationRelationshipType, setCondition } from "../../src/api/v1alpha1/index.js";
import type { ReplicationRelationship, ReplicationRelationshipStatus } from "../../src/api/v1alpha1/index.js";
import { updateStatusIfChanged } from "../../src/kube/store.js";
import type { KubeStore } from "../../src/kube/store.js";
import { Controller } from "../../src/runtime/controller.js";
import type { Reconciler } from "../../src/runtime/controller.js";
import { done } from "../../src/runtime/result.js";
import { ensureFinalizer, removeFinalizer } from "../../src/controllers/common/finalizers.js";
import { ConflictError } from "../../src/runtime/errors.js";
import { createRuntimeMetrics } from "../../src/metrics/controller.js";
import { systemClock } from "../../src/util/clock.js";
import { connect, eventually } from "../harness/kube.js";
import type { TestKube } from "../harness/kube.js";
import { capturingLogger, LEVEL } from "../harness/logs.js";
import { replicationRelationship } from "../fixtures/objects.js";

let t: TestKube;
let ns: string;
beforeAll(async () => {
  t = await connect();
  ns = await t.namespace("status");
});
afterAll(() => t.close());

/** Counts status writes that reach the API server. */
function countingStore(inner: KubeStore): KubeStore & { statusWrites: number } {
  const s = Object.create(inner) as KubeStore & { statusWrites: number };
  s.statusWrites = 0;
  s.replaceStatus = (type, obj, signal) => {
    s.statusWrites++;
    return inner.replaceStatus(type, obj, signal);
  };
  return s;
}

describe("status writes against a real API server", () => {
  it("retries a stale status write quietly after the server answers 409, and skips writing an unchanged status", async () => {
    const kube = countingStore(t.kube);
    const created = await t.kube.create(ReplicationRelationshipType, replicationRelationship(ns, "stale"));
    let passes = 0;
    const reconciler: Reconciler = {
      name: "status-test",
      async reconcile(ctx, key) {
        passes++;
        const rr = (await kube.get(ReplicationRelationshipType, key, ctx.signal)) as ReplicationRelationship;
        if (passes === 1) {
          // Someone else writes the object between our read and our status write.
          await t.kube.mergePatch(ReplicationRelationshipType, key, { metadata: { labels: { touched: "yes" } } });
        }
        const status: ReplicationRelationshipStatus = structuredClone(rr.status ?? {});
        status.observedGeneration = rr.metadata.generation;
        status.conditions ??= [];
        setCondition(status.conditions, { type: "Ready", status: "True", reason: "Replicating", observedGeneration: rr.metadata.generation }, "2026-11-25T10:00:00Z");
        await updateStatusIfChanged(kube, ReplicationRelationshipType, rr, status, ctx.signal);
        return done();
      },
    };
    const registry = new Registry();
    const metrics = createRuntimeMetrics(registry);
    const { log, lines } = capturingLogger();
    const controller = new Controller({ reconciler, log, clock: systemClock, metrics, workers: 2 });
    const stop = new AbortController();
    const running = controller.start(stop.signal);
    const key = `${ns}/${created.metadata.name}`;
    controller.enqueue(key);

    const written = await eventually(async () => {
      const rr = await t.kube.get(ReplicationRelationshipType, { namespace: ns, name: "stale" });
      return rr?.status?.conditions?.length ? rr : undefined;
    });
    await eventually(() => (controller.queue.isProcessing(key) ? undefined : true));
    expect(passes).toBe(2);
    expect(kube.statusWrites).toBe(2); // the stale one (409) and the retry
    const conflicts = (await registry.getSingleMetric("vmdr_reconcile_errors_total")?.get())?.values.find((v) => v.labels.class === "conflict");
    expect(conflicts?.value).toBe(1);
    const loud = lines().filter((l) => (l.level as number) >= LEVEL.warn);
    expect(loud, JSON.stringify(loud)).toEqual([]);
    expect(lines().some((l) => l.msg === "Object changed while reconciling; will retry")).toBe(true);

    // A pass that computes the same status writes nothing.
    controller.enqueue(key);
    await eventually(() => (passes === 3 && !controller.queue.isProcessing(key) ? true : undefined));
    expect(kube.statusWrites).toBe(2);
    const after = await t.kube.get(ReplicationRelationshipType, { namespace: ns, name: "stale" });
    expect(after?.metadata.resourceVersion).toBe(written.metadata.resourceVersion);
    stop.abort();
    await running;
  });

  it("adds and removes finalizers conditionally: a stale object gets a conflict, not a lost update", async () => {
    const rr = await t.kube.create(ReplicationRelationshipType, replicationRelationship(ns, "finalizers"));
    expect(await ensureFinalizer(t.kube, ReplicationRelationshipType, rr, "dr.vmdr.io/test")).toBe(true);
    // rr is now stale: another writer's finalizer list must not be overwritten.
    await expect(ensureFinalizer(t.kube, ReplicationRelationshipType, rr, "dr.vmdr.io/other")).rejects.toBeInstanceOf(ConflictError);
    const fresh = (await t.kube.get(ReplicationRelationshipType, { namespace: ns, name: "finalizers" }))!;
    expect(fresh.metadata.finalizers).toEqual(["dr.vmdr.io/test"]);
    expect(await ensureFinalizer(t.kube, ReplicationRelationshipType, fresh, "dr.vmdr.io/test")).toBe(false);
    expect(await removeFinalizer(t.kube, ReplicationRelationshipType, fresh, "dr.vmdr.io/test")).toBe(true);
    const gone = (await t.kube.get(ReplicationRelationshipType, { namespace: ns, name: "finalizers" }))!;
    expect(gone.metadata.finalizers ?? []).toEqual([]);
  });
});
