import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { ReplicationRelationshipType } from "../../src/api/v1alpha1/index.js";
import { EventType, KubeEventRecorder } from "../../src/runtime/events.js";
import { systemClock } from "../../src/util/clock.js";
import { connect } from "../harness/kube.js";
import type { TestKube } from "../harness/kube.js";
import { replicationRelationship } from "../fixtures/objects.js";

let t: TestKube;
let ns: string;
beforeAll(async () => {
  t = await connect();
  ns = await t.namespace("events");
});
afterAll(() => t.close());

describe("event recorder", () => {
  it("records an Event on the object and counts repeats on the same Event", async () => {
    const rr = await t.kube.create(ReplicationRelationshipType, replicationRelationship(ns, "evented"));
    const rec = new KubeEventRecorder({ kube: t.kube, clock: systemClock, log: pino({ level: "silent" }), component: "vmdr-test", instance: "i1" });
    rec.warning(rr, "RpoBreached", "lag 7300s exceeds RPO 2h");
    rec.warning(rr, "RpoBreached", "lag 7300s exceeds RPO 2h");
    rec.normal(rr, "Resumed", "replication resumed");
    await rec.flush();
    const list = await t.kube.list(EventType, { namespace: ns });
    const breached = list.items.filter((e) => e.reason === "RpoBreached");
    expect(breached).toHaveLength(1);
    expect(breached[0]).toMatchObject({
      type: "Warning",
      count: 2,
      message: "lag 7300s exceeds RPO 2h",
      involvedObject: { kind: "ReplicationRelationship", name: "evented", uid: rr.metadata.uid },
      source: { component: "vmdr-test" },
    });
    expect(list.items.filter((e) => e.reason === "Resumed")).toHaveLength(1);
  });
});
