import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SiteType, ReplicationRelationshipType, findCondition } from "../../src/api/v1alpha1/index.js";
import type { Site } from "../../src/api/v1alpha1/index.js";
import { EventType } from "../../src/runtime/events.js";
import { eventually } from "../harness/kube.js";
import { World } from "../harness/world.js";

let w: World;
beforeAll(async () => {
  w = await World.start();
  w.startOperator();
});
afterAll(async () => {
  await w?.stop();
});

const site = (name: string): Promise<Site | undefined> => w.kube.get(SiteType, { name });

/** Waits until the Site's condition has the given status (and reason, if given). */
function condition(name: string, type: string, status: "True" | "False", reason?: string, timeoutMs = 30_000) {
  return eventually(async () => {
    const c = findCondition((await site(name))?.status?.conditions, type);
    return c?.status === status && (reason === undefined || c.reason === reason) ? c : undefined;
  }, timeoutMs, `Site ${name} ${type}=${status}${reason ? ` (${reason})` : ""}`);
}

describe("Site controller (real kube-apiserver + lab)", () => {
  beforeAll(async () => {
    await w.applySites({
      site1: (s) => {
        s.spec.vcenter.credentialsSecretRef = { name: "site1-vcenter-wrong", namespace: "vmdr-system" };
      },
    });
    await w.putSecret("site1-vcenter-wrong", "administrator@vsphere.local", "Not-The-Pa55word");
  });

  it("reports reachable endpoints with their versions and becomes Ready", async () => {
    await condition("site2", "Ready", "True");
    const s = (await site("site2"))!;
    expect(findCondition(s.status?.conditions, "VCenterReachable")?.status).toBe("True");
    expect(findCondition(s.status?.conditions, "StorageReachable")?.status).toBe("True");
    expect(s.status?.vcenter?.instanceUuid).toBe(w.lab.site("site2").vcenter.instanceUuid);
    expect(s.status?.vcenter?.version).toMatch(/^8\./);
    expect(s.status?.storage).toEqual([{ name: "cluster", cluster: "site2-ontap", version: "9.8.0" }]);
    expect(s.status?.observedGeneration).toBe(s.metadata.generation);
    expect(s.metadata.finalizers).toContain("dr.vmdr.io/site");
  });

  it("says InvalidCredentials for a wrong password without the password reaching logs, events or status, and recovers when the Secret is fixed", async () => {
    const c = await condition("site1", "VCenterReachable", "False", "InvalidCredentials");
    expect(c.message).toMatch(/InvalidLogin/);
    expect(findCondition((await site("site1"))?.status?.conditions, "Ready")?.reason).toBe("InvalidCredentials");
    await eventually(async () => ((await w.kube.list(EventType, { namespace: "default" })).items.some((e) => e.reason === "InvalidCredentials") ? true : undefined));
    const events = JSON.stringify((await w.kube.list(EventType, { namespace: "default" })).items);
    const status = JSON.stringify((await site("site1"))?.status);
    const logs = w.operator!.tail(100_000);
    for (const text of [events, status, logs]) {
      expect(text).not.toContain("Not-The-Pa55word");
      expect(text).not.toContain(w.lab.site("site1").vcenter.password);
      expect(text).not.toContain(Buffer.from("Not-The-Pa55word").toString("base64"));
    }
    // Fix the Secret in place: the Secret watch re-checks the Site; nothing restarts.
    await w.putSecret("site1-vcenter-wrong", w.lab.site("site1").vcenter.username, w.lab.site("site1").vcenter.password);
    await condition("site1", "Ready", "True");
    expect(w.operator!.isAlive()).toBe(true);
  });

  it("says TLSVerificationFailed for a vCenter certificate from an unknown CA, and Ready with the right CA bundle", async () => {
    const s = (await site("site2"))!;
    await w.kube.mergePatch(SiteType, { name: "site2" }, { spec: { vcenter: { tls: { caBundle: w.lab.untrustedCaPem() } } } });
    const c = await condition("site2", "VCenterReachable", "False", "TLSVerificationFailed");
    expect(c.message).toMatch(/certificate/i);
    await w.kube.mergePatch(SiteType, { name: "site2" }, { spec: { vcenter: { tls: s.spec.vcenter.tls } } });
    await condition("site2", "Ready", "True");
  });

  it("reports Degraded with a reason while the Site 1 array is unreachable, and recovers when it returns", async () => {
    await condition("site1", "Ready", "True");
    await w.lab.ontapDown("site1", true);
    try {
      const c = await condition("site1", "Degraded", "True");
      expect(c.reason).toMatch(/Ontap|Unreachable/);
      expect(c.message).toMatch(/controller cluster/);
      expect(findCondition((await site("site1"))?.status?.conditions, "StorageReachable")?.status).toBe("False");
      expect(findCondition((await site("site1"))?.status?.conditions, "VCenterReachable")?.status).toBe("True");
    } finally {
      await w.lab.ontapDown("site1", false);
    }
    await condition("site1", "Degraded", "False");
    await condition("site1", "Ready", "True");
  });

  it("holds the deletion of a Site that a ReplicationRelationship still names, then releases it", async () => {
    await w.kube.create({ group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false }, { metadata: { name: "hold" } });
    await w.kube.create(ReplicationRelationshipType, {
      metadata: { namespace: "hold", name: "uses-site2", annotations: { "dr.vmdr.io/poll-interval": "1h" } },
      spec: { source: { siteRef: "site1", volume: "RG1FV1" }, destination: { siteRef: "site2", volume: "RG1FV1_SM" }, rpo: "2h" },
    });
    await w.kube.delete(SiteType, { name: "site2" });
    const c = await condition("site2", "Ready", "False", "InUse");
    expect(c.message).toContain("ReplicationRelationship hold/uses-site2");
    await w.kube.delete(ReplicationRelationshipType, { namespace: "hold", name: "uses-site2" });
    await eventually(async () => ((await site("site2")) === undefined ? true : undefined), 30_000, "site2 to be deleted");
  });
});
