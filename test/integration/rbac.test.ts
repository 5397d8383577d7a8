import { join } from "node:path";
import { writeFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { LeaseType } from "../../src/runtime/leader-election.js";
import { connect, eventually } from "../harness/kube.js";
import type { TestKube } from "../harness/kube.js";
import { applyAll, readManifests } from "../harness/manifests.js";
import { OperatorProcess } from "../harness/operator.js";
import { REPO_ROOT, freePort } from "../harness/processes.js";

let t: TestKube;
let op: OperatorProcess | undefined;
beforeAll(async () => {
  t = await connect();
});
afterAll(async () => {
  await op?.kill();
  t.close();
});

describe("deploy/rbac", () => {
  it("gives the operator's ServiceAccount what it needs to start, lead and serve", async () => {
    const ns = await t.namespace("rbac");
    // The manifests as shipped, moved into this test's namespace (what kustomize's namespace field does).
    const text = (f: string): string => readFileSync(join(REPO_ROOT, "deploy/rbac", f), "utf8");
    const files = ["service-account.yaml", "role.yaml", "role-binding.yaml", "leader-election-role.yaml"].map((f) => {
      const path = join(mkdtempSync(join(tmpdir(), "rbac-")), f);
      writeFileSync(path, text(f).replaceAll("vmdr-system", ns).replaceAll("name: vmdr-manager\n", `name: vmdr-manager-${ns}\n`));
      return path;
    });
    await applyAll(t.kube, readManifests(...files));

    const tr = await t.rest.request<{ status: { token: string } }>("POST", `/api/v1/namespaces/${ns}/serviceaccounts/vmdr-manager-${ns}/token`, {
      body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
    });
    const ca = /certificate-authority: (.*)/.exec(readFileSync(inject("kubeconfig"), "utf8"))?.[1];
    const kubeconfig = join(mkdtempSync(join(tmpdir(), "sa-")), "kubeconfig");
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "${inject("apiServer")}", certificate-authority: "${ca}"}\n` +
        `users:\n- name: sa\n  user: {token: "${tr.status.token}"}\ncontexts:\n- name: x\n  context: {cluster: c, user: sa}\ncurrent-context: x\n`,
    );
    const hp = await freePort();
    op = new OperatorProcess("rbac", [
      `--kubeconfig=${kubeconfig}`,
      `--leader-election-namespace=${ns}`,
      "--identity=sa-operator",
      `--health-probe-bind-address=127.0.0.1:${hp}`,
      "--metrics-bind-address=0",
    ]);
    await eventually(async () => {
      const lease = await t.kube.get(LeaseType, { namespace: ns, name: "vmdr-operator" });
      return lease?.spec?.holderIdentity === "sa-operator" ? true : undefined;
    }, 30_000, `the operator to lead with its ServiceAccount:\n${op.tail()}`);
    const ready = await fetch(`http://127.0.0.1:${hp}/readyz`);
    expect(ready.status).toBe(200);
    expect(op.logLines().filter((l) => l.level === "warn" || l.level === "error" || l.level === "fatal")).toEqual([]);
  });
});
