import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FailoverRunType, ProtectionGroupType, ReplicationRelationshipType, findCondition } from "../../src/api/v1alpha1/index.js";
import { eventually, NamespaceType } from "../harness/kube.js";
import { scratchDir } from "../harness/processes.js";
import { throughCrashes } from "../harness/runs.js";
import { World } from "../harness/world.js";

/**
 * Crash safety, proven on the lab: the operator process is killed (SIGKILL, as a node failure
 * would) at every step boundary and between every act and its checkpoint, of every step of a Test
 * and of its CleanupTest, once each, and restarted every time. Both runs must converge, their step
 * records must only move forward, and the lab's own count of changes must show every object
 * changed at most once.
 */
let w: World;
const ns = "dr";
const crashFile = join(scratchDir("crash"), "crash-points");

beforeAll(async () => {
  writeFileSync(crashFile, "*\n");
  w = await World.start({
    // A short lease: a killed leader's successor takes over quickly.
    operatorArgs: ["--lease-duration=1s", "--renew-deadline=700ms", "--retry-period=200ms"],
    operatorEnv: { VMDR_TEST_CRASH_POINTS: crashFile },
  });
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
      powerOn: { priorityGroups: [{ name: "db", priority: 1, vms: ["HR Database"] }] },
    },
  });
  w.startOperator();
  await eventually(async () => (findCondition((await w.kube.get(ProtectionGroupType, { namespace: ns, name: "hr" }))?.status?.conditions, "Ready")?.status === "True" ? true : undefined), 90_000, "hr Ready");
});
afterAll(async () => {
  await w?.stop();
});


interface Truth {
  mutations: Record<string, number>;
  storageFaults: unknown[];
}
const changedTwice = (m: Record<string, number>): string[] => Object.entries(m).filter(([, n]) => n > 1).map(([k, n]) => `${k} (${n}x)`);

describe("a Test and its CleanupTest survive the operator being killed at every step boundary and between every act and its checkpoint", () => {
  it("converges, with every object changed at most once", async () => {
    // What pre-registration changed before the Test: the placeholders are its, not the Test's.
    const before = new Set(Object.keys((await w.lab.control<Truth>("GET", "/truth/sites/site2/vcenter")).mutations));
    await w.kube.create(FailoverRunType, { metadata: { namespace: ns, name: "test-crash" }, spec: { type: "Test", protectionGroups: ["hr"], powerOn: { concurrency: 2 } } });
    const test = await throughCrashes(w, ns, "test-crash", 600_000);
    expect(findCondition(test.run.status?.conditions, "Succeeded")).toMatchObject({ status: "True" });
    expect(test.run.status?.progress).toBe("6/6");

    await w.kube.create(FailoverRunType, { metadata: { namespace: ns, name: "cleanup-crash" }, spec: { type: "CleanupTest", testRun: "test-crash" } });
    const cleanup = await throughCrashes(w, ns, "cleanup-crash", 600_000);
    expect(findCondition(cleanup.run.status?.conditions, "Succeeded")).toMatchObject({ status: "True", reason: "CleanedUp" });

    // Every step was crashed at its boundary, and every step that acted between its act and checkpoint.
    const crashed = readFileSync(`${crashFile}.done`, "utf8").trim().split("\n");
    for (const s of test.run.status?.steps ?? []) expect(crashed).toContain(`Test/${s.name}:step-boundary`);
    for (const s of cleanup.run.status?.steps ?? []) expect(crashed).toContain(`CleanupTest/${s.name}:step-boundary`);
    for (const s of ["ClaimGroups", "SelectSnapshots", "CloneVolumes", "PresentClones", "RescanHosts", "MountDatastores", "FindVms", "RegisterVms", "IsolateNetworks", "PowerOnVms"]) {
      expect(crashed).toContain(`Test/${s}:after-act`);
    }
    for (const s of ["ClaimGroups", "PowerOffVms", "UnregisterVms", "UnmountDatastores", "DetachDevices", "UnpresentClones", "DeleteClones", "RescanHosts", "ReleaseGroups"]) {
      expect(crashed).toContain(`CleanupTest/${s}:after-act`);
    }
    // Every crash was a restart (a restart may also follow a lease lost on a loaded machine).
    expect(test.restarts + cleanup.restarts).toBeGreaterThanOrEqual(crashed.length);

    const vc = await w.lab.control<Truth>("GET", "/truth/sites/site2/vcenter");
    const storage = await w.lab.control<{ clusters: (Truth & { site: string })[] }>("GET", "/truth/storage");
    const ontap = storage.clusters.find((c) => c.site === "site2")!.mutations;
    expect(changedTwice(vc.mutations)).toEqual([]);
    expect(changedTwice(ontap)).toEqual([]);
    // And the changes were made: six registrations (of the Test's copies; the placeholders are
    // pre-registration's) and power-ons, two clones created and deleted.
    const short = test.run.metadata.uid!.replace(/-/g, "").slice(0, 8);
    const byTest = Object.keys(vc.mutations).filter((k) => !before.has(k));
    expect(byTest.filter((k) => k.startsWith("RegisterVM ")).length).toBe(6);
    expect(byTest.filter((k) => k.startsWith("PowerOn ")).length).toBe(6);
    expect(Object.keys(ontap).filter((k) => k.startsWith("CreateVolume ") && k.includes(short)).length).toBe(2);
    expect(Object.keys(ontap).filter((k) => k.startsWith("DeleteVolume ") && k.includes(short)).length).toBe(2);
    expect(vc.storageFaults).toEqual([]);
    expect((await w.lab.control<{ vms: { folder: string }[] }>("GET", "/truth/sites/site2/vcenter")).vms.filter((v) => v.folder.startsWith("DR/"))).toEqual([]);
  }, 900_000);
});
