import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { load } from "js-yaml";
import { KubeRest } from "../../src/kube/rest.js";
import { KubeApiError } from "../../src/kube/errors.js";
import { generateCerts } from "./certs.js";
import type { ControlPlaneCerts } from "./certs.js";
import { Proc, REPO_ROOT, freePort, scratchDir, toolPath } from "./processes.js";

export interface ControlPlaneOptions {
  /** Install the CRDs from this directory (default: the repository's crds/). null skips. */
  readonly crdDir?: string | null;
  /** Keep the work directory (logs, certificates) after stop, for debugging. */
  readonly keep?: boolean;
}

/** A token for a user with no permissions at all, for RBAC tests. */
export const UNPRIVILEGED_TOKEN = "vmdr-unprivileged-token";

const CRD = { group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", namespaced: false };

/**
 * A real Kubernetes control plane for tests: etcd and kube-apiserver, built from Go modules by
 * hack/ensure-tool.sh, started on free loopback ports with certificates generated for this run,
 * RBAC on, and an admin identity by client certificate (what controller-runtime's envtest does).
 */
export class ControlPlane {
  readonly dir: string;
  readonly kubeconfigPath: string;
  readonly server: string;
  private etcd: Proc | undefined;
  private apiserver: Proc | undefined;

  private constructor(
    dir: string,
    private readonly certs: ControlPlaneCerts,
    private readonly etcdArgs: string[],
    private readonly apiserverArgs: string[],
    private readonly bins: { etcd: string; apiserver: string },
    readonly port: number,
    private readonly keep: boolean,
  ) {
    this.dir = dir;
    this.server = `https://127.0.0.1:${port}`;
    this.kubeconfigPath = join(dir, "kubeconfig");
  }

  static async start(o: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const bins = { etcd: toolPath("etcd", "VMDR_ETCD"), apiserver: toolPath("kube-apiserver", "VMDR_KUBE_APISERVER") };
    const dir = scratchDir("cp");
    const certs = generateCerts(dir);
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    writeFileSync(join(dir, "tokens.csv"), `${UNPRIVILEGED_TOKEN},unprivileged,1001\n`);
    const etcdArgs = [
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      "--unsafe-no-fsync=true",
      "--log-level=warn",
    ];
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, "apiserver-certs")}`,
      `--tls-cert-file=${certs.servingCert}`,
      `--tls-private-key-file=${certs.servingKey}`,
      `--client-ca-file=${certs.caCert}`,
      `--token-auth-file=${join(dir, "tokens.csv")}`,
      "--authorization-mode=RBAC",
      `--service-account-issuer=https://127.0.0.1:${apiPort}/`,
      `--service-account-key-file=${certs.saKey}`,
      `--service-account-signing-key-file=${certs.saKey}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      "--disable-admission-plugins=ServiceAccount",
      "--v=1",
    ];
    const cp = new ControlPlane(dir, certs, etcdArgs, apiserverArgs, bins, apiPort, o.keep ?? false);
    cp.writeKubeconfig();
    try {
      await cp.startEtcd();
      await cp.startApiServer();
      if (o.crdDir !== null) await cp.installCrds(o.crdDir ?? join(REPO_ROOT, "crds"));
    } catch (err) {
      await cp.stop();
      throw err;
    }
    return cp;
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  async rest(): Promise<KubeRest> {
    return KubeRest.create(this.kubeConfig(), { timeoutMs: 10_000 });
  }

  /** Stops kube-apiserver (etcd keeps the data), e.g. to prove clients survive a restart. */
  async stopApiServer(): Promise<void> {
    await this.apiserver?.stop();
    this.apiserver = undefined;
  }

  /** Starts kube-apiserver again on the same port, and waits until it is ready. */
  async startApiServer(): Promise<void> {
    this.apiserver = new Proc("kube-apiserver", this.bins.apiserver, this.apiserverArgs, join(this.dir, "kube-apiserver.log"));
    await this.waitReady();
  }

  async stop(): Promise<void> {
    await this.apiserver?.stop();
    await this.etcd?.stop();
    if (!this.keep) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Installs every CRD in dir and waits until each is Established and its group is served. */
  async installCrds(dir: string): Promise<void> {
    const rest = await this.rest();
    try {
      const files = readdirSync(dir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
      const crds = files.map((f) => load(readFileSync(join(dir, f), "utf8")) as { metadata: { name: string }; spec: { group: string; versions: { name: string }[] } });
      for (const crd of crds) {
        try {
          await rest.request("POST", `/apis/${CRD.group}/${CRD.version}/${CRD.plural}`, { body: crd });
        } catch (err) {
          if (!(err instanceof KubeApiError && err.statusCode === 409)) throw err;
        }
      }
      const deadline = Date.now() + 30_000;
      for (const crd of crds) {
        for (;;) {
          const got = await rest.request<{ status?: { conditions?: { type: string; status: string }[] } }>(
            "GET",
            `/apis/${CRD.group}/${CRD.version}/${CRD.plural}/${crd.metadata.name}`,
          );
          const established = got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
          if (established) break;
          if (Date.now() > deadline) throw new Error(`CRD ${crd.metadata.name} not established after 30s`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      for (const gv of new Set(crds.map((c) => `${c.spec.group}/${c.spec.versions[0]?.name ?? ""}`))) {
        for (;;) {
          try {
            await rest.request("GET", `/apis/${gv}`);
            break;
          } catch (err) {
            if (Date.now() > deadline) throw err;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
    } finally {
      rest.close();
    }
  }

  private async startEtcd(): Promise<void> {
    this.etcd = new Proc("etcd", this.bins.etcd, this.etcdArgs, join(this.dir, "etcd.log"));
    const url = this.etcdArgs.find((a) => a.startsWith("--listen-client-urls="))?.split("=")[1] ?? "";
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
        if (res.ok) return;
      } catch {
        /* not yet */
      }
      if (!this.etcd.isAlive()) throw new Error(`etcd exited during start:\n${this.etcd.tail()}`);
      if (Date.now() > deadline) throw new Error(`etcd not healthy after 30s:\n${this.etcd.tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async waitReady(): Promise<void> {
    const proc = this.apiserver as Proc;
    const rest = await this.rest();
    const deadline = Date.now() + 90_000;
    try {
      for (;;) {
        try {
          await rest.request("GET", "/readyz", { timeoutMs: 2_000 });
          return;
        } catch {
          /* not yet */
        }
        if (!proc.isAlive()) throw new Error(`kube-apiserver exited during start:\n${proc.tail()}`);
        if (Date.now() > deadline) throw new Error(`kube-apiserver not ready after 90s:\n${proc.tail()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      rest.close();
    }
  }

  private writeKubeconfig(): void {
    const c = this.certs;
    writeFileSync(
      this.kubeconfigPath,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: vmdr-test",
        "  cluster:",
        `    server: ${this.server}`,
        `    certificate-authority: ${c.caCert}`,
        "users:",
        "- name: admin",
        "  user:",
        `    client-certificate: ${c.adminCert}`,
        `    client-key: ${c.adminKey}`,
        "contexts:",
        "- name: vmdr-test",
        "  context: {cluster: vmdr-test, user: admin}",
        "current-context: vmdr-test",
        "",
      ].join("\n"),
    );
  }
}
