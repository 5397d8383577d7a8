import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FailoverRunType, ProtectionGroupType, ReplicationRelationshipType, findCondition } from "../../src/api/v1alpha1/index.js";
import type { PlanView } from "../../src/cli/plan/render.js";
import { STEPS } from "../../src/controllers/failover-run/plan.js";
import type { MapModel } from "../../src/cli/map/model.js";
import { UNPRIVILEGED_TOKEN } from "../harness/control-plane.js";
import { runVmdr } from "../harness/cli.js";
import { eventually, NamespaceType } from "../harness/kube.js";
import { scratchDir, toolPath } from "../harness/processes.js";
import { World } from "../harness/world.js";

// vmdr map against what the operator really writes: the HR group of the VMbook on the lab, its
// relationships and shadow records, read by the CLI as a separate process with --kubeconfig and -n.
let w: World;
const ns = "dr";
beforeAll(async () => {
  w = await World.start();
  await w.kube.create(NamespaceType, { metadata: { name: ns } });
  await w.applySites();
  for (const [name, vol] of [["rg1fv1", "RG1FV1"], ["rg1fv2", "RG1FV2"]] as const) {
    await w.kube.create(ReplicationRelationshipType, {
      metadata: { namespace: ns, name },
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
      shadow: { rootFolder: "DR-virtual machines", folderNameMapping: { prefix: "Site1-" }, resourcePool: "Site1-HRServers" },
      testPortgroup: "Site2-Test-Isolated",
    },
  });
  w.startOperator();
  await eventually(async () => {
    const pg = await w.kube.get(ProtectionGroupType, { namespace: ns, name: "hr" });
    return findCondition(pg?.status?.conditions, "Ready")?.status === "True" ? pg : undefined;
  }, 60_000, `HR Ready:\n${w.operator?.tail(20) ?? ""}`);
});
afterAll(async () => {
  await w?.stop();
});

const map = async (...args: string[]): Promise<MapModel> => {
  const r = await runVmdr(["map", "--kubeconfig", w.cp.kubeconfigPath, "-n", ns, "-o", "json", ...args]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as MapModel;
};

// vmdr plan before the map tests below add a VM HR does not replicate (which makes HR not Ready).
describe("vmdr plan (the plan of a FailoverRun, by the operator's own planning code)", () => {
  const runFile = (name: string, spec: object): string => {
    const file = join(scratchDir("plan"), `${name}.yaml`);
    writeFileSync(file, JSON.stringify({ apiVersion: "dr.vmdr.io/v1alpha1", kind: "FailoverRun", metadata: { name }, spec }));
    return file;
  };
  const plan = async (args: string[], code = 0): Promise<PlanView> => {
    const r = await runVmdr(["plan", "-o", "json", ...args]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(code);
    return JSON.parse(r.stdout) as PlanView;
  };
  const test = (): string => runFile("test-hr", { type: "Test", protectionGroups: ["hr"] });
  let cluster: PlanView;

  it("plans a Test of HR with the operator's dry run at the cluster, and leaves no run behind and no group held", async () => {
    cluster = await plan(["--kubeconfig", w.cp.kubeconfigPath, "-n", ns, test()]);
    if (!cluster.outcome.ok) throw new Error(`refused: ${cluster.outcome.message}`);
    expect(cluster.outcome.plan).toMatchObject({ groups: ["hr"], vmCount: 6, steps: STEPS.Test, volumes: 2 });
    expect(cluster.outcome.vms.map((v) => v.name).sort()).toHaveLength(6);
    for (const v of cluster.outcome.vms) expect(v.folder.startsWith("DR-virtual machines/Site1-Protection Group 1")).toBe(true);
    expect(cluster.outcome.volumes.map((v) => [v.volume, v.datastore])).toEqual([["RG1FV1_SM", "RP1"], ["RG1FV2_SM", "RP2"]]);
    expect(cluster.outcome.capacity?.checked).toBe(true);
    expect(cluster.assumed).toEqual([]);
    // The dry-run copy is gone, and HR was never locked.
    expect((await w.kube.list(FailoverRunType, { namespace: ns })).items).toEqual([]);
    expect((await w.kube.get(ProtectionGroupType, { namespace: ns, name: "hr" }))?.status?.activeRun).toBeUndefined();
    const md = await runVmdr(["plan", "--kubeconfig", w.cp.kubeconfigPath, "-n", ns, test()]);
    expect(md.stdout).toMatch(/^# Plan of FailoverRun dr\/test-hr: Test\n/);
    expect(md.stdout).toContain("1. ClaimGroups\n");
  });

  it("plans the same VMs, volumes and waves offline from the state kubectl saves, and lists what it could not check", async () => {
    // What the help says to save: kubectl get drsite,rr,pg,cm -A -o yaml.
    const dump = spawnSync(toolPath("kubectl", "VMDR_KUBECTL"), ["--kubeconfig", w.cp.kubeconfigPath, "get", "drsite,rr,pg,cm", "-A", "-o", "yaml"], { encoding: "utf8", timeout: 30_000 });
    expect(dump.status).toBe(0);
    const file = join(scratchDir("plan-state"), "state.yaml");
    writeFileSync(file, dump.stdout);
    const offline = await plan(["--offline", "-f", file, "-n", ns, test()]);
    if (!offline.outcome.ok || !cluster.outcome.ok) throw new Error("refused");
    expect(offline.outcome.plan).toEqual(cluster.outcome.plan);
    expect(offline.outcome.volumes).toEqual(cluster.outcome.volumes);
    const brief = (vms: PlanView["outcome"] & { ok: true }) => vms.vms.map((v) => [v.name, v.folder, v.resourcePool, v.wave]);
    expect(brief(offline.outcome)).toEqual(brief(cluster.outcome));
    expect(offline.assumed).toEqual([expect.stringContaining("Site2-Test-Isolated"), expect.stringContaining("capacity: not checked")]);
  });

  it("says why the operator would refuse a run, with exit code 1, in both modes; a run its schema refuses is not sent", async () => {
    const nope = runFile("test-payroll", { type: "Test", protectionGroups: ["payroll"] });
    const refused = await plan(["--kubeconfig", w.cp.kubeconfigPath, "-n", ns, nope], 1);
    expect(refused.outcome).toEqual({ ok: false, reason: "GroupNotFound", message: "no ProtectionGroup payroll in namespace dr" });
    const offline = await plan(["--offline", "-f", nope, "-n", ns, nope], 1);
    expect(offline.outcome).toMatchObject({ ok: false, reason: "GroupNotFound" });
    const bad = await runVmdr(["plan", "--kubeconfig", w.cp.kubeconfigPath, "-n", ns, runFile("pm-hr", { type: "PlannedMigration", protectionGroups: ["hr"] })]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain("confirmation");
    expect((await w.kube.list(FailoverRunType, { namespace: ns })).items).toEqual([]);
  });
});

describe("vmdr map (the operator's records of the VMbook's HR group on the lab)", () => {
  it("maps every HR VM to its datastore, volume, relationship and replica, with no problems", async () => {
    const m = await map("hr");
    expect(m.vms.map((v) => v.name)).toHaveLength(6);
    expect(m.vms.find((v) => v.name === "HR Database")).toMatchObject({ datastores: ["RP1"], shadowed: true, problems: [] });
    expect(m.datastores).toEqual([
      { name: "RP1", relationship: "rg1fv1", problems: [] },
      { name: "RP2", relationship: "rg1fv2", problems: [] },
    ]);
    expect(m.relationships.map((r) => [r.name, r.sourceVolume, r.destinationVolume, r.healthy])).toEqual([
      ["rg1fv1", "RG1FV1", "RG1FV1_SM", true],
      ["rg1fv2", "RG1FV2", "RG1FV2_SM", true],
    ]);
    expect(m.problems).toEqual([]);
    const md = await runVmdr(["map", `--kubeconfig=${w.cp.kubeconfigPath}`, `--namespace=${ns}`, "hr"]);
    expect(md.stdout).toMatch(/^# ProtectionGroup dr\/hr: map\n/);
    expect(md.stdout).toContain("```mermaid\nflowchart LR\n");
    expect(md.stdout).not.toContain("\x1b[");
  });

  it("highlights a VM put on a datastore HR does not replicate, once the operator has seen it", async () => {
    await w.lab.addVm("site1", { name: "HR-On-Finance", folder: "Protection Group 1/Application", datastore: "RP3", resourcePool: "HRServers", portgroup: "Site1-LAN" });
    await eventually(async () => ((await w.kube.get(ProtectionGroupType, { namespace: ns, name: "hr" }))?.status?.problems?.some((p) => p.subject === "HR-On-Finance") ? true : undefined), 30_000, "the operator to report HR-On-Finance");
    const m = await eventually(async () => {
      const x = await map("hr");
      return x.vms.some((v) => v.name === "HR-On-Finance") ? x : undefined;
    }, 30_000, "HR-On-Finance's shadow record");
    expect(m.problems).toEqual([expect.objectContaining({ subject: "HR-On-Finance", kind: "VmOutsideGroupDatastores" })]);
    expect(m.datastores.find((d) => d.name === "RP3")).toEqual({ name: "RP3", problems: ["not replicated by this group"] });
    const mermaid = (await runVmdr(["map", "--kubeconfig", w.cp.kubeconfigPath, "-n", ns, "-o", "mermaid", "hr"])).stdout;
    const id = (label: string): string | undefined => new RegExp(`^\\s*(\\w+)\\[\\(?"${label}"`, "m").exec(mermaid)?.[1];
    expect(/^\s*class (\S+) problem$/m.exec(mermaid)?.[1]?.split(",").sort()).toEqual([id("HR-On-Finance"), id("RP3")].sort());
  });

  it("draws the same map from kubectl get -o yaml output as from the cluster", async () => {
    const kubectl = toolPath("kubectl", "VMDR_KUBECTL");
    const dump = spawnSync(kubectl, ["--kubeconfig", w.cp.kubeconfigPath, "get", "pg,rr,cm", "-n", ns, "-o", "yaml"], { encoding: "utf8", timeout: 30_000 });
    expect(dump.status).toBe(0);
    const file = join(scratchDir("map"), "state.yaml");
    writeFileSync(file, dump.stdout);
    const fromFile = await runVmdr(["map", "-f", file, "-n", ns, "-o", "json", "hr"]);
    expect(fromFile.code).toBe(0);
    const fromStdin = await runVmdr(["map", "-f", "-", "-o", "json", "hr"], { stdin: dump.stdout });
    expect(JSON.parse(fromStdin.stdout)).toEqual(JSON.parse(fromFile.stdout));
    expect(JSON.parse(fromFile.stdout)).toEqual(await map("hr"));
  });

  it("exits 3 with one line for a group that does not exist, an identity without rights, or no kubeconfig at all", async () => {
    const missing = await runVmdr(["map", "--kubeconfig", w.cp.kubeconfigPath, "-n", ns, "payroll"]);
    expect(missing).toEqual({ code: 3, stdout: "", stderr: "vmdr map: ProtectionGroup dr/payroll not found\n" });

    const kc = join(scratchDir("map-kc"), "kubeconfig");
    const ca = /certificate-authority: (.*)/.exec(spawnSync("cat", [w.cp.kubeconfigPath], { encoding: "utf8" }).stdout)?.[1];
    writeFileSync(kc, `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "${w.cp.server}", certificate-authority: "${ca}"}\nusers:\n- name: u\n  user: {token: ${UNPRIVILEGED_TOKEN}}\ncontexts:\n- name: nobody\n  context: {cluster: c, user: u, namespace: dr}\n- name: other\n  context: {cluster: c, user: u}\ncurrent-context: other\n`);
    const forbidden = await runVmdr(["map", "--kubeconfig", kc, "--context", "nobody", "hr"]);
    expect(forbidden.code).toBe(3);
    expect(forbidden.stderr).toMatch(/^vmdr map: Kubernetes API: .*forbidden.*\(your identity may not do this; ask for RBAC access\)\n$/);
    const noContext = await runVmdr(["map", "--kubeconfig", kc, "--context", "prod", "hr"]);
    expect(noContext).toMatchObject({ code: 3, stderr: 'vmdr map: kubeconfig has no context "prod" (it has: nobody, other)\n' });
    const nothing = await runVmdr(["map", "hr"], { env: { HOME: scratchDir("no-home") } });
    expect(nothing).toMatchObject({ code: 3, stderr: "vmdr map: no kubeconfig: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config\n" });
  });
});
