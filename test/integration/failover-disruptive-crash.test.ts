import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FailoverRunType, ProtectionGroupType, ReplicationRelationshipType, findCondition } from "../../src/api/v1alpha1/index.js";
import type { FailoverRun } from "../../src/api/v1alpha1/index.js";
import { SecretType } from "../../src/sites/credentials.js";
import { Bind } from "../harness/bind.js";
import { eventually, NamespaceType } from "../harness/kube.js";
import { scratchDir } from "../harness/processes.js";
import { sampleSplitRuns, throughCrashes } from "../harness/runs.js";
import { World } from "../harness/world.js";

/**
 * Crash safety of the runs that move production, proven on the lab: a PlannedMigration of HR, its
 * Failback and its Reprotect, with the operator killed (SIGKILL) at every step boundary and
 * between every act and its checkpoint, once each, and restarted every time. Each run must
 * converge with its steps only moving forward; the lab's own counts must show every object changed
 * at most once; no storage may go away under a mounted datastore; and no VM may run at both sites
 * at any instant (ground truth sampled throughout). HR's DNS records on a real BIND follow it out
 * and home with each change sent once.
 */
let w: World;
let bind: Bind;
const ns = "dr";
const crashFile = join(scratchDir("crash-disruptive"), "crash-points");

interface Truth {
  mutations: Record<string, number>;
  storageFaults: unknown[];
  vms: { name: string; ref: string; instanceUuid: string; powerState: string; folder: string; guestIp?: string; guestHostName?: string; toolsAfterPowerOn: boolean; nics: { connected: boolean }[] }[];
}
const truth = (site: "site1" | "site2"): Promise<Truth> => w.lab.control<Truth>("GET", `/truth/sites/${site}/vcenter`);
/** What changed since `before`, by object (the lab counts its own start-up registrations too). */
const since = (before: Record<string, number>, after: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(after).flatMap(([k, n]): [string, number][] => (n > (before[k] ?? 0) ? [[k, n - (before[k] ?? 0)]] : [])));
const changedTwice = (m: Record<string, number>): string[] => Object.entries(m).filter(([, n]) => n > 1).map(([k, n]) => `${k} (${n}x)`);
type Storage = { clusters: { site: string; mutations: Record<string, number> }[] };

beforeAll(async () => {
  writeFileSync(crashFile, "*\n");
  w = await World.start({
    operatorArgs: ["--lease-duration=1s", "--renew-deadline=700ms", "--retry-period=200ms", "--secret-namespaces=vmdr-system,dr"],
    operatorEnv: { VMDR_TEST_CRASH_POINTS: crashFile },
  });
  await w.kube.create(NamespaceType, { metadata: { name: ns } });
  const hrHosts = (await truth("site1")).vms.filter((v) => v.folder.startsWith("Protection Group 1"));
  bind = await Bind.start({
    zones: [
      { name: "site2.vmbook.lab", records: hrHosts.map((h) => `${h.guestHostName!} 300 IN A ${h.guestIp!}`) },
      { name: "1.1.20.in-addr.arpa", records: hrHosts.map((h) => `${h.guestIp!.split(".")[3]!} 300 IN PTR ${h.guestHostName!}.site2.vmbook.lab.`) },
      { name: "1.1.30.in-addr.arpa" },
    ],
  });
  await w.kube.create(SecretType, { metadata: { namespace: ns, name: "hr-dns" }, stringData: { secret: bind.key.secret } });
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
      networkMappings: [{ protectedPortgroup: "Site1-LAN", recoveryPortgroup: "Site2-LAN" }],
      powerOn: { priorityGroups: [{ name: "db", priority: 1, vms: ["HR Database"] }] },
      ipCustomization: { rules: [{ fromCidr: "20.1.1.0/24", toCidr: "30.1.1.0/24", gateway: "30.1.1.254" }] },
      dns: {
        server: "127.0.0.1",
        port: bind.port,
        zone: "site2.vmbook.lab",
        reverseZones: [{ zone: "1.1.20.in-addr.arpa" }, { zone: "1.1.30.in-addr.arpa" }],
        tsig: { keyName: bind.key.name, secretRef: { name: "hr-dns" } },
      },
    },
  });
  w.startOperator();
  await eventually(async () => (findCondition((await w.kube.get(ProtectionGroupType, { namespace: ns, name: "hr" }))?.status?.conditions, "Ready")?.status === "True" ? true : undefined), 90_000, "hr Ready");
});
afterAll(async () => {
  await w?.stop();
  await bind?.close();
});



describe("a PlannedMigration, its Failback and its Reprotect survive the operator being killed at every step boundary and between every act and its checkpoint", () => {
  it("converge, with every object changed at most once and no VM ever running at both sites", async () => {
    const [b1, b2, bs] = [await truth("site1"), await truth("site2"), await w.lab.control<Storage>("GET", "/truth/storage")];
    const hr = b1.vms.filter((v) => v.folder.startsWith("Protection Group 1"));
    const updatesBefore = await bind.updatesReceived();
    const sampler = sampleSplitRuns(w);
    const runs: FailoverRun[] = [];
    let restarts = 0;
    for (const [name, type] of [["pm-crash", "PlannedMigration"], ["fb-crash", "Failback"], ["rp-crash", "Reprotect"]] as const) {
      // Out by guest customization, home by the guests' own re-IP script (VMbook appendix B).
      if (type === "Failback") await w.kube.mergePatch(ProtectionGroupType, { namespace: ns, name: "hr" }, { spec: { ipCustomization: { method: "GuestScript" } } });
      await w.kube.create(FailoverRunType, { metadata: { namespace: ns, name }, spec: { type, confirmation: type, protectionGroups: ["hr"], powerOn: { concurrency: 2 } } });
      const r = await throughCrashes(w, ns, name, 900_000);
      expect(findCondition(r.run.status?.conditions, "Succeeded"), `${name}: ${JSON.stringify(r.run.status?.steps)}`).toMatchObject({ status: "True" });
      runs.push(r.run);
      restarts += r.restarts;
    }
    expect(await sampler.stop()).toEqual([]);

    // Every step was crashed at its boundary; every crash was a restart.
    const crashed = readFileSync(`${crashFile}.done`, "utf8").trim().split("\n");
    for (const r of runs) for (const s of r.status?.steps ?? []) expect(crashed).toContain(`${r.spec.type}/${s.name}:step-boundary`);
    for (const s of ["ShutdownProtectedVms", "FinalUpdate", "CommitFailover", "QuiesceReplication", "BreakReplication", "MountDatastores", "RegisterVms", "ConfigureNetworks", "CustomizeGuests", "PowerOnVms", "UpdateDns"]) {
      expect(crashed).toContain(`PlannedMigration/${s}:after-act`);
    }
    for (const s of ["UnregisterVms", "UnmountDatastores", "DetachDevices", "ReverseResync", "ShutdownProtectedVms", "BreakReplication", "MountDatastores", "RegisterVms", "CustomizeGuests", "PowerOnVms", "UpdateDns"]) {
      expect(crashed).toContain(`Failback/${s}:after-act`);
    }
    for (const s of ["UnregisterVms", "UnmountDatastores", "DetachDevices", "ResyncForward", "ReleaseReverse", "ClearFailover", "ReleaseGroups"]) {
      expect(crashed).toContain(`Reprotect/${s}:after-act`);
    }
    expect(restarts).toBeGreaterThanOrEqual(crashed.length);

    // At most once, at both sites, in vCenter and in ONTAP; storage never pulled from under a mount.
    const [s1, s2] = [await truth("site1"), await truth("site2")];
    const [m1, m2] = [since(b1.mutations, s1.mutations), since(b2.mutations, s2.mutations)];
    const storage = await w.lab.control<Storage>("GET", "/truth/storage");
    // At Site 1 each VM is reconfigured three times, each once: its NICs onto Site1-LAN, its
    // script armed, its script off with its NICs connected.
    expect(changedTwice(m1).filter((k) => !k.startsWith("ReconfigVM "))).toEqual([]);
    expect(changedTwice(m2)).toEqual([]);
    for (const c of storage.clusters) expect(changedTwice(since(bs.clusters.find((x) => x.site === c.site)?.mutations ?? {}, c.mutations)), c.site).toEqual([]);
    expect(s1.storageFaults).toEqual([]);
    expect(s2.storageFaults).toEqual([]);
    // And the changes were made: each VM registered once at Site 2 and once back home, powered on once at each.
    expect(Object.keys(m2).filter((k) => k.startsWith("RegisterVM ")).length).toBe(hr.length);
    expect(Object.keys(m1).filter((k) => k.startsWith("RegisterVM ")).length).toBe(hr.length);
    expect(Object.keys(m1).filter((k) => k.startsWith("PowerOn ")).length).toBe(hr.length);
    // Re-addressed once on the way out (20.1.1.x → 30.1.1.x, customized) and once on the way home (by script).
    expect(Object.keys(m2).filter((k) => k.startsWith("CustomizeVM ")).length).toBe(hr.length);
    expect(Object.keys(m1).filter((k) => k.startsWith("CustomizeVM "))).toEqual([]);
    for (const v of hr) {
      const home = s1.vms.find((x) => x.instanceUuid === v.instanceUuid)!;
      expect(m1[`ReconfigVM ${home.ref}`], v.name).toBe(3);
      expect(home.toolsAfterPowerOn, v.name).toBe(false);
      expect(home.nics.every((x) => x.connected), v.name).toBe(true);
    }
    for (const v of hr) {
      expect(v.guestIp, v.name).toMatch(/^20\.1\.1\./);
      expect(s1.vms.find((x) => x.instanceUuid === v.instanceUuid)?.guestIp, v.name).toBe(v.guestIp);
    }
    // DNS: each VM's records changed once out and once home, one UPDATE per zone (forward, the new
    // reverse, the old reverse) each way, however often the operator died around them; and home again.
    expect(await bind.updatesReceived()).toBe(updatesBefore + 2 * 3 * hr.length);
    for (const v of hr) {
      const name = `${v.guestHostName!}.site2.vmbook.lab`;
      expect(await bind.dig(name, "A"), v.name).toEqual([v.guestIp]);
      expect(await bind.dig(`${v.guestIp!.split(".").reverse().join(".")}.in-addr.arpa`, "PTR"), v.name).toEqual([`${name}.`]);
    }
    for (const r of runs.slice(0, 2)) {
      expect(r.status?.vms?.length, r.metadata.name).toBe(hr.length);
      expect(r.status?.vms?.filter((v) => v.dns?.state !== "Updated" && v.dns?.state !== "Unchanged").map((v) => `${v.name}: ${v.dns?.state}`), r.metadata.name).toEqual([]);
    }

    // The end state: HR runs at Site 1 with its identity, nothing of it at Site 2, protected and Ready.
    for (const v of hr) expect(s1.vms.find((x) => x.instanceUuid === v.instanceUuid)?.powerState, v.name).toBe("poweredOn");
    expect(s2.vms.filter((v) => v.folder.startsWith("DR/Site1-Protection Group 1"))).toEqual([]);
    for (const vol of ["RG1FV1", "RG1FV2"]) expect((await w.lab.relationship<{ state: string }>("site2", `${vol}_SM`)).state).toBe("snapmirrored");
    await eventually(async () => (findCondition((await w.kube.get(ProtectionGroupType, { namespace: ns, name: "hr" }))?.status?.conditions, "Ready")?.status === "True" ? true : undefined), 90_000, "hr Ready after the reprotect");
  }, 2_400_000);
});
