import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { ReplicationRelationshipType } from "../../src/api/v1alpha1/index.js";
import type { ReplicationRelationship } from "../../src/api/v1alpha1/index.js";
import { RestKubeStore } from "../../src/kube/store.js";
import type { KubeRest } from "../../src/kube/rest.js";
import { ClientNodeWatcher } from "../../src/kube/watch.js";
import { Informer } from "../../src/runtime/informer.js";
import { systemClock } from "../../src/util/clock.js";
import { ControlPlane } from "../harness/control-plane.js";
import { NamespaceType, eventually } from "../harness/kube.js";
import { replicationRelationship } from "../fixtures/objects.js";

// This file restarts kube-apiserver, so it runs its own control plane.
let cp: ControlPlane;
let rest: KubeRest;
beforeAll(async () => {
  cp = await ControlPlane.start();
  rest = await cp.rest();
});
afterAll(async () => {
  rest.close();
  await cp.stop();
});

describe("informer", () => {
  it("delivers adds, updates and deletes, and recovers after the API server restarts", async () => {
    const kube = new RestKubeStore(rest);
    await kube.create(NamespaceType, { metadata: { name: "inf" } });
    const seen: string[] = [];
    const informer = new Informer<ReplicationRelationship>({
      type: ReplicationRelationshipType,
      namespace: "inf",
      kube,
      watcher: new ClientNodeWatcher(cp.kubeConfig()),
      clock: systemClock,
      log: pino({ level: "silent" }),
      resyncPeriodMs: 0,
      backoff: { baseMs: 100, maxMs: 1_000 },
    });
    informer.addHandlers({
      onAdd: (o) => seen.push(`add ${o.metadata.name}`),
      onUpdate: (_old, o) => seen.push(`update ${o.metadata.name} ${o.spec.rpo}`),
      onDelete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    const stop = new AbortController();
    const running = informer.run(stop.signal);
    await kube.create(ReplicationRelationshipType, replicationRelationship("inf", "before"));
    await informer.waitForSync(stop.signal);
    await eventually(() => (informer.get("inf/before") ? true : undefined));

    await cp.stopApiServer();
    await new Promise((r) => setTimeout(r, 500)); // the informer sees the stream end and fails to re-watch
    await cp.startApiServer();

    await kube.create(ReplicationRelationshipType, replicationRelationship("inf", "after"));
    await kube.mergePatch(ReplicationRelationshipType, { namespace: "inf", name: "before" }, { spec: { rpo: "4h" } });
    await eventually(() => (informer.get("inf/after") && informer.get("inf/before")?.spec.rpo === "4h" ? true : undefined), 30_000, "informer to catch up");
    await kube.delete(ReplicationRelationshipType, { namespace: "inf", name: "after" });
    await eventually(() => (informer.get("inf/after") ? undefined : true), 30_000, "delete to arrive");

    expect(seen).toEqual(["add before", "add after", "update before 4h", "delete after"]);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(["before"]);
    stop.abort();
    await running;
  });
});
