import { KubeConfig } from "@kubernetes/client-node";
import { KubeRest } from "../../src/kube/rest.js";
import { RestKubeStore } from "../../src/kube/store.js";
import type { KubeStore } from "../../src/kube/store.js";
import { SiteType } from "../../src/api/v1alpha1/index.js";
import type { Site } from "../../src/api/v1alpha1/index.js";
import { SecretType } from "../../src/sites/credentials.js";
import type { Secret } from "../../src/sites/credentials.js";
import { ControlPlane } from "./control-plane.js";
import { NamespaceType } from "./kube.js";
import { Lab } from "./lab.js";
import type { SiteId } from "./lab.js";
import { OperatorProcess } from "./operator.js";
import { freePort } from "./processes.js";

export const OPERATOR_NAMESPACE = "vmdr-system";

export interface WorldOptions {
  readonly labArgs?: readonly string[];
  readonly operatorArgs?: readonly string[];
  /** Extra environment for the operator process (e.g. NODE_OPTIONS as deployed). */
  readonly operatorEnv?: NodeJS.ProcessEnv;
}

/**
 * Everything the operator runs against in production, for one test file: its own kube-apiserver +
 * etcd (Sites are cluster-scoped, so files must not share one), the two-site lab, and the operator
 * as a separate process with short poll intervals.
 */
export class World {
  operator: OperatorProcess | undefined;
  private operatorCount = 0;

  private constructor(
    readonly cp: ControlPlane,
    readonly lab: Lab,
    readonly rest: KubeRest,
    readonly kube: KubeStore,
    private readonly o: WorldOptions,
    readonly metricsUrl: string,
    private readonly metricsPort: number,
  ) {}

  static async start(o: WorldOptions = {}): Promise<World> {
    const [cp, lab] = await Promise.all([ControlPlane.start(), Lab.start(o.labArgs ?? [])]);
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const rest = await KubeRest.create(kc, { timeoutMs: 15_000 });
    const kube = new RestKubeStore(rest);
    await kube.create(NamespaceType, { metadata: { name: OPERATOR_NAMESPACE } });
    const port = await freePort();
    return new World(cp, lab, rest, kube, o, `http://127.0.0.1:${port}/metrics`, port);
  }

  /** Starts (or restarts after stopOperator) the operator process. */
  startOperator(extra: readonly string[] = []): OperatorProcess {
    this.operator = new OperatorProcess(`operator-${++this.operatorCount}`, [
      `--kubeconfig=${this.cp.kubeconfigPath}`,
      `--leader-election-namespace=${OPERATOR_NAMESPACE}`,
      "--lease-duration=4s",
      "--renew-deadline=3s",
      "--retry-period=500ms",
      "--health-probe-bind-address=0",
      `--metrics-bind-address=127.0.0.1:${this.metricsPort}`,
      "--site-poll-interval=5s",
      "--ontap-poll-interval=2s",
      "--log-level=debug",
      ...(this.o.operatorArgs ?? []),
      ...extra,
    ], this.o.operatorEnv);
    return this.operator;
  }

  async killOperator(): Promise<void> {
    await this.operator?.kill();
  }

  /** Credentials Secrets and Site objects for both lab sites (what a user keeps in Git). */
  async applySites(overrides: Partial<Record<SiteId, (s: Site) => void>> = {}): Promise<void> {
    for (const id of ["site1", "site2"] as const) {
      const ls = this.lab.site(id);
      await this.putSecret(`${id}-vcenter`, ls.vcenter.username, ls.vcenter.password);
      await this.putSecret(`${id}-ontap`, ls.ontap.username, ls.ontap.password);
      const site: Site = {
        metadata: { name: id },
        spec: {
          vcenter: {
            url: ls.vcenter.url,
            datacenter: ls.datacenter,
            credentialsSecretRef: { name: `${id}-vcenter`, namespace: OPERATOR_NAMESPACE },
            tls: { caBundle: this.lab.caPem() },
          },
          storage: {
            controllers: [
              { name: "cluster", url: ls.ontap.url, svm: ls.ontap.svm ?? "", credentialsSecretRef: { name: `${id}-ontap`, namespace: OPERATOR_NAMESPACE }, tls: { caBundle: this.lab.caPem() } },
            ],
          },
        },
      };
      overrides[id]?.(site);
      await this.kube.create(SiteType, site);
    }
  }

  /** Creates or replaces a credentials Secret. */
  async putSecret(name: string, username: string, password: string): Promise<void> {
    const secret: Secret = { metadata: { name, namespace: OPERATOR_NAMESPACE }, stringData: { username, password }, type: "Opaque" };
    const existing = await this.kube.get(SecretType, { namespace: OPERATOR_NAMESPACE, name });
    if (existing) await this.kube.replace(SecretType, { ...secret, metadata: { ...secret.metadata, resourceVersion: existing.metadata.resourceVersion } });
    else await this.kube.create(SecretType, secret);
  }

  /** The operator's /metrics text. */
  async metrics(): Promise<string> {
    const res = await fetch(this.metricsUrl, { signal: AbortSignal.timeout(5_000) });
    return res.text();
  }

  /** One sample of a metric (with all the given labels), or undefined. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
    const text = await this.metrics();
    for (const line of text.split("\n")) {
      if (!line.startsWith(name)) continue;
      const m = /^([a-z_]+)(\{([^}]*)\})? (\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const ls = Object.fromEntries([...(m[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
      if (Object.entries(labels).every(([k, v]) => ls[k] === v)) return Number(m[4]);
    }
    return undefined;
  }

  /**
   * Resolves once the operator's `controller` has finished at least n more reconcile passes
   * (counted from its metrics, not timed): for "and nothing changed" checks after a change.
   */
  async afterPasses(controller: string, n: number): Promise<void> {
    const passes = async (): Promise<number> => {
      let sum = 0;
      for (const result of ["success", "requeue_after", "error", "terminal"]) sum += (await this.metric("vmdr_reconcile_total", { controller, result })) ?? 0;
      return sum;
    };
    const start = await passes();
    for (const deadline = Date.now() + 60_000; (await passes()) < start + n; ) {
      if (Date.now() > deadline) throw new Error(`${controller}: fewer than ${n} reconcile passes in 60s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    await this.operator?.kill();
    this.rest.close();
    await Promise.all([this.cp.stop(), this.lab.stop()]);
  }
}
