import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FailoverRunType, ProtectionGroupType, ReplicationRelationshipType, findCondition } from "../../src/api/v1alpha1/index.js";
import type { FailoverRun, ProtectionGroup } from "../../src/api/v1alpha1/index.js";
import { isJobRef } from "../../src/ontap/jobs.js";
import type { Done, JobRef } from "../../src/ontap/client.js";
import { createOntapClient } from "../../src/ontap/rest.js";
import { SecretType } from "../../src/sites/credentials.js";
import { pino } from "pino";
import { Bind } from "../harness/bind.js";
import { eventually, NamespaceType } from "../harness/kube.js";
import { sampleSplitRuns } from "../harness/runs.js";
import { World } from "../harness/world.js";

/**
 * The runs that move production, against the two-site lab with the operator as its own process:
 * a PlannedMigration of Finance (HR stays at Site 1), then a Disaster of HR with Site 1 cut off.
 * Throughout, ground truth is sampled: no VM ever runs at both sites. Finance's records on Site 2's
 * DNS server (a real BIND) follow its addresses out and home.
 */
let w: World;
let bind: Bind;
/** Finance's protected VMs at Site 1 before anything moved: host names and addresses. */
let financeHosts: { host: string; ip: string }[] = [];
const ptrOf = (ip: string): string => `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
const ns = "dr";
const FINANCE_RULE = { fromCidr: "20.1.1.0/24", toCidr: "30.1.1.0/24", gateway: "30.1.1.254", dns: ["30.1.1.5"] };
/** 20.1.1.150 → 30.1.1.150: the rule keeps the host part. */
const atSite2 = (ip: string | undefined): string | undefined => ip?.replace(/^20\.1\.1\./, "30.1.1.");

interface VmTruth {
  name: string;
  folder: string;
  instanceUuid: string;
  powerState: string;
  datastores: string[];
  nics: { portgroup: string; mac: string; connected: boolean }[];
  guestIp?: string;
  guestHostName?: string;
}
interface RelTruth {
  state: string;
}
const vms = async (site: "site1" | "site2"): Promise<VmTruth[]> => (await w.lab.control<{ vms: VmTruth[] }>("GET", `/truth/sites/${site}/vcenter`)).vms;
const relState = async (vol: string): Promise<string> => (await w.lab.relationship<RelTruth>("site2", `${vol}_SM`)).state;

function group(name: string, folder: string, refs: string[], extra: Partial<ProtectionGroup["spec"]> = {}): ProtectionGroup {
  return {
    metadata: { namespace: ns, name },
    spec: {
      protectedSiteRef: "site1",
      recoverySiteRef: "site2",
      replicationRefs: refs,
      vms: { folder },
      shadow: { rootFolder: "DR", folderNameMapping: { prefix: "Site1-" }, resourcePool: `Site1-${name}` },
      testPortgroup: "Site2-Test-Isolated",
      networkMappings: [{ protectedPortgroup: "Site1-LAN", recoveryPortgroup: "Site2-LAN" }],
      ...extra,
    },
  };
}

const run = (name: string) => w.kube.get(FailoverRunType, { namespace: ns, name });
const pg = (name: string) => w.kube.get(ProtectionGroupType, { namespace: ns, name });
async function finished(name: string, timeoutMs = 180_000): Promise<FailoverRun> {
  return eventually(async () => {
    const r = await run(name);
    const c = findCondition(r?.status?.conditions, "Succeeded");
    return c && c.status !== "Unknown" ? r : undefined;
  }, timeoutMs, `FailoverRun ${name} to finish`);
}
async function apply(name: string, spec: FailoverRun["spec"]): Promise<void> {
  await w.kube.create(FailoverRunType, { metadata: { namespace: ns, name }, spec });
}


beforeAll(async () => {
  // The groups' namespace holds Finance's TSIG key: the operator may read Secrets there.
  w = await World.start({ operatorArgs: ["--secret-namespaces=vmdr-system,dr"] });
  await w.kube.create(NamespaceType, { metadata: { name: ns } });
  financeHosts = (await vms("site1")).filter((v) => v.folder.startsWith("Protection Group 2")).map((v) => ({ host: v.guestHostName!, ip: v.guestIp! }));
  expect(financeHosts.length).toBeGreaterThan(0);
  // Site 2's DNS server holds Finance's records as they are while it runs at Site 1.
  bind = await Bind.start({
    zones: [
      { name: "site2.vmbook.lab", records: financeHosts.map((h) => `${h.host} 300 IN A ${h.ip}`) },
      { name: "1.1.20.in-addr.arpa", records: financeHosts.map((h) => `${h.ip.split(".")[3]} 300 IN PTR ${h.host}.site2.vmbook.lab.`) },
      { name: "1.1.30.in-addr.arpa" },
    ],
  });
  await w.kube.create(SecretType, { metadata: { namespace: ns, name: "finance-dns" }, stringData: { secret: bind.key.secret } });
  await w.applySites({
    // Where a failback re-creates a volume Site 1 lost, and whom its LUNs are mapped to.
    site1: (s) => Object.assign(s.spec.storage.controllers[0]!, { nfsAddress: "20.1.1.50", aggregate: "aggr1", igroups: ["site1_esx"] }),
    site2: (s) => (s.spec.storage.controllers[0]!.nfsAddress = "30.1.1.50"),
  });
  for (const vol of ["RG1FV1", "RG1FV2", "RG2FV1", "RG2FV2", "RG2FV3"]) {
    await w.kube.create(ReplicationRelationshipType, {
      metadata: { namespace: ns, name: vol.toLowerCase() },
      spec: { source: { siteRef: "site1", volume: vol }, destination: { siteRef: "site2", volume: `${vol}_SM` }, rpo: "2h" },
    });
  }
  await w.kube.create(ProtectionGroupType, group("hr", "Protection Group 1", ["rg1fv1", "rg1fv2"], {
    powerOn: { priorityGroups: [{ name: "db", priority: 1, vms: ["HR Database"] }] },
    // HR's guests re-address themselves (VMbook appendix B); Finance's are customized.
    ipCustomization: { rules: [FINANCE_RULE], method: "GuestScript" },
  }));
  // A VM of Site 2's own that Finance needs there (VMbook ch. 5: infrastructure at the recovery site).
  await w.lab.control("POST", "/sites/site2/vcenter/vms", { name: "Finance-Jumphost", folder: "Infrastructure", datastore: "LP1", portgroup: "Site2-LAN", ip: "30.1.1.77", poweredOn: false });
  // Finance moves from Site1-LAN (20.1.1.0/24) to Site2-LAN (30.1.1.0/24), keeping each host part.
  await w.kube.create(ProtectionGroupType, group("finance", "Protection Group 2", ["rg2fv1", "rg2fv2", "rg2fv3"], {
    auxiliaryVms: [{ name: "Finance-Jumphost", priority: 1 }],
    ipCustomization: { rules: [FINANCE_RULE] },
    dns: {
      server: "127.0.0.1",
      port: bind.port,
      zone: "site2.vmbook.lab",
      reverseZones: [{ zone: "1.1.20.in-addr.arpa" }, { zone: "1.1.30.in-addr.arpa" }],
      ttl: 60,
      tsig: { keyName: bind.key.name, secretRef: { name: "finance-dns" } },
    },
  }));
  w.startOperator();
  for (const g of ["hr", "finance"]) {
    await eventually(async () => (findCondition((await pg(g))?.status?.conditions, "Ready")?.status === "True" ? true : undefined), 90_000, `${g} Ready`);
  }
});
afterAll(async () => {
  await w?.stop();
  await bind?.close();
});

/** What Site 2's DNS server answers for each Finance host: its A record, and the PTR at each of its two addresses. */
async function financeDns(): Promise<{ host: string; a: string[]; ptrSite1: string[]; ptrSite2: string[] }[]> {
  return Promise.all(
    financeHosts.map(async (h) => ({
      host: h.host,
      a: await bind.dig(`${h.host}.site2.vmbook.lab`, "A"),
      ptrSite1: await bind.dig(ptrOf(h.ip), "PTR"),
      ptrSite2: await bind.dig(ptrOf(atSite2(h.ip)!), "PTR"),
    })),
  );
}

describe("PlannedMigration of Finance (HR stays at Site 1)", () => {
  it("is refused without its confirmation by the API server", async () => {
    await expect(apply("pm-unconfirmed", { type: "PlannedMigration", protectionGroups: ["finance"] })).rejects.toThrow(/confirmation/);
  });

  it("refuses a run whose re-IP rules overlap, before anything is touched", async () => {
    const before = await w.lab.control<{ mutations: Record<string, number> }>("GET", "/truth/sites/site1/vcenter");
    const rules = (r: object[]) => w.kube.mergePatch(ProtectionGroupType, { namespace: ns, name: "finance" }, { spec: { ipCustomization: { rules: r } } });
    await rules([FINANCE_RULE, { fromCidr: "20.1.0.0/16", toCidr: "40.1.0.0/16" }]);
    await apply("pm-overlap", { type: "PlannedMigration", protectionGroups: ["finance"], confirmation: "PlannedMigration" });
    const c = findCondition((await finished("pm-overlap", 30_000)).status?.conditions, "Succeeded");
    expect(c).toMatchObject({ status: "False", reason: "InvalidIpCustomization" });
    expect(c?.message).toContain("rules[1]");
    expect((await w.lab.control<{ mutations: Record<string, number> }>("GET", "/truth/sites/site1/vcenter")).mutations).toEqual(before.mutations);
    await rules([FINANCE_RULE]);
    await eventually(async () => {
      const g = await pg("finance");
      return g?.status?.observedGeneration === g?.metadata.generation && findCondition(g?.status?.conditions, "Ready")?.status === "True" ? true : undefined;
    }, 60_000, "finance Ready with its rules restored");
  });

  it("shuts Finance down at Site 1, breaks its mirrors and runs it at Site 2 on Site2-LAN, never at both sites", async () => {
    const financeAt1 = (await vms("site1")).filter((v) => v.folder.startsWith("Protection Group 2"));
    const hrAt1 = (await vms("site1")).filter((v) => v.folder.startsWith("Protection Group 1"));
    expect(financeAt1.every((v) => v.powerState === "poweredOn")).toBe(true);
    const updatesBefore = await bind.updatesReceived();
    const sampler = sampleSplitRuns(w);
    await apply("pm-finance", { type: "PlannedMigration", protectionGroups: ["finance"], confirmation: "PlannedMigration", powerOn: { concurrency: 4 } });
    const r = await finished("pm-finance");
    expect(await sampler.stop()).toEqual([]);
    const s = r.status!;
    expect(findCondition(s.conditions, "Succeeded"), JSON.stringify(s.steps)).toMatchObject({ status: "True", reason: "Succeeded" });
    // Every step did its work but the capacity ones: Site 2 has room, nothing is reclaimed or given back.
    expect(s.steps?.map((x) => [x.name, x.state])).toEqual(s.plan!.steps.map((n) => [n, n === "MakeRoom" || n === "ReturnRoom" || n === "DisarmGuestScripts" ? "Skipped" : "Succeeded"]));
    expect(s.rtoSeconds).toBeGreaterThan(0);
    expect(s.recoveryPoints?.map((p) => p.volume).sort()).toEqual(["RG2FV1_SM", "RG2FV2_SM", "RG2FV3_SM"]);
    expect(s.dataLossWindowSeconds).toBeGreaterThanOrEqual(0);

    // Site 1: Finance off (still registered, as the VMbook leaves it), HR untouched and replicating.
    const site1 = await vms("site1");
    for (const v of financeAt1) expect(site1.find((x) => x.instanceUuid === v.instanceUuid)?.powerState).toBe("poweredOff");
    for (const v of hrAt1) expect(site1.find((x) => x.instanceUuid === v.instanceUuid)?.powerState).toBe("poweredOn");
    for (const vol of ["RG2FV1", "RG2FV2", "RG2FV3"]) expect(await relState(vol)).toBe("broken_off");
    for (const vol of ["RG1FV1", "RG1FV2"]) expect(await relState(vol)).toBe("snapmirrored");

    // Site 2: every Finance VM running in its shadow folder, with its identity, on the mapped portgroup.
    const site2 = await vms("site2");
    for (const v of financeAt1) {
      const there = site2.find((x) => x.instanceUuid === v.instanceUuid);
      expect(there, v.name).toBeDefined();
      expect(there!.powerState).toBe("poweredOn");
      expect(there!.folder.startsWith("DR/Site1-Protection Group 2")).toBe(true);
      expect(there!.nics.map((n) => [n.portgroup, n.mac, n.connected])).toEqual(v.nics.map((n) => ["Site2-LAN", n.mac, true]));
      // Re-addressed by guest customization before its first boot there: 20.1.1.x → 30.1.1.x.
      expect(v.guestIp, v.name).toMatch(/^20\.1\.1\./);
      expect(there!.guestIp, v.name).toBe(atSite2(v.guestIp));
      expect(s.vms?.find((x) => x.instanceUuid === v.instanceUuid)?.addresses, v.name).toEqual([`${atSite2(v.guestIp)}/24`]);
      expect(s.vms?.find((x) => x.instanceUuid === v.instanceUuid)?.dns, v.name).toMatchObject({ name: `${v.guestHostName}.site2.vmbook.lab`, state: "Updated", before: { a: { values: [v.guestIp] } } });
    }
    // DNS follows: each host's A record is its new address, the new address's PTR names it, the
    // old one's no longer does; one signed UPDATE per zone per VM (forward, new and old reverse).
    const fqdn = (h: string): string => `${h}.site2.vmbook.lab.`;
    expect(await financeDns()).toEqual(financeHosts.map((h) => ({ host: h.host, a: [atSite2(h.ip)], ptrSite1: [], ptrSite2: [fqdn(h.host)] })));
    expect(await bind.updatesReceived()).toBe(updatesBefore + 3 * financeHosts.length);
    // The NFS replica is exported to Site 2's hosts by its own policy (it admits their subnet): kept.
    expect(await w.lab.control<{ exportPolicy: string; junction: string }>("GET", "/truth/sites/site2/ontap/volumes/RG2FV3_SM")).toMatchObject({ exportPolicy: "site2_esx_nfs", junction: "/RG2FV3_SM" });
    // How it was exported before (not mounted), recorded before the commit and carried by the group for the Reprotect.
    expect(s.volumes?.find((v) => v.volume === "RG2FV3_SM")?.nasBefore).toEqual({ exportPolicy: "site2_esx_nfs", runPolicy: expect.stringMatching(/^vmdr_[0-9a-f]{8}$/) });
    // The auxiliary VM of Site 2 started with the group, first (priority 1), and was left as it was.
    const jump = site2.find((x) => x.name === "Finance-Jumphost")!;
    expect(jump.powerState).toBe("poweredOn");
    expect(jump.nics.map((n) => n.portgroup)).toEqual(["Site2-LAN"]);
    expect(s.vms?.find((v) => v.name === "Finance-Jumphost")).toMatchObject({ auxiliary: true, wave: 0, state: "Ready" });
    // The group knows where it runs; it stays held until it is failed back.
    const f = (await pg("finance"))!.status!;
    expect(f.failover).toMatchObject({ state: "FailedOver", runningAt: "site2", run: "pm-finance", type: "PlannedMigration" });
    expect(f.failover?.replicaExports).toEqual([expect.objectContaining({ relationship: "rg2fv3", volume: "RG2FV3_SM", exportPolicy: "site2_esx_nfs" })]);
    expect(f.activeRun?.name).toBe("pm-finance");
  }, 240_000);

  it("refuses a Test or a second failover of the failed-over group, touching nothing", async () => {
    await apply("test-finance", { type: "Test", protectionGroups: ["finance"] });
    expect(findCondition((await finished("test-finance", 30_000)).status?.conditions, "Succeeded")).toMatchObject({ status: "False", reason: "GroupInUse" });
    await apply("pm-finance-again", { type: "PlannedMigration", protectionGroups: ["finance"], confirmation: "PlannedMigration" });
    const again = findCondition((await finished("pm-finance-again", 30_000)).status?.conditions, "Succeeded");
    expect(again?.status).toBe("False");
    expect(again?.message).toMatch(/already runs at Site site2|held by FailoverRun pm-finance/);
  });
});

describe("Failback and Reprotect of Finance", () => {
  const financeVols = ["RG2FV1", "RG2FV2", "RG2FV3"];
  const proof = `written at Site 2 after the failover ${Date.now()}`;

  it("refuses a Reprotect that would discard what Finance wrote at Site 2, touching nothing", async () => {
    const before = await w.lab.control<{ mutations: Record<string, number> }>("GET", "/truth/sites/site2/vcenter");
    await apply("reprotect-too-early", { type: "Reprotect", protectionGroups: ["finance"], confirmation: "Reprotect" });
    const c = findCondition((await finished("reprotect-too-early", 30_000)).status?.conditions, "Succeeded");
    expect(c).toMatchObject({ status: "False", reason: "WouldDiscardRecoverySiteChanges" });
    expect(c?.message).toContain("discardRecoverySiteChanges");
    expect((await w.lab.control<{ mutations: Record<string, number> }>("GET", "/truth/sites/site2/vcenter")).mutations).toEqual(before.mutations);
    for (const vol of financeVols) expect(await relState(vol)).toBe("broken_off");
    expect((await pg("finance"))!.status!.activeRun?.name).toBe("pm-finance");
  });

  it("brings Finance home with what was written at Site 2, on Site1-LAN, never running at both sites", async () => {
    // A write at Site 2 while Finance runs there: a file in the replica's active file system.
    const replica = await w.lab.control<{ dir: string }>("GET", "/truth/sites/site2/ontap/volumes/RG2FV1_SM");
    writeFileSync(join(replica.dir, "failback-proof.txt"), proof);
    const financeAt2 = (await vms("site2")).filter((v) => v.folder.startsWith("DR/Site1-Protection Group 2") && v.powerState === "poweredOn");
    expect(financeAt2.length).toBeGreaterThan(0);
    const updatesBefore = await bind.updatesReceived();
    const sampler = sampleSplitRuns(w);
    await apply("fb-finance", { type: "Failback", protectionGroups: ["finance"], confirmation: "Failback", powerOn: { concurrency: 4 } });
    const r = await finished("fb-finance", 300_000);
    expect(await sampler.stop()).toEqual([]);
    const s = r.status!;
    expect(findCondition(s.conditions, "Succeeded"), JSON.stringify(s.steps)).toMatchObject({ status: "True", reason: "Succeeded" });
    // Every step did its work but the capacity ones: Site 2 has room, nothing is reclaimed or given back.
    expect(s.steps?.map((x) => [x.name, x.state])).toEqual(s.plan!.steps.map((n) => [n, n === "MakeRoom" || n === "ReturnRoom" || n === "DisarmGuestScripts" ? "Skipped" : "Succeeded"]));

    // Site 1 has Site 2's data: the file came home with the reverse resync and the final update.
    const home = await w.lab.control<{ dir: string; type: string }>("GET", "/truth/sites/site1/ontap/volumes/RG2FV1");
    expect(home.type).toBe("rw");
    expect(await w.lab.control<{ exportPolicy: string }>("GET", "/truth/sites/site1/ontap/volumes/RG2FV3")).toMatchObject({ exportPolicy: "site1_esx_nfs" });
    expect(readFileSync(join(home.dir, "failback-proof.txt"), "utf8")).toBe(proof);
    // The reverse relationship is broken off at Site 1 (Reprotect releases it); the original stays broken.
    for (const vol of financeVols) {
      expect((await w.lab.relationship<RelTruth>("site1", vol)).state).toBe("broken_off");
      expect(await relState(vol)).toBe("broken_off");
    }
    // Every Finance VM runs at Site 1 again, in its own folder, on Site1-LAN, with its identity;
    // at Site 2 they are off.
    const site1 = await vms("site1");
    const site2 = await vms("site2");
    for (const v of financeAt2) {
      const there = site1.find((x) => x.instanceUuid === v.instanceUuid);
      expect(there, v.name).toBeDefined();
      expect(there!.powerState).toBe("poweredOn");
      expect(there!.folder.startsWith("Protection Group 2")).toBe(true);
      expect(there!.nics.map((n) => [n.portgroup, n.mac, n.connected])).toEqual(v.nics.map((n) => ["Site1-LAN", n.mac, true]));
      // Its Site 1 address back (the inverse rule, with the gateway it had at home).
      expect(v.guestIp, v.name).toMatch(/^30\.1\.1\./);
      expect(there!.guestIp, v.name).toBe(v.guestIp!.replace(/^30\.1\.1\./, "20.1.1."));
      expect(s.vms?.find((x) => x.instanceUuid === v.instanceUuid)?.reip?.nics[0], v.name).toMatchObject({ action: "reassign", source: "recorded", to: { gateway: "20.1.1.1" } });
      expect(site2.find((x) => x.instanceUuid === v.instanceUuid)?.powerState).toBe("poweredOff");
    }
    // DNS follows them home: the records are as they were before the planned migration.
    const fqdn = (h: string): string => `${h}.site2.vmbook.lab.`;
    expect(await financeDns()).toEqual(financeHosts.map((h) => ({ host: h.host, a: [h.ip], ptrSite1: [fqdn(h.host)], ptrSite2: [] })));
    expect(await bind.updatesReceived()).toBe(updatesBefore + 3 * financeHosts.length);
    expect(s.vms?.filter((v) => !v.auxiliary).map((v) => v.dns?.state)).toEqual(financeHosts.map(() => "Updated"));
    // Datastores were taken away from Site 1's hosts before their volumes were overwritten.
    expect((await w.lab.control<{ storageFaults: unknown[] }>("GET", "/truth/sites/site1/vcenter")).storageFaults).toEqual([]);
    expect((await pg("finance"))!.status!.failover).toMatchObject({ state: "FailedBack", runningAt: "site1", run: "fb-finance", type: "Failback" });
  }, 360_000);

  it("reprotects Finance: resynced toward Site 2, the reverse relationship released, the group Ready again", async () => {
    await apply("rp-finance", { type: "Reprotect", protectionGroups: ["finance"], confirmation: "Reprotect" });
    const r = await finished("rp-finance", 240_000);
    const s = r.status!;
    expect(findCondition(s.conditions, "Succeeded"), JSON.stringify(s.steps)).toMatchObject({ status: "True", reason: "Succeeded" });
    for (const vol of financeVols) expect(await relState(vol)).toBe("snapmirrored");
    // The resync carried Site 1's data, with what was written at Site 2, back to the replica.
    const replica = await w.lab.control<{ dir: string }>("GET", "/truth/sites/site2/ontap/volumes/RG2FV1_SM");
    expect(readFileSync(join(replica.dir, "failback-proof.txt"), "utf8")).toBe(proof);
    for (const vol of financeVols) await expect(w.lab.relationship<RelTruth>("site1", vol)).rejects.toThrow();
    // The NFS replica is exported as before the planned migration: by its own policy, not mounted.
    const nfs = await w.lab.volume<{ exportPolicy?: string; junction?: string }>("site2", "RG2FV3_SM");
    expect([nfs.exportPolicy, nfs.junction]).toEqual(["site2_esx_nfs", undefined]);
    // Site 2 holds no Finance registration any more; its replicas were unmounted before the resync.
    expect((await vms("site2")).filter((v) => v.folder.startsWith("DR/Site1-Protection Group 2"))).toEqual([]);
    expect((await w.lab.control<{ storageFaults: unknown[] }>("GET", "/truth/sites/site2/vcenter")).storageFaults).toEqual([]);
    const g = await eventually(async () => {
      const x = await pg("finance");
      return findCondition(x?.status?.conditions, "Ready")?.status === "True" ? x : undefined;
    }, 90_000, "finance Ready after its reprotect");
    expect(g.status?.failover).toBeUndefined();
    expect(g.status?.activeRun).toBeUndefined();
  }, 300_000);
});

/** A client of a lab site's ONTAP cluster, and a wait for the jobs it starts. */
function labOntap(site: "site1" | "site2") {
  const e = w.lab.site(site).ontap;
  const ontap = createOntapClient({ url: e.url, username: e.username, password: e.password, tls: { caBundle: w.lab.caPem() } }, { log: pino({ level: "silent" }) });
  const sig = (): AbortSignal => AbortSignal.timeout(30_000);
  const settle = async (ref: JobRef | Done): Promise<void> => {
    if (isJobRef(ref)) await eventually(async () => ((await ontap.getJob(ref, sig())).state === "success" ? true : undefined), 30_000, "an ONTAP job");
  };
  return { ontap, sig, settle, svm: e.svm ?? "" };
}

describe("Failback of Finance after Site 1 lost one of its volumes", () => {
  it("refuses to fail back onto a lost volume without createMissingVolumes, stopping nothing at Site 2; with it, re-creates the volume and brings Finance home with Site 2's data", async () => {
    // This time the NFS replica's own export admits no one and it is mounted where the storage
    // team keeps its DR volumes: the failover exports it by a policy of its own, at that junction.
    const dr = labOntap("site2");
    await dr.settle(await dr.ontap.setExportPolicy({ svm: dr.svm, name: "RG2FV3_SM" }, "default", dr.sig()));
    await dr.settle(await dr.ontap.mountVolume({ svm: dr.svm, name: "RG2FV3_SM" }, "/finance_dr", dr.sig()));
    await apply("pm-finance-2", { type: "PlannedMigration", protectionGroups: ["finance"], confirmation: "PlannedMigration" });
    const pm2 = await finished("pm-finance-2", 240_000);
    expect(findCondition(pm2.status?.conditions, "Succeeded")).toMatchObject({ status: "True" });
    const runPolicy = `vmdr_${(pm2.metadata.uid ?? "").replace(/-/g, "").slice(0, 8)}`;
    expect(await w.lab.volume("site2", "RG2FV3_SM")).toMatchObject({ exportPolicy: runPolicy, junction: "/finance_dr" });
    const site2Policies = async (): Promise<string[]> =>
      ((await w.lab.control<{ clusters: { site: string; exportPolicies: { name: string }[] }[] }>("GET", "/truth/storage")).clusters.find((c) => c.site === "site2")?.exportPolicies ?? []).map((p) => p.name);
    expect(await site2Policies()).toContain(runPolicy);
    const financeAt = async (site: "site1" | "site2"): Promise<VmTruth[]> =>
      (await vms(site)).filter((v) => v.folder.startsWith(site === "site1" ? "Protection Group 2" : "DR/Site1-Protection Group 2"));
    const running = (await financeAt("site2")).filter((v) => v.powerState === "poweredOn").length;
    expect(running).toBe(financeHosts.length);
    expect((await financeAt("site2")).filter((v) => v.powerState === "poweredOn" && v.datastores.includes("RP5")).length).toBeGreaterThan(0);
    // Site 1's storage loses RG2FV3, Finance's NFS datastore (RP5), while Finance runs at Site 2.
    const { ontap, sig, settle, svm } = labOntap("site1");
    await settle(await ontap.unmountVolume({ svm, name: "RG2FV3" }, sig()));
    await settle(await ontap.offlineVolume({ svm, name: "RG2FV3" }, sig()));
    await settle(await ontap.deleteVolume({ svm, name: "RG2FV3" }, sig()));
    expect(await ontap.getVolume({ svm, name: "RG2FV3" }, sig())).toBeUndefined();
    // What Finance wrote at Site 2 on that datastore.
    const proof = `written at Site 2 on RP5 after Site 1 lost it, ${Date.now()}`;
    writeFileSync(join((await w.lab.control<{ dir: string }>("GET", "/truth/sites/site2/ontap/volumes/RG2FV3_SM")).dir, "lost-volume-proof.txt"), proof);

    await apply("fb-finance-lost", { type: "Failback", protectionGroups: ["finance"], confirmation: "Failback" });
    const refused = (await finished("fb-finance-lost", 240_000)).status!;
    expect(findCondition(refused.conditions, "Succeeded")).toMatchObject({ status: "False" });
    const rs = refused.steps?.find((x) => x.name === "ReverseResync");
    expect(rs?.state, JSON.stringify(refused.steps)).toBe("Failed");
    expect(`${refused.volumes?.find((v) => v.volume === "RG2FV3")?.op?.error ?? ""} ${rs?.message ?? ""}`).toMatch(/RG2FV3 no longer exists at Site site1.*createMissingVolumes/);
    expect(refused.steps?.find((x) => x.name === "ShutdownProtectedVms")?.state).toBe("Pending");
    expect((await financeAt("site2")).filter((v) => v.powerState === "poweredOn").length).toBe(running);
    expect((await pg("finance"))!.status!.failover).toMatchObject({ state: "FailedOver", runningAt: "site2" });

    await apply("fb-finance-create", { type: "Failback", protectionGroups: ["finance"], confirmation: "Failback", createMissingVolumes: true });
    const r = (await finished("fb-finance-create", 300_000)).status!;
    expect(findCondition(r.conditions, "Succeeded"), JSON.stringify(r.steps)).toMatchObject({ status: "True" });
    // The re-created volume holds what Finance wrote at Site 2, and Finance runs at Site 1 only, on it.
    const home = await w.lab.volume<{ dir: string }>("site1", "RG2FV3");
    expect(readFileSync(join(home.dir, "lost-volume-proof.txt"), "utf8")).toBe(proof);
    expect((await financeAt("site2")).filter((v) => v.powerState === "poweredOn")).toEqual([]);
    const back = await financeAt("site1");
    expect(back.filter((v) => v.powerState === "poweredOn").length).toBe(running);
    expect(back.filter((v) => v.powerState === "poweredOn" && v.datastores.includes("RP5")).length).toBeGreaterThan(0);
    expect((await pg("finance"))!.status!.failover).toMatchObject({ state: "FailedBack", runningAt: "site1", run: "fb-finance-create" });
    // Protected again from the new volume: the original relationship resynced toward Site 2.
    await apply("rp-finance-2", { type: "Reprotect", protectionGroups: ["finance"], confirmation: "Reprotect" });
    const rp2 = (await finished("rp-finance-2", 240_000)).status!;
    expect(findCondition(rp2.conditions, "Succeeded")).toMatchObject({ status: "True" });
    expect(await relState("RG2FV3")).toBe("snapmirrored");
    // The replica is exported as the storage team had it, and the failover's policy is gone.
    expect(await w.lab.volume("site2", "RG2FV3_SM")).toMatchObject({ exportPolicy: "default", junction: "/finance_dr" });
    expect(await site2Policies()).not.toContain(runPolicy);
    expect(rp2.steps?.find((x) => x.name === "DeleteExportPolicies")).toMatchObject({ state: "Succeeded", message: "the failover's export policies are gone" });
    await eventually(async () => (findCondition((await pg("finance"))?.status?.conditions, "Ready")?.status === "True" ? true : undefined), 90_000, "finance Ready again");
  }, 600_000);
});

describe("A Test of HR that rehearses its re-IP by the guests' own script", () => {
  it("re-addresses HR's copies on the isolated portgroup by script, connects them once the addresses show, turns the scripts off, and leaves Site 1 alone", async () => {
    const hrAt1 = (await vms("site1")).filter((v) => v.folder.startsWith("Protection Group 1"));
    await apply("test-hr-reip", { type: "Test", protectionGroups: ["hr"], reIp: true });
    const r = await finished("test-hr-reip");
    const s = r.status!;
    expect(findCondition(s.conditions, "Succeeded"), JSON.stringify(s.vms?.map((v) => v.message))).toMatchObject({ status: "True" });
    for (const step of ["CustomizeGuests", "PowerOnVms", "DisarmGuestScripts"]) expect(s.steps?.find((x) => x.name === step)?.state, step).toBe("Succeeded");
    const truth2 = await w.lab.control<{ vms: (VmTruth & { toolsAfterPowerOn: boolean; ref: string })[]; mutations: Record<string, number> }>("GET", "/truth/sites/site2/vcenter");
    const copies = truth2.vms.filter((v) => v.folder.startsWith("DR/Site1-Protection Group 1"));
    expect(copies.map((v) => v.name).sort()).toEqual(hrAt1.map((v) => v.name).sort());
    for (const v of copies) {
      const source = hrAt1.find((x) => x.instanceUuid === v.instanceUuid)!;
      expect(v.guestIp, v.name).toBe(atSite2(source.guestIp));
      expect(v.nics.map((n) => [n.portgroup, n.connected]), v.name).toEqual(source.nics.map(() => ["Site2-Test-Isolated", true]));
      expect(v.toolsAfterPowerOn, v.name).toBe(false);
      expect(truth2.mutations[`CustomizeVM ${v.ref}`], v.name).toBeUndefined();
    }
    // Production kept its addresses.
    for (const v of await vms("site1")) if (v.folder.startsWith("Protection Group 1")) expect(v.guestIp, v.name).toMatch(/^20\.1\.1\./);
    await apply("cleanup-hr-reip", { type: "CleanupTest", testRun: "test-hr-reip" });
    expect(findCondition((await finished("cleanup-hr-reip")).status?.conditions, "Succeeded")?.status).toBe("True");
  }, 240_000);
});

describe("Disaster of HR with Site 1 cut off", () => {
  it("recovers HR at Site 2 from the last transferred snapshots without calling Site 1, and reports the recovery point", async () => {
    const hrAt1 = (await vms("site1")).filter((v) => v.folder.startsWith("Protection Group 1"));
    await w.lab.siteDown("site1", "reset");
    await apply("dr-hr", { type: "Disaster", protectionGroups: ["hr"], confirmation: "Disaster", powerOn: { concurrency: 4 } });
    const r = await finished("dr-hr");
    const s = r.status!;
    expect(findCondition(s.conditions, "Succeeded"), JSON.stringify(s.steps)).toMatchObject({ status: "True", reason: "Succeeded" });
    expect(s.recoveryPoints?.map((p) => p.volume).sort()).toEqual(["RG1FV1_SM", "RG1FV2_SM"]);
    for (const p of s.recoveryPoints ?? []) expect(p.createTime).toBeDefined();
    expect(s.dataLossWindowSeconds).toBeGreaterThan(0);
    const truth2 = await w.lab.control<{ vms: (VmTruth & { toolsAfterPowerOn: boolean; ref: string })[]; mutations: Record<string, number> }>("GET", "/truth/sites/site2/vcenter");
    for (const v of hrAt1) {
      const there = truth2.vms.find((x) => x.instanceUuid === v.instanceUuid);
      expect(there?.powerState, v.name).toBe("poweredOn");
      // Re-addressed from what the shadow record kept of its guest (Site 1 cannot be asked), by
      // the guest's own power-on script: no customization; then its NICs connected and the
      // scripts off, so it never re-addresses itself again.
      expect(v.guestIp, v.name).toMatch(/^20\.1\.1\./);
      expect(there?.guestIp, v.name).toBe(atSite2(v.guestIp));
      expect(there?.toolsAfterPowerOn, v.name).toBe(false);
      expect(there?.nics.every((n) => n.connected), v.name).toBe(true);
      expect(truth2.mutations[`CustomizeVM ${there!.ref}`], v.name).toBeUndefined();
    }
    expect(s.steps?.find((x) => x.name === "DisarmGuestScripts")?.state).toBe("Succeeded");
    for (const vol of ["RG1FV1", "RG1FV2"]) expect(await relState(vol)).toBe("broken_off");
    expect((await pg("hr"))!.status!.failover).toMatchObject({ state: "FailedOver", runningAt: "site2", type: "Disaster" });
  }, 240_000);

  it("reports a split brain when Site 1 returns with HR still running there, and powers nothing on or off there, resyncing nothing", async () => {
    // While Site 1 is lost nothing can be seen running there.
    expect(findCondition((await pg("hr"))?.status?.conditions, "SplitBrain")).toMatchObject({ status: "Unknown", reason: "SiteUnreachable" });
    const before = await w.lab.control<{ mutations: Record<string, number> }>("GET", "/truth/sites/site1/vcenter");
    await w.lab.siteDown("site1", "up");
    const hr = await eventually(async () => {
      const g = await pg("hr");
      return findCondition(g?.status?.conditions, "SplitBrain")?.status === "True" ? g : undefined;
    }, 60_000, "SplitBrain on hr");
    const c = findCondition(hr.status?.conditions, "SplitBrain")!;
    expect(c.reason).toBe("RunningAtBothSites");
    expect(c.message).toContain("HR Database");
    expect(await eventually(async () => ((await w.metric("vmdr_protection_group_condition", { namespace: ns, name: "hr", type: "SplitBrain", status: "True" })) === 1 ? 1 : undefined), 30_000, "the SplitBrain series")).toBe(1);
    // Finance was failed back and reprotected: protected again, no split brain there.
    expect(findCondition((await pg("finance"))?.status?.conditions, "SplitBrain")).toBeUndefined();
    // Several relationship passes later (each could have resynced): still nothing done at Site 1,
    // and the mirrors stay broken.
    await w.afterPasses("replicationrelationship", 10);
    const after = await w.lab.control<{ mutations: Record<string, number> }>("GET", "/truth/sites/site1/vcenter");
    expect(after.mutations).toEqual(before.mutations);
    for (const vol of ["RG1FV1", "RG1FV2"]) expect(await relState(vol)).toBe("broken_off");
  }, 120_000);
});
