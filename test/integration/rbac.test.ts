import { join } from "node:path";
import { writeFileSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LeaseType } from "../../src/runtime/leader-election.js";
import { connect, eventually } from "../harness/kube.js";
import type { TestKube } from "../harness/kube.js";
import { ControlPlane } from "../harness/control-plane.js";
import { applyAll, readManifests } from "../harness/manifests.js";
import { definedFamilies, familiesOf } from "../harness/metrics.js";
import { RBAC_FILES, serviceAccountKubeconfig } from "../harness/rbac.js";
import { OperatorProcess } from "../harness/operator.js";
import { REPO_ROOT, freePort, scratchDir } from "../harness/processes.js";

// The operator runs its controllers, so it gets a control plane of its own (it would otherwise
// reconcile the other test files' objects).
let cp: ControlPlane;
let t: TestKube;
let op: OperatorProcess | undefined;
beforeAll(async () => {
  cp = await ControlPlane.start();
  t = await connect(cp.kubeconfigPath);
});
afterAll(async () => {
  await op?.kill();
  t.close();
  await cp.stop();
});

describe("deploy/rbac", () => {
  it("gives the operator's ServiceAccount what it needs to start, lead and serve health and metrics", async () => {
    const ns = await t.namespace("rbac");
    // The manifests as shipped, moved into this test's namespace (what kustomize's namespace field does).
    const text = (f: string): string => readFileSync(join(REPO_ROOT, "deploy/rbac", f), "utf8");
    const files = RBAC_FILES.map((f) => {
      const path = join(scratchDir("rbac"), f);
      writeFileSync(path, text(f).replaceAll("vmdr-system", ns).replaceAll("name: vmdr-manager\n", `name: vmdr-manager-${ns}\n`));
      return path;
    });
    await applyAll(t.kube, readManifests(...files));

    const { path: kubeconfig } = await serviceAccountKubeconfig(t.rest, cp, ns, `vmdr-manager-${ns}`);
    const [hp, mp] = [await freePort(), await freePort()];
    op = new OperatorProcess("rbac", [
      `--kubeconfig=${kubeconfig}`,
      `--leader-election-namespace=${ns}`,
      "--identity=sa-operator",
      `--health-probe-bind-address=127.0.0.1:${hp}`,
      `--metrics-bind-address=127.0.0.1:${mp}`,
    ]);
    await eventually(async () => {
      const lease = await t.kube.get(LeaseType, { namespace: ns, name: "vmdr-operator" });
      return lease?.spec?.holderIdentity === "sa-operator" ? true : undefined;
    }, 30_000, `the operator to lead with its ServiceAccount:\n${op.tail()}`);
    const ready = await eventually(async () => {
      const r = await fetch(`http://127.0.0.1:${hp}/readyz`);
      return r.status === 200 ? r : undefined;
    }, 20_000, `readyz:\n${op.tail()}`);
    expect(ready.status).toBe(200);
    expect(op.logLines().filter((l) => l.level === "warn" || l.level === "error" || l.level === "fatal")).toEqual([]);

    // /metrics serves every family the operator defines (the FailoverRun ones included), even
    // before anything was observed.
    const served = familiesOf(await (await fetch(`http://127.0.0.1:${mp}/metrics`)).text());
    expect([...served.keys()].sort()).toEqual([...(await definedFamilies()).keys()].sort());
    expect(served.get("vmdr_failover_runs_total")).toBe("counter");
    expect(served.get("vmdr_last_successful_test_timestamp_seconds")).toBe("gauge");
  });
});
