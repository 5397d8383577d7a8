import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FailoverRunType, ProtectionGroupType, ReplicationRelationshipType, SiteType } from "../../src/api/v1alpha1/index.js";
import { KubeApiError } from "../../src/kube/errors.js";
import { connect } from "../harness/kube.js";
import type { TestKube } from "../harness/kube.js";
import { failoverRun, protectionGroup, replicationRelationship, site } from "../fixtures/objects.js";

let t: TestKube;
let ns: string;

beforeAll(async () => {
  t = await connect();
  ns = await t.namespace("crds");
});
afterAll(() => t.close());

/** The API server's rejection of a create, or a failure if it was accepted. */
async function rejection(p: Promise<unknown>): Promise<KubeApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof KubeApiError) return err;
    throw err;
  }
  throw new Error("the API server accepted an invalid object");
}

describe("CRDs on a real API server", () => {
  it("accept a valid object of every kind and apply the schema defaults", async () => {
    const s = await t.kube.create(SiteType, site(`site-${ns}`));
    expect(s.spec.vcenter.url).toBe("https://vcenter.site1.example.com");
    const rr = await t.kube.create(ReplicationRelationshipType, replicationRelationship(ns, "rg1fv1"));
    expect(rr.spec.desiredState).toBe("Mirrored");
    expect(rr.spec.deletionPolicy).toBe("Retain");
    const pg = await t.kube.create(ProtectionGroupType, protectionGroup(ns, "hr"));
    expect(pg.spec.shadow.preRegister).toBe(false);
    const fr = await t.kube.create(FailoverRunType, failoverRun(ns, "test-1"));
    expect(fr.spec.dryRun).toBe(false);
  });

  it("rejects an unknown FailoverRun type and names the field", async () => {
    const bad = failoverRun(ns, "bad-type");
    (bad.spec as { type: string }).type = "Teleport";
    const err = await rejection(t.kube.create(FailoverRunType, bad));
    expect(err.statusCode).toBe(422);
    expect(err.message).toMatch(/spec\.type: Unsupported value: "Teleport"/);
  });

  it("rejects a ReplicationRelationship without a destination volume and names the field", async () => {
    const bad = replicationRelationship(ns, "no-dest-volume");
    delete (bad.spec.destination as { volume?: string }).volume;
    const err = await rejection(t.kube.create(ReplicationRelationshipType, bad));
    expect(err.statusCode).toBe(422);
    expect(err.message).toMatch(/spec\.destination\.volume: Required value/);
  });

  it("rejects a malformed CIDR and names the field", async () => {
    const bad = site(`bad-cidr-${ns}`);
    bad.spec.networks = [{ name: "lan", portgroup: "Site1-LAN", cidr: "20.1.1.0/33" }];
    const err = await rejection(t.kube.create(SiteType, bad));
    expect(err.statusCode).toBe(422);
    expect(err.message).toMatch(/spec\.networks\[0\]\.cidr: Invalid value: .*must be a CIDR/);
  });

  it("rejects a vCenter URL that is not https and names the field", async () => {
    const bad = site(`bad-url-${ns}`);
    bad.spec.vcenter.url = "http://vcenter.example.com";
    const err = await rejection(t.kube.create(SiteType, bad));
    expect(err.message).toMatch(/spec\.vcenter\.url: Invalid value: .*must be an https URL/);
  });

  it("rejects a disruptive run without confirmation and says how to confirm", async () => {
    const bad = failoverRun(ns, "disaster-unconfirmed", "Disaster");
    const err = await rejection(t.kube.create(FailoverRunType, bad));
    expect(err.statusCode).toBe(422);
    expect(err.message).toMatch(/spec\.confirmation: Required value: confirmation: a Disaster run is disruptive; set spec\.confirmation to "Disaster"/);
    const confirmed = failoverRun(ns, "disaster-confirmed", "Disaster");
    confirmed.spec.confirmation = "Disaster";
    await expect(t.kube.create(FailoverRunType, confirmed)).resolves.toBeDefined();
  });

  it("refuses edits to a FailoverRun spec", async () => {
    const fr = await t.kube.create(FailoverRunType, failoverRun(ns, "immutable"));
    const err = await rejection(t.kube.mergePatch(FailoverRunType, { namespace: ns, name: fr.metadata.name }, { spec: { dryRun: true } }));
    expect(err.statusCode).toBe(422);
    expect(err.message).toMatch(/spec: Invalid value: .*spec is immutable/);
  });

  it("rejects a run that names both groups and a site", async () => {
    const bad = failoverRun(ns, "both-scopes");
    bad.spec.site = "site1";
    const err = await rejection(t.kube.create(FailoverRunType, bad));
    expect(err.message).toMatch(/set exactly one of protectionGroups or site/);
  });

  it("rejects a ProtectionGroup whose protected and recovery sites are the same", async () => {
    const bad = protectionGroup(ns, "same-sites");
    bad.spec.recoverySiteRef = bad.spec.protectedSiteRef;
    const err = await rejection(t.kube.create(ProtectionGroupType, bad));
    expect(err.message).toMatch(/protectedSiteRef and recoverySiteRef must name different Sites/);
  });

  it("rejects a malformed duration and names the field", async () => {
    const bad = replicationRelationship(ns, "bad-rpo");
    bad.spec.rpo = "two hours";
    const err = await rejection(t.kube.create(ReplicationRelationshipType, bad));
    expect(err.message).toMatch(/spec\.rpo: Invalid value: "two hours"/);
  });

  it("keeps status out of create and spec out of status writes (status subresource)", async () => {
    const rr = replicationRelationship(ns, "subresource");
    rr.status = { state: "snapmirrored" };
    const created = await t.kube.create(ReplicationRelationshipType, rr);
    expect(created.status).toBeUndefined();
    const written = await t.kube.replaceStatus(ReplicationRelationshipType, {
      ...created,
      spec: { ...created.spec, rpo: "9h" },
      status: { state: "snapmirrored" },
    });
    expect(written.status?.state).toBe("snapmirrored");
    expect(written.spec.rpo).toBe("2h");
  });
});
