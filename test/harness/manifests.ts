import { readFileSync } from "node:fs";
import { loadAll } from "js-yaml";
import { isAlreadyExists } from "../../src/kube/errors.js";
import type { KubeStore } from "../../src/kube/store.js";
import type { KubeObject, ResourceType } from "../../src/kube/types.js";
import { FailoverRunType, ProtectionGroupType, ReplicationRelationshipType, SiteType } from "../../src/api/v1alpha1/index.js";

/** The kinds our deploy/ manifests use, by apiVersion/kind. */
const TYPES: Record<string, ResourceType> = {
  "v1/ServiceAccount": { group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true },
  "v1/Secret": { group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true },
  "v1/Namespace": { group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false },
  "rbac.authorization.k8s.io/v1/ClusterRole": { group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles", namespaced: false },
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": { group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRoleBinding", plural: "clusterrolebindings", namespaced: false },
  "rbac.authorization.k8s.io/v1/Role": { group: "rbac.authorization.k8s.io", version: "v1", kind: "Role", plural: "roles", namespaced: true },
  "rbac.authorization.k8s.io/v1/RoleBinding": { group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings", namespaced: true },
  "dr.vmdr.io/v1alpha1/Site": SiteType,
  "dr.vmdr.io/v1alpha1/ReplicationRelationship": ReplicationRelationshipType,
  "dr.vmdr.io/v1alpha1/ProtectionGroup": ProtectionGroupType,
  "dr.vmdr.io/v1alpha1/FailoverRun": FailoverRunType,
};

export function readManifests(...files: string[]): KubeObject[] {
  return files.flatMap((f) => loadAll(readFileSync(f, "utf8")).filter((d): d is KubeObject => typeof d === "object" && d !== null));
}

export function typeOf(obj: KubeObject): ResourceType {
  const t = TYPES[`${obj.apiVersion}/${obj.kind}`];
  if (!t) throw new Error(`no ResourceType for ${obj.apiVersion}/${obj.kind}; add it to test/harness/manifests.ts`);
  return t;
}

/** Creates each object (existing ones are left alone). */
export async function applyAll(kube: KubeStore, objs: readonly KubeObject[]): Promise<void> {
  for (const o of objs) {
    try {
      await kube.create(typeOf(o), o);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
}
