import { spawn } from "node:child_process";
import { join } from "node:path";
import { dump, loadAll } from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlane } from "../harness/control-plane.js";
import { REPO_ROOT, scratchDir, toolPath } from "../harness/processes.js";

// kubectl (built from k8s.io/kubectl at the kube-apiserver's version) renders deploy/ with its
// built-in kustomize and applies the result to a real API server with a server-side dry-run and
// strict field validation: schemas, CEL rules, admission (Pod Security) all run; nothing is stored.
// Its own control plane: the monitoring CRDs and the vmdr-system namespace stay out of the others'.
let cp: ControlPlane;
let kubectl: string;
let dir: string;
beforeAll(async () => {
  kubectl = toolPath("kubectl", "VMDR_KUBECTL");
  cp = await ControlPlane.start();
  dir = scratchDir("deploy");
});
afterAll(async () => {
  await cp?.stop();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(kubectl, [...args, `--kubeconfig=${cp.kubeconfigPath}`, `--cache-dir=${join(dir, "cache")}`], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), 60_000);
    p.on("error", reject);
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    p.stdin.end(input ?? "");
  });
}

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };

async function kustomize(path: string): Promise<Obj[]> {
  const r = await run(["kustomize", join(REPO_ROOT, path)]);
  expect(r.stderr, `kubectl kustomize ${path}`).toBe("");
  expect(r.code).toBe(0);
  return loadAll(r.stdout) as Obj[];
}

const yaml = (objs: readonly unknown[]): string => objs.map((o) => dump(o, { noRefs: true })).join("---\n");

/** Server-side dry-run with strict validation; returns kubectl's result. */
function dryRun(objs: readonly unknown[]): Promise<Run> {
  return run(["apply", "--dry-run=server", "--validate=strict", "--server-side", "--field-manager=vmdr-test", "-f", "-"], yaml(objs));
}

/** Namespaced objects can only be dry-run in a namespace that exists, so those are created for real. */
async function createNamespaces(objs: readonly Obj[]): Promise<void> {
  const ns = objs.filter((o) => o.kind === "Namespace");
  if (ns.length === 0) return;
  const r = await run(["apply", "--server-side", "--field-manager=vmdr-test", "-f", "-"], yaml(ns));
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
}

type Container = {
  args: string[];
  image: string;
  livenessProbe?: unknown;
  readinessProbe?: unknown;
  startupProbe?: unknown;
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext: Record<string, unknown>;
};

describe("deploy/ (kubectl kustomize + server dry-run against a real kube-apiserver)", () => {
  it("renders a Deployment of two leader-electing replicas with probes, limits and a restricted security context", async () => {
    const objs = await kustomize("deploy/default");
    const d = objs.find((o) => o.kind === "Deployment") as Obj & {
      spec: { replicas: number; template: { spec: { securityContext: Record<string, unknown>; containers: Container[]; serviceAccountName: string } } };
    };
    expect(d.spec.replicas).toBe(2);
    const pod = d.spec.template.spec;
    const c = pod.containers[0]!;
    expect(c.args).toContain("--leader-elect=true");
    expect(c.livenessProbe).toBeDefined();
    expect(c.readinessProbe).toBeDefined();
    expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(c.resources.limits).toMatchObject({ memory: expect.any(String) });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(c.image).toMatch(/^vmdr-operator:\d+\.\d+\.\d+$/);
    for (const kind of ["Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "Role", "RoleBinding", "Service", "NetworkPolicy", "PodDisruptionBudget"]) {
      expect(objs.some((o) => o.kind === kind), kind).toBe(true);
    }
    // Secrets only by namespaced Role, never cluster-wide.
    const clusterRules = objs.filter((o) => o.kind === "ClusterRole").flatMap((o) => (o as Obj & { rules: { resources?: string[] }[] }).rules);
    expect(clusterRules.flatMap((r) => r.resources ?? [])).not.toContain("secrets");
  });

  it("applies deploy/default (server dry-run, strict validation) with no Pod Security warning in the restricted namespace", async () => {
    const objs = await kustomize("deploy/default");
    await createNamespaces(objs);
    const r = await dryRun(objs);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/deployment\.apps\/vmdr-manager serverside-applied \(server dry run\)/);
    expect(r.stdout).toMatch(/networkpolicy\.networking\.k8s\.io\/vmdr-manager serverside-applied \(server dry run\)/);
  });

  it("would report a Pod Security warning for a Deployment that is not restricted (so the check above can fail)", async () => {
    const objs = await kustomize("deploy/default");
    await createNamespaces(objs);
    const d = structuredClone(objs.find((o) => o.kind === "Deployment")) as Obj & { spec: { template: { spec: { containers: Container[] } } } };
    d.spec.template.spec.containers[0]!.securityContext = { privileged: true };
    const r = await dryRun([d]);
    expect(r.stderr).toMatch(/would violate PodSecurity "restricted:latest"/);
  });

  it("applies deploy/prometheus once the ServiceMonitor and PrometheusRule kinds exist", async () => {
    await cp.installCrds(join(REPO_ROOT, "test/fixtures/crds"));
    const objs = await kustomize("deploy/prometheus");
    expect(objs.map((o) => o.kind).sort()).toEqual(["PrometheusRule", "ServiceMonitor"]);
    await createNamespaces(await kustomize("deploy/default"));
    const r = await dryRun(objs);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // The stand-in schemas are strict: a misspelled field fails.
    const typo = structuredClone(objs.find((o) => o.kind === "ServiceMonitor")) as Obj & { spec: { endpoints: Record<string, unknown>[] } };
    typo.spec.endpoints[0] = { ...typo.spec.endpoints[0], intervall: "30s" };
    const bad = await dryRun([typo]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/\.spec\.endpoints\[0\]\.intervall: field not declared in schema/);
  });

  it("applies deploy/grafana: the dashboard as a ConfigMap Grafana's sidecar picks up", async () => {
    const objs = await kustomize("deploy/grafana");
    expect(objs.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name} ${o.metadata.labels?.grafana_dashboard}`)).toEqual(["ConfigMap vmdr-system/vmdr-dashboard 1"]);
    await createNamespaces(await kustomize("deploy/default"));
    const r = await dryRun(objs);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("applies the samples (the VMbook topology) and the FailoverRun samples against the CRDs' schemas and CEL rules", async () => {
    const topology = await kustomize("deploy/samples");
    const runs = await kustomize("deploy/samples/runs");
    expect(topology.filter((o) => o.kind === "Site").map((o) => o.metadata.name).sort()).toEqual(["site1", "site2"]);
    expect(topology.filter((o) => o.kind === "ReplicationRelationship").map((o) => (o as Obj & { spec: { destination: { volume: string } } }).spec.destination.volume).sort()).toEqual(
      ["RG1FV1_SM", "RG1FV2_SM", "RG2FV1_SM", "RG2FV2_SM", "RG2FV3_SM"],
    );
    expect(topology.filter((o) => o.kind === "ProtectionGroup").map((o) => o.metadata.name).sort()).toEqual(["finance", "hr"]);
    expect(runs.map((o) => (o as Obj & { spec: { type: string } }).spec.type).sort()).toEqual(["CleanupTest", "Disaster", "Failback", "PlannedMigration", "Reprotect", "Test"]);
    await createNamespaces([...topology, { apiVersion: "v1", kind: "Namespace", metadata: { name: "vmdr-system" } }]);
    const r = await dryRun([...topology, ...runs]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.match(/\(server dry run\)/g)).toHaveLength(topology.length + runs.length);
  });

  it("rejects a sample that breaks a CRD rule, naming the field (so the check above can fail)", async () => {
    const topology = await kustomize("deploy/samples");
    const site = structuredClone(topology.find((o) => o.kind === "Site")) as Obj & { spec: { vcenter: { url: string } } };
    site.spec.vcenter.url = "http://vcenter.site1.example.com";
    const r = await dryRun([site]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/spec\.vcenter\.url.*must be an https URL/);
  });
});
