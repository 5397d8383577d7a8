import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FailoverRunType, ProtectionGroupType, ReplicationRelationshipType, findCondition } from "../../src/api/v1alpha1/index.js";
import type { FailoverRun } from "../../src/api/v1alpha1/index.js";
import { eventually, NamespaceType } from "../harness/kube.js";
import { World } from "../harness/world.js";

/** Faults during a DR test: ONTAP and vCenter failing, or gone for a while, against the lab. */
let w: World;
const ns = "dr";
let seq = 0;

const run = (name: string) => w.kube.get(FailoverRunType, { namespace: ns, name });
async function finished(name: string, timeoutMs = 180_000): Promise<FailoverRun> {
  return eventually(async () => {
    const r = await run(name);
    const c = findCondition(r?.status?.conditions, "Succeeded");
    return c && c.status !== "Unknown" ? r : undefined;
  }, timeoutMs, `FailoverRun ${name} to finish`);
}
async function startTest(): Promise<string> {
  const name = `test-${++seq}`;
  await w.kube.create(FailoverRunType, { metadata: { namespace: ns, name }, spec: { type: "Test", protectionGroups: ["hr"], powerOn: { concurrency: 3 } } });
  return name;
}
/** Calls to a system that got no answer, as the operator counted them. */
async function unanswered(system: "vsphere" | "ontap"): Promise<number> {
  let n = 0;
  for (const m of (await w.metrics()).matchAll(/^vmdr_external_requests_total\{([^}]*)\} (\S+)$/gm)) {
    if (m[1]!.includes(`system="${system}"`) && /outcome="(unreachable|timeout)"/.test(m[1]!)) n += Number(m[2]);
  }
  return n;
}
/** Holds an outage for at least `ms`, and until the operator has tried (and failed) to reach the system several times. */
async function outage(system: "vsphere" | "ontap", ms: number): Promise<void> {
  const until = Date.now() + ms;
  const before = await unanswered(system);
  await eventually(async () => (Date.now() >= until && (await unanswered(system)) >= before + 5 ? true : undefined), ms + 120_000, `the operator to keep trying ${system}`);
}
const stepOf = async (name: string, step: string) => (await run(name))?.status?.steps?.find((s) => s.name === step);
const clones = async (): Promise<string[]> =>
  (await w.lab.control<{ clusters: { site: string; volumes: { name: string }[] }[] }>("GET", "/truth/storage")).clusters
    .find((c) => c.site === "site2")!
    .volumes.map((v) => v.name)
    .filter((n) => n.includes("_Clone_"));

beforeAll(async () => {
  // ONTAP jobs take 2 s of lab time, so a clone is still being made when ONTAP goes away.
  w = await World.start({ labArgs: ["--ontap-job-time", "2s"] });
  await w.kube.create(NamespaceType, { metadata: { name: ns } });
  await w.applySites();
  for (const vol of ["RG1FV1", "RG1FV2"]) {
    await w.kube.create(ReplicationRelationshipType, {
      metadata: { namespace: ns, name: vol.toLowerCase() },
      spec: { source: { siteRef: "site1", volume: vol }, destination: { siteRef: "site2", volume: `${vol}_SM` }, rpo: "2h" },
    });
  }
  await w.kube.create(ProtectionGroupType, {
    metadata: { namespace: ns, name: "hr" },
    spec: {
      protectedSiteRef: "site1",
      recoverySiteRef: "site2",
      replicationRefs: ["rg1fv1", "rg1fv2"],
      vms: { folder: "Protection Group 1" },
      shadow: { rootFolder: "DR", folderNameMapping: { prefix: "Site1-" }, resourcePool: "Site1-hr" },
      testPortgroup: "Site2-Test-Isolated",
    },
  });
  w.startOperator();
  await eventually(async () => (findCondition((await w.kube.get(ProtectionGroupType, { namespace: ns, name: "hr" }))?.status?.conditions, "Ready")?.status === "True" ? true : undefined), 90_000, "hr Ready");
});
afterEach(async () => {
  // Whatever a test left, a cleanup removes, so the next one starts from a clean recovery site.
  await w.lab.clearFaults();
  const held = (await w.kube.get(ProtectionGroupType, { namespace: ns, name: "hr" }))?.status?.activeRun;
  if (held) {
    const name = `cleanup-${++seq}`;
    await w.kube.create(FailoverRunType, { metadata: { namespace: ns, name }, spec: { type: "CleanupTest", testRun: held.name } });
    const c = await finished(name);
    expect(findCondition(c.status?.conditions, "Succeeded")).toMatchObject({ status: "True", reason: "CleanedUp" });
  }
  expect(await clones()).toEqual([]);
});
afterAll(async () => {
  await w?.stop();
});

describe("faults during a DR test (real kube-apiserver, lab, operator process)", () => {
  it("retries a failing FlexClone job with backoff, then fails the step with ONTAP's message; the cleanup still works", async () => {
    await w.lab.failNextJob("site2", { method: "POST", path: "/api/storage/volumes", code: 917536, message: "Cannot create FlexClone: aggregate aggr2 is out of space", count: 6 });
    const name = await startTest();
    const r = await finished(name);
    const c = findCondition(r.status?.conditions, "Succeeded")!;
    expect(c.status).toBe("False");
    expect(c.message).toMatch(/CloneVolumes failed: .*aggregate aggr2 is out of space/);
    const step = r.status!.steps!.find((s) => s.name === "CloneVolumes")!;
    expect(step.state).toBe("Failed");
    expect(step.message).toMatch(/after 3 attempt\(s\)/);
    expect(r.status!.steps!.filter((s) => s.state === "Pending").map((s) => s.name)).toEqual(["PresentClones", "RescanHosts", "MountDatastores", "FindVms", "RegisterVms", "IsolateNetworks", "CustomizeGuests", "PowerOnVms", "DisarmGuestScripts"]);
  }, 240_000);

  it("reports the one VM whose power-on keeps failing and recovers the others", async () => {
    for (let i = 0; i < 4; i++) await w.lab.failNextTask("site2", "PowerOnVM_Task", "InvalidState", "HR-App2");
    const name = await startTest();
    const r = await finished(name);
    expect(findCondition(r.status?.conditions, "Succeeded")).toMatchObject({ status: "False", reason: "VmsFailed" });
    const vms = r.status!.vms!;
    const failed = vms.find((v) => v.name === "HR-App2")!;
    expect(failed.state).toBe("Failed");
    expect(failed.message).toMatch(/InvalidState/);
    expect(vms.filter((v) => v.name !== "HR-App2").every((v) => v.state === "Ready")).toBe(true);
    expect(r.status?.progress).toBe(`${vms.length - 1}/${vms.length}`);
  }, 240_000);

  it("waits while Site 2's vCenter is unreachable for a minute, then carries on to the end", async () => {
    const name = await startTest();
    await eventually(async () => ((await stepOf(name, "FindVms"))?.state === "Succeeded" ? true : undefined), 120_000, "the VMs to be found");
    await w.lab.vcenterDown("site2", "reset");
    try {
      const waiting = await eventually(async () => {
        const p = findCondition((await run(name))?.status?.conditions, "Progressing");
        return p?.message.startsWith("waiting") || /waiting/.test(p?.message ?? "") ? p : undefined;
      }, 60_000, "the run to say it waits");
      expect(waiting.message).toMatch(/vCenter|VCenterUnreachable|unreachable|ECONNRESET|socket/i);
      await outage("vsphere", 60_000); // a minute, and the operator kept trying
      expect(findCondition((await run(name))?.status?.conditions, "Succeeded")?.status).toBe("Unknown");
    } finally {
      await w.lab.vcenterDown("site2", "up");
    }
    const r = await finished(name);
    expect(findCondition(r.status?.conditions, "Succeeded")).toMatchObject({ status: "True" });
    // Every step did its work (MakeRoom has none: the lab's Site 2 has room; nothing is re-addressed in a Test).
    expect(r.status?.steps?.filter((s) => s.state !== "Succeeded").map((s) => `${s.name} ${s.state}`)).toEqual(["MakeRoom Skipped", "CustomizeGuests Skipped", "DisarmGuestScripts Skipped"]);
  }, 300_000);

  it("waits while Site 2's ONTAP is down in the middle of cloning, then carries on to the end", async () => {
    const name = await startTest();
    await eventually(async () => ((await stepOf(name, "CloneVolumes"))?.state === "Running" ? true : undefined), 60_000, "cloning to start");
    await w.lab.ontapDown("site2", true);
    try {
      await eventually(async () => (/waiting/.test(findCondition((await run(name))?.status?.conditions, "Progressing")?.message ?? "") ? true : undefined), 60_000, "the run to say it waits");
      await outage("ontap", 15_000);
      expect(findCondition((await run(name))?.status?.conditions, "Succeeded")?.status).toBe("Unknown");
    } finally {
      await w.lab.ontapDown("site2", false);
    }
    const r = await finished(name);
    expect(findCondition(r.status?.conditions, "Succeeded")).toMatchObject({ status: "True" });
  }, 300_000);
});
