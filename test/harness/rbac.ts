import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KubeRest } from "../../src/kube/rest.js";
import type { KubeObject } from "../../src/kube/types.js";
import { readManifests } from "./manifests.js";
import { REPO_ROOT, scratchDir } from "./processes.js";

/** The files of deploy/rbac the operator's Deployment relies on. */
export const RBAC_FILES = ["service-account.yaml", "role.yaml", "role-binding.yaml", "leader-election-role.yaml", "secret-reader.yaml"] as const;

/** deploy/rbac's objects as shipped, parsed. */
export function shippedRbac(files: readonly string[] = RBAC_FILES): KubeObject[] {
  return readManifests(...files.map((f) => join(REPO_ROOT, "deploy/rbac", f)));
}

/**
 * A kubeconfig that authenticates as a ServiceAccount (with a TokenRequest token), i.e. with only
 * the permissions RBAC gives that account: what the operator's Pod gets.
 */
export async function serviceAccountKubeconfig(rest: KubeRest, cp: { kubeconfigPath: string; server: string }, namespace: string, name: string): Promise<{ path: string; token: string }> {
  const tr = await rest.request<{ status: { token: string } }>("POST", `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
  });
  const ca = /certificate-authority: (.*)/.exec(readFileSync(cp.kubeconfigPath, "utf8"))?.[1];
  const path = join(scratchDir("sa"), "kubeconfig");
  writeFileSync(
    path,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "${cp.server}", certificate-authority: "${ca}"}\n` +
      `users:\n- name: sa\n  user: {token: "${tr.status.token}"}\ncontexts:\n- name: x\n  context: {cluster: c, user: sa}\ncurrent-context: x\n`,
  );
  return { path, token: tr.status.token };
}
