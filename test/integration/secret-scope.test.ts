import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SiteType, findCondition } from "../../src/api/v1alpha1/index.js";
import type { Site } from "../../src/api/v1alpha1/index.js";
import { KubeApiError } from "../../src/kube/errors.js";
import { KubeRest } from "../../src/kube/rest.js";
import type { KubeObject } from "../../src/kube/types.js";
import { SecretType } from "../../src/sites/credentials.js";
import { eventually, NamespaceType } from "../harness/kube.js";
import { applyAll } from "../harness/manifests.js";
import { serviceAccountKubeconfig, shippedRbac } from "../harness/rbac.js";
import { OPERATOR_NAMESPACE, World } from "../harness/world.js";

// The operator runs as its ServiceAccount with deploy/rbac as shipped, reading Secrets in its own
// namespace and in two more it is told about: "creds" (where an admin bound the secret-reader Role
// too) and "unbound" (where nobody did). "tenant" is any other namespace.
let w: World;
let sa: KubeRest;
const PASSWORD_IN_TENANT = "Tenant-0wned-Pa55word";

beforeAll(async () => {
  w = await World.start();
  await applyAll(w.kube, shippedRbac());
  for (const name of ["tenant", "creds", "unbound"]) await w.kube.create(NamespaceType, { metadata: { name } });
  // The shipped Role and RoleBinding, copied into "creds" (their subject stays vmdr-system/vmdr-manager).
  const copies = shippedRbac(["secret-reader.yaml"]).map((o): KubeObject => ({ ...o, metadata: { ...o.metadata, namespace: "creds" } }));
  await applyAll(w.kube, copies);
  await w.applySites();

  const site1 = w.lab.site("site1");
  const put = (namespace: string, name: string, password: string) =>
    w.kube.create(SecretType, { metadata: { namespace, name }, stringData: { username: site1.vcenter.username, password } });
  // The real vCenter password: were the operator to read this Secret, it could log in with it.
  await put("tenant", "stolen", site1.vcenter.password);
  await put("tenant", "other", PASSWORD_IN_TENANT);
  await put("creds", "site1-vcenter", site1.vcenter.password);
  await put("unbound", "site1-vcenter", site1.vcenter.password);
  const base = (await w.kube.get(SiteType, { name: "site1" }))!;
  const variant = (name: string, namespace: string, secret: string): Site => ({
    metadata: { name },
    spec: { ...base.spec, vcenter: { ...base.spec.vcenter, credentialsSecretRef: { namespace, name: secret } } },
  });
  await w.kube.create(SiteType, variant("tenant-site", "tenant", "stolen"));
  await w.kube.create(SiteType, variant("creds-site", "creds", "site1-vcenter"));
  await w.kube.create(SiteType, variant("unbound-site", "unbound", "site1-vcenter"));

  const kc = await serviceAccountKubeconfig(w.rest, w.cp, OPERATOR_NAMESPACE, "vmdr-manager");
  const k = new KubeConfig();
  k.loadFromFile(kc.path);
  sa = await KubeRest.create(k, { timeoutMs: 10_000 });
  w.startOperator([`--kubeconfig=${kc.path}`, "--secret-namespaces=vmdr-system,creds,unbound"]);
});
afterAll(async () => {
  sa?.close();
  await w?.stop();
});

function condition(name: string, type: string, status: "True" | "False", reason?: string) {
  return eventually(async () => {
    const c = findCondition((await w.kube.get(SiteType, { name }))?.status?.conditions, type);
    return c?.status === status && (reason === undefined || c.reason === reason) ? c : undefined;
  }, 30_000, `Site ${name} ${type}=${status}${reason ? ` (${reason})` : ""}:\n${w.operator?.tail(20) ?? ""}`);
}

async function statusCode(path: string): Promise<number> {
  try {
    await sa.request("GET", path);
    return 200;
  } catch (err) {
    if (err instanceof KubeApiError) return err.statusCode;
    throw err;
  }
}

describe("Secret scope (operator as its ServiceAccount, deploy/rbac as shipped)", () => {
  it("works with credentials in the operator's own namespace", async () => {
    await condition("site1", "Ready", "True");
  });

  it("refuses a Site that names a Secret in another namespace with SecretNotAllowed, and its ServiceAccount could not read it anyway", async () => {
    const c = await condition("tenant-site", "VCenterReachable", "False", "SecretNotAllowed");
    expect(c.message).toContain("Secret tenant/stolen");
    expect(c.message).toContain("--secret-namespaces");
    expect(findCondition((await w.kube.get(SiteType, { name: "tenant-site" }))?.status?.conditions, "Ready")?.reason).toBe("SecretNotAllowed");
    // RBAC, the second wall: the operator's identity can read neither that Secret, nor any Secret
    // cluster-wide, nor the namespace's Secrets; it can list those where it was granted them.
    expect(await statusCode("/api/v1/namespaces/tenant/secrets/stolen")).toBe(403);
    expect(await statusCode("/api/v1/namespaces/tenant/secrets")).toBe(403);
    expect(await statusCode("/api/v1/secrets")).toBe(403);
    expect(await statusCode(`/api/v1/namespaces/${OPERATOR_NAMESPACE}/secrets?fieldSelector=metadata.name%3Dsite1-vcenter`)).toBe(200);
    expect(await statusCode("/api/v1/namespaces/creds/secrets?fieldSelector=metadata.name%3Dsite1-vcenter")).toBe(200);
  });

  it("reads credentials from a namespace added to --secret-namespaces once the Role is bound there", async () => {
    await condition("creds-site", "Ready", "True");
  });

  it("says SecretForbidden for an allowed namespace where the Role is not bound", async () => {
    const c = await condition("unbound-site", "VCenterReachable", "False", "SecretForbidden");
    expect(c.message).toContain("unbound/site1-vcenter");
    expect(c.message).toContain("vmdr-secret-reader");
  });

  it("picks up a Site's switch to an allowed Secret without a restart, and never logs a tenant's password", async () => {
    await condition("tenant-site", "VCenterReachable", "False", "SecretNotAllowed");
    await w.kube.mergePatch(SiteType, { name: "tenant-site" }, { spec: { vcenter: { credentialsSecretRef: { namespace: OPERATOR_NAMESPACE, name: "site1-vcenter" } } } });
    await condition("tenant-site", "Ready", "True");
    await w.kube.mergePatch(SiteType, { name: "tenant-site" }, { spec: { vcenter: { credentialsSecretRef: { namespace: "tenant", name: "other" } } } });
    await condition("tenant-site", "VCenterReachable", "False", "SecretNotAllowed");
    const logs = w.operator!.tail(100_000);
    expect(logs).not.toContain(PASSWORD_IN_TENANT);
    expect(logs).not.toContain(Buffer.from(PASSWORD_IN_TENANT).toString("base64"));
    expect(w.operator!.logLines().filter((l) => l.level === "fatal")).toEqual([]);
  });
});
