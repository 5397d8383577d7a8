import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReplicationRelationshipType, findCondition } from "../../src/api/v1alpha1/index.js";
import type { ReplicationRelationship } from "../../src/api/v1alpha1/index.js";
import { eventually, NamespaceType } from "../harness/kube.js";
import { World } from "../harness/world.js";

let w: World;
const ns = "dr";
beforeAll(async () => {
  // ONTAP jobs take 3 s of lab time so an initialize is still running when the operator is killed.
  w = await World.start({ labArgs: ["--ontap-job-time", "3s"] });
  await w.kube.create(NamespaceType, { metadata: { name: ns } });
  await w.applySites();
  w.startOperator();
});
afterAll(async () => {
  await w?.stop();
});

interface RelTruth {
  uuid: string;
  state: string;
  healthy: boolean;
  lagSeconds: number;
}
interface ClusterTruth {
  site: string;
  jobs: { description: string; state: string }[];
}

const rr = (name: string): Promise<ReplicationRelationship | undefined> => w.kube.get(ReplicationRelationshipType, { namespace: ns, name });
function cond(name: string, type: string, status: "True" | "False", reason?: string, timeoutMs = 40_000) {
  return eventually(async () => {
    const c = findCondition((await rr(name))?.status?.conditions, type);
    return c?.status === status && (reason === undefined || c.reason === reason) ? c : undefined;
  }, timeoutMs, `${name} ${type}=${status}${reason ? ` (${reason})` : ""}`);
}
const jobs = async (site: "site1" | "site2"): Promise<ClusterTruth["jobs"]> =>
  (await w.lab.control<{ clusters: ClusterTruth[] }>("GET", "/truth/storage")).clusters.find((c) => c.site === site)?.jobs ?? [];
const labState = async (dest: string): Promise<RelTruth | undefined> => w.lab.relationship<RelTruth>("site2", dest).catch(() => undefined);

function relationship(name: string, source: string, dest: string, extra: Partial<ReplicationRelationship["spec"]> = {}): ReplicationRelationship {
  return { metadata: { namespace: ns, name }, spec: { source: { siteRef: "site1", volume: source }, destination: { siteRef: "site2", volume: dest }, rpo: "2h", ...extra } };
}

describe("ReplicationRelationship controller (real kube-apiserver + lab)", () => {
  it("adopts an existing relationship without touching it", async () => {
    const before = await labState("RG1FV1_SM");
    await w.kube.create(ReplicationRelationshipType, relationship("rg1fv1", "RG1FV1", "RG1FV1_SM"));
    await cond("rg1fv1", "Ready", "True");
    const s = (await rr("rg1fv1"))!.status!;
    expect(s.uuid).toBe(before?.uuid);
    expect(s.state).toBe("snapmirrored");
    expect(findCondition(s.conditions, "Healthy")?.status).toBe("True");
    expect(findCondition(s.conditions, "WithinRPO")?.status).toBe("True");
    expect((await jobs("site2")).filter((j) => j.description.includes(before!.uuid) || j.description.startsWith("POST /api/snapmirror/relationships"))).toEqual([]);
  });

  it("creates and initializes a missing relationship, following its jobs across an operator restart without a second create", async () => {
    await w.kube.create(ReplicationRelationshipType, relationship("spare", "RG9FV1", "RG9FV1_SM"));
    await eventually(async () => ((await rr("spare"))?.status?.pendingOperation?.operation === "Initialize" ? true : undefined), 40_000, "the initialize to start");
    await w.killOperator();
    w.startOperator();
    await cond("spare", "Ready", "True", undefined, 60_000);
    expect((await labState("RG9FV1_SM"))?.state).toBe("snapmirrored");
    const site2 = await jobs("site2");
    expect(site2.filter((j) => j.description === "POST /api/snapmirror/relationships")).toHaveLength(1);
    expect(site2.filter((j) => j.description.startsWith("PATCH /api/snapmirror/relationships/"))).toHaveLength(1);
  });

  it("quiesces for Paused and resumes for Mirrored", async () => {
    await w.kube.mergePatch(ReplicationRelationshipType, { namespace: ns, name: "rg1fv1" }, { spec: { desiredState: "Paused" } });
    await eventually(async () => ((await labState("RG1FV1_SM"))?.state === "paused" ? true : undefined), 40_000, "paused in ONTAP");
    await cond("rg1fv1", "Ready", "True", "Paused");
    await w.kube.mergePatch(ReplicationRelationshipType, { namespace: ns, name: "rg1fv1" }, { spec: { desiredState: "Mirrored" } });
    await eventually(async () => ((await labState("RG1FV1_SM"))?.state === "snapmirrored" ? true : undefined), 40_000, "mirrored again");
    await cond("rg1fv1", "Ready", "True", "Mirrored");
  });

  it("reports an RPO breach while the replication link is cut, in the condition and the lag metric, and recovers", async () => {
    await w.lab.cutLink(true);
    try {
      await w.lab.advance("3h"); // hourly transfers fail while the link is down; lag grows
      const c = await cond("rg1fv1", "WithinRPO", "False", "RPOExceeded");
      expect(c.message).toMatch(/exceeds the RPO of 7200s/);
      const lag = await w.metric("vmdr_replication_lag_seconds", { namespace: ns, name: "rg1fv1" });
      expect(lag).toBeGreaterThan(3 * 3600 - 60);
      expect(await w.metric("vmdr_replication_rpo_seconds", { namespace: ns, name: "rg1fv1" })).toBe(7200);
    } finally {
      await w.lab.cutLink(false);
    }
    await w.lab.advance("1h"); // the next scheduled transfer succeeds
    await cond("rg1fv1", "WithinRPO", "True");
    expect(await w.metric("vmdr_replication_lag_seconds", { namespace: ns, name: "rg1fv1" })).toBeLessThan(7200);
  });

  it("breaks off for BrokenOff and resyncs when asked for Mirrored again, but never resyncs a break it did not make", async () => {
    await w.kube.mergePatch(ReplicationRelationshipType, { namespace: ns, name: "spare" }, { spec: { desiredState: "BrokenOff" } });
    await eventually(async () => ((await labState("RG9FV1_SM"))?.state === "broken_off" ? true : undefined), 40_000, "broken off");
    await cond("spare", "Ready", "True", "BrokenOff");
    await w.kube.mergePatch(ReplicationRelationshipType, { namespace: ns, name: "spare" }, { spec: { desiredState: "Mirrored" } });
    await eventually(async () => ((await labState("RG9FV1_SM"))?.state === "snapmirrored" ? true : undefined), 40_000, "resynced");

    // Someone breaks RG1FV1_SM behind the operator's back (a manual failover).
    const uuid = (await labState("RG1FV1_SM"))!.uuid;
    const ontap = w.lab.site("site2").ontap;
    const auth = `Basic ${Buffer.from(`${ontap.username}:${ontap.password}`).toString("base64")}`;
    const { HttpEndpoint } = await import("../../src/net/http.js");
    const http = new HttpEndpoint(ontap.url, { caBundle: w.lab.caPem() });
    for (const state of ["paused", "broken_off"]) {
      await http.request({ method: "PATCH", path: `/api/snapmirror/relationships/${uuid}`, headers: { authorization: auth, "content-type": "application/json" }, body: JSON.stringify({ state }) });
      await eventually(async () => ((await labState("RG1FV1_SM"))?.state === state ? true : undefined), 30_000, state);
    }
    http.close();
    const c = await cond("rg1fv1", "Ready", "False", "BrokenOffOutside");
    expect(c.message).toMatch(/resyncing would discard the destination's writes/);
    // Several more passes of the controller over every relationship, and still no resync.
    await w.afterPasses("replicationrelationship", 3 * (await w.kube.list(ReplicationRelationshipType, { namespace: ns })).items.length);
    expect((await labState("RG1FV1_SM"))?.state).toBe("broken_off");
    expect(findCondition((await rr("rg1fv1"))?.status?.conditions, "Ready")?.reason).toBe("BrokenOffOutside");
  });

  it("resyncs an outside break after it is acknowledged with desiredState BrokenOff and then asked for Mirrored (the remedy its message names)", async () => {
    expect((await labState("RG1FV1_SM"))?.state).toBe("broken_off");
    await w.kube.mergePatch(ReplicationRelationshipType, { namespace: ns, name: "rg1fv1" }, { spec: { desiredState: "BrokenOff" } });
    await cond("rg1fv1", "Ready", "True", "BrokenOff");
    expect((await rr("rg1fv1"))?.status?.brokenOffByOperator).toBe(true);
    await w.kube.mergePatch(ReplicationRelationshipType, { namespace: ns, name: "rg1fv1" }, { spec: { desiredState: "Mirrored" } });
    await eventually(async () => ((await labState("RG1FV1_SM"))?.state === "snapmirrored" ? true : undefined), 40_000, "resynced");
    await cond("rg1fv1", "Ready", "True", "Mirrored");
    expect((await rr("rg1fv1"))?.status?.brokenOffByOperator).toBeUndefined();
  });
});
