import { expect, it } from "vitest";
import { ReplicationRelationshipType } from "../../src/api/v1alpha1/index.js";
import { KubeApiError, isConflict, isNotFound } from "../../src/kube/errors.js";
import type { KubeStore } from "../../src/kube/store.js";
import { replicationRelationship } from "../fixtures/objects.js";

/**
 * What every KubeStore must do, run against the real API server (integration tier) and against
 * FakeKubeStore (unit tier), so the fake cannot drift from the behaviour reconcilers rely on.
 */
export function kubeStoreContract(setup: () => Promise<{ kube: KubeStore; namespace: string }>): void {
  const T = ReplicationRelationshipType;

  it("returns undefined for a missing object and false when deleting one", async () => {
    const { kube, namespace } = await setup();
    expect(await kube.get(T, { namespace, name: "absent" })).toBeUndefined();
    expect(await kube.delete(T, { namespace, name: "absent" })).toBe(false);
  });

  it("refuses to create an object twice with 409 AlreadyExists", async () => {
    const { kube, namespace } = await setup();
    await kube.create(T, replicationRelationship(namespace, "twice"));
    const err = await kube.create(T, replicationRelationship(namespace, "twice")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).reason).toBe("AlreadyExists");
  });

  it("writes status only through the status subresource, conditionally on resourceVersion", async () => {
    const { kube, namespace } = await setup();
    const created = await kube.create(T, replicationRelationship(namespace, "cond"));
    expect(created.metadata.generation).toBe(1);
    const withStatus = await kube.replaceStatus(T, { ...created, status: { state: "snapmirrored" } });
    expect(withStatus.status?.state).toBe("snapmirrored");
    expect(withStatus.metadata.generation).toBe(1);
    expect(withStatus.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);
    const stale = await kube.replaceStatus(T, { ...created, status: { state: "paused" } }).catch((e: unknown) => e);
    expect(isConflict(stale)).toBe(true);
    const replaced = await kube.replace(T, { ...withStatus, spec: { ...withStatus.spec, rpo: "3h" }, status: { state: "ignored" } });
    expect(replaced.status?.state).toBe("snapmirrored");
    expect(replaced.metadata.generation).toBe(2);
  });

  it("makes a merge patch conditional when it carries a resourceVersion", async () => {
    const { kube, namespace } = await setup();
    const created = await kube.create(T, replicationRelationship(namespace, "patch"));
    const key = { namespace, name: "patch" };
    const patched = await kube.mergePatch(T, key, { metadata: { labels: { a: "1" } } });
    expect(patched.metadata.labels).toEqual({ a: "1" });
    const err = await kube.mergePatch(T, key, { metadata: { resourceVersion: created.metadata.resourceVersion, labels: { b: "2" } } }).catch((e: unknown) => e);
    expect(isConflict(err)).toBe(true);
    const removed = await kube.mergePatch(T, key, { metadata: { labels: { a: null } } });
    expect(removed.metadata.labels ?? {}).toEqual({});
  });

  it("holds a deleted object with a finalizer until the finalizer is removed", async () => {
    const { kube, namespace } = await setup();
    await kube.create(T, { ...replicationRelationship(namespace, "held"), metadata: { namespace, name: "held", finalizers: ["dr.vmdr.io/test"] } });
    const key = { namespace, name: "held" };
    expect(await kube.delete(T, key)).toBe(true);
    const held = await kube.get(T, key);
    expect(held?.metadata.deletionTimestamp).toBeDefined();
    await kube.mergePatch(T, key, { metadata: { finalizers: null } });
    expect(await kube.get(T, key)).toBeUndefined();
  });

  it("answers 404 when patching a missing object", async () => {
    const { kube, namespace } = await setup();
    const err = await kube.mergePatch(T, { namespace, name: "nope" }, { metadata: { labels: { a: "1" } } }).catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
  });
}
