import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ALL_KINDS } from "../../../src/api/v1alpha1/index.js";
import { CEL_TWINS, isTransitionRule } from "../../../src/cli/validate/cel.js";
import { CHECKS } from "../../../src/cli/validate/checks.js";
import type { Finding } from "../../../src/cli/validate/findings.js";
import { validateManifests } from "../../../src/cli/validate/index.js";
import { REPO_ROOT } from "../../harness/processes.js";

const BAD = "test/fixtures/validate/bad";
const GOOD = ["deploy/samples", "deploy/samples/runs"];

async function validate(paths: string[], stdin = ""): Promise<Finding[]> {
  const r = await validateManifests(paths, { cwd: REPO_ROOT, readStdin: () => Promise.resolve(stdin), defaultNamespace: "default", secretNamespaces: ["vmdr-system"] });
  return [...r.findings];
}

/** The findings of one bad sample, validated together with the good samples it builds on. */
async function bad(name: string): Promise<{ check: string; field?: string; severity: string; message: string; object?: string }[]> {
  const fs = await validate([...GOOD, `${BAD}/${name}.yaml`]);
  expect(fs.every((f) => f.file === `${BAD}/${name}.yaml`), JSON.stringify(fs.filter((f) => !f.file.startsWith(BAD)))).toBe(true);
  return fs.map((f) => ({ check: f.check, field: f.field, severity: f.severity, message: f.message, object: f.object && `${f.object.kind} ${f.object.namespace ? `${f.object.namespace}/` : ""}${f.object.name}` }));
}

describe("vmdr validate", () => {
  it("finds nothing wrong with the shipped samples (the VMbook topology and the run samples)", async () => {
    expect(await validate(GOOD)).toEqual([]);
  });

  it("has a failing sample for every check, and each sample trips only its own check", async () => {
    const samples = readdirSync(join(REPO_ROOT, BAD)).map((f) => f.replace(/\.yaml$/, "")).sort();
    expect(samples).toEqual(["yaml", "schema", ...CHECKS.map((c) => c.name)].sort());
    for (const s of samples) {
      const fs = await bad(s);
      expect(fs.length, s).toBeGreaterThan(0);
      expect(new Set(fs.map((f) => f.check)), s).toEqual(new Set([s]));
      expect(fs.some((f) => f.severity === "error"), s).toBe(true);
    }
  });

  it("reports YAML that does not parse with its file and line, and still checks the other files", async () => {
    const fs = await validate([`${BAD}/yaml.yaml`, `${BAD}/duplicate.yaml`, ...GOOD]);
    expect(fs.find((f) => f.check === "yaml")).toMatchObject({ file: `${BAD}/yaml.yaml`, line: 5, message: expect.stringMatching(/^not valid YAML/) });
    expect(fs.some((f) => f.check === "duplicate")).toBe(true);
  });

  it("applies the CRD schemas: unknown fields, CEL rules with their messages and fields, and list-map uniqueness", async () => {
    const fs = await bad("schema");
    expect(fs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ object: "Site site3", field: "spec.vcenter.colour", message: "unknown field" }),
        expect.objectContaining({ object: "Site site3", field: "spec.vcenter.url", message: "must be an https URL such as https://vcenter.example.com" }),
        expect.objectContaining({ object: "FailoverRun dr/disaster-unconfirmed", field: "spec.confirmation", message: expect.stringContaining('set spec.confirmation to "Disaster"') }),
        expect.objectContaining({ object: "ProtectionGroup dr/twice-mapped", field: "spec.networkMappings[1]", message: expect.stringContaining("duplicate entry: protectedPortgroup=Site1-LAN") }),
      ]),
    );
  });

  it("resolves every reference, and refuses credentials outside the operator's Secret namespaces", async () => {
    const fs = await bad("references");
    const fields = fs.map((f) => `${f.object} ${f.field}`);
    expect(fields).toEqual(
      expect.arrayContaining([
        "ProtectionGroup dr/payroll spec.recoverySiteRef",
        "ProtectionGroup dr/payroll spec.replicationRefs[0]",
        "ProtectionGroup dr/payroll spec.powerOn.priorityGroups[0].dependsOn[0]",
        "Site tenant-site spec.vcenter.credentialsSecretRef.namespace",
        "FailoverRun dr/test-nobody spec.protectionGroups[0]",
      ]),
    );
    expect(fs.find((f) => f.field === "spec.vcenter.credentialsSecretRef.namespace")?.message).toContain("SecretNotAllowed");
    expect(fs.find((f) => f.field === "spec.storage.controllers[0].credentialsSecretRef")).toMatchObject({ severity: "warning" });
  });

  it("keeps VMs and datastores in one group: shared relationships, nested folders, one destination per volume", async () => {
    const fs = await bad("exclusive-membership");
    expect(fs.map((f) => `${f.object} ${f.field}`).sort()).toEqual([
      "ProtectionGroup dr/hr-databases spec.replicationRefs[0]",
      "ProtectionGroup dr/hr-databases spec.vms.folder",
      "ReplicationRelationship dr/rg2fv1-again spec.destination.volume",
    ]);
  });

  it("finds VMs shared by name patterns and source volumes shared through different relationships", async () => {
    const stdin = `
apiVersion: dr.vmdr.io/v1alpha1
kind: ReplicationRelationship
metadata: {name: rg1fv1-other, namespace: dr}
spec: {source: {siteRef: site1, volume: RG1FV1}, destination: {siteRef: site2, volume: RG1FV1_OTHER}, rpo: 1h}
---
apiVersion: dr.vmdr.io/v1alpha1
kind: ProtectionGroup
metadata: {name: web, namespace: dr}
spec:
  protectedSiteRef: site1
  recoverySiteRef: site2
  replicationRefs: [rg1fv1-other]
  vms: {namePatterns: ["HR-App*"]}
  shadow: {rootFolder: DR-virtual machines, resourcePool: Web}
---
apiVersion: dr.vmdr.io/v1alpha1
kind: ProtectionGroup
metadata: {name: apps, namespace: dr}
spec:
  protectedSiteRef: site1
  recoverySiteRef: site2
  replicationRefs: [rg1fv1]
  vms: {namePatterns: ["HR-App1", "Other-*"]}
  shadow: {rootFolder: DR-virtual machines, resourcePool: Apps}
`;
    const fs = await validate(["deploy/samples/sites.yaml", "deploy/samples/replication.yaml", "-"], stdin);
    expect(fs.map((f) => `${f.object?.name} ${f.field}: ${f.message}`)).toEqual([
      'apps spec.replicationRefs[0]: source volume RG1FV1 (via rg1fv1) is already in ProtectionGroup dr/web (via rg1fv1-other): its datastores would be in two groups',
      'apps spec.vms.namePatterns: VMs named "HR-App1" would be in this group and in ProtectionGroup dr/web',
    ]);
  });

  it("catches overlapping re-IP and Site ranges and gateways outside their network", async () => {
    const fs = await bad("cidr");
    expect(fs.map((f) => `${f.object} ${f.field}`).sort()).toEqual([
      "ProtectionGroup dr/lab spec.ipCustomization.rules[0].gateway",
      "ProtectionGroup dr/lab spec.ipCustomization.rules[1].fromCidr",
      "ProtectionGroup dr/lab spec.ipCustomization.rules[2].toCidr",
      "Site site5 spec.networks[1].cidr",
    ]);
  });

  it("finds power-on dependency cycles, and warns about depending on a group that starts later", async () => {
    const fs = await bad("acyclic");
    expect(fs.find((f) => f.severity === "error")?.message).toBe("power-on dependencies form a cycle: web → app → web");
    expect(fs.find((f) => f.severity === "warning")).toMatchObject({ field: "spec.powerOn.priorityGroups[2].dependsOn[0]" });
  });

  it("wants every test portgroup to be an isolated network of the recovery Site", async () => {
    const fs = await bad("test-network");
    expect(fs.map((f) => `${f.field}: ${f.message.split(":")[0]}`).sort()).toEqual([
      'spec.networkMappings[0].testPortgroup: test portgroup "Site2-LAN" is network "lan" of Site site2, which is not marked isolated',
      'spec.testPortgroup: test portgroup "Nowhere-Isolated" is not a network of the recovery Site site2 (declare it in its spec.networks with isolated',
    ]);
  });

  it("has a JavaScript twin for every CEL rule of the CRDs (transition rules excepted)", () => {
    const rules: string[] = [];
    const walk = (s: unknown): void => {
      if (Array.isArray(s)) s.forEach(walk);
      else if (s && typeof s === "object") {
        for (const [k, v] of Object.entries(s)) {
          if (k === "x-kubernetes-validations") rules.push(...(v as { rule: string }[]).map((r) => r.rule));
          else walk(v);
        }
      }
    };
    for (const k of ALL_KINDS) walk(k.spec);
    expect(rules.length).toBeGreaterThan(10);
    expect(rules.filter((r) => !isTransitionRule(r) && !CEL_TWINS[r])).toEqual([]);
    expect(Object.keys(CEL_TWINS).filter((r) => !rules.includes(r))).toEqual([]);
  });
});
