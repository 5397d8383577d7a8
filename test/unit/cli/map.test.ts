import { describe, expect, it } from "vitest";
import type { ProtectionGroup, ReplicationRelationship } from "../../../src/api/v1alpha1/index.js";
import type { ShadowRecord } from "../../../src/controllers/protection-group/records.js";
import { buildMap } from "../../../src/cli/map/model.js";
import { renderMarkdown, renderMermaid } from "../../../src/cli/map/render.js";
import { protectionGroup, replicationRelationship } from "../../fixtures/objects.js";

const T = "2026-12-01T10:00:00Z";
const cond = (type: string, status: "True" | "False", reason: string) => ({ type, status, reason, message: "", lastTransitionTime: T });

/** HR as the ProtectionGroup controller writes it: two volumes, RP1 and RP2, one VM on Finance's RP3. */
function hr(): ProtectionGroup {
  const pg = protectionGroup("dr", "hr");
  pg.status = {
    conditions: [cond("Ready", "False", "VmOutsideGroupDatastores"), cond("Aligned", "False", "VmOutsideGroupDatastores")],
    counts: { members: 3, shadowed: 3, placeholders: 0, problems: 1 },
    datastores: ["RP1", "RP2"],
    volumes: [
      { relationship: "rg1fv1", volume: "RG1FV1", datastores: ["RP1"] },
      { relationship: "rg1fv2", volume: "RG1FV2", datastores: ["RP2"] },
    ],
    problems: [{ kind: "VmOutsideGroupDatastores", subject: "HR-On-Finance", message: 'VM HR-On-Finance has files on datastore(s) RP3 that the group does not replicate' }],
  };
  return pg;
}

function rr(name: string, volume: string, status: ReplicationRelationship["status"]): ReplicationRelationship {
  const r = replicationRelationship("dr", name);
  r.spec.source.volume = volume;
  r.spec.destination.volume = `${volume}_SM`;
  r.spec.rpo = "1h";
  r.status = status;
  return r;
}

const record = (uuid: string, name: string, datastores: string[], shadowed = true): ShadowRecord & { uuid: string } => ({
  uuid,
  name,
  protectedFolder: "Protection Group 1/Database",
  shadowFolder: "DR-virtual machines/Site1-Protection Group 1/Site1-Database",
  resourcePool: "Site1-HRServers",
  datastores,
  shadowed,
});

const healthy = { state: "snapmirrored", healthy: true, lagSeconds: 300 };

describe("vmdr map", () => {
  it("links each VM to its datastores, each datastore to the volume and relationship carrying it, and on to the replica", () => {
    const m = buildMap(hr(), [rr("rg1fv1", "RG1FV1", healthy), rr("rg1fv2", "RG1FV2", healthy)], [record("u1", "HR Database", ["RP1"]), record("u2", "HR-App1", ["RP1", "RP2"])]);
    expect(m.datastores).toEqual([
      { name: "RP1", relationship: "rg1fv1", problems: [] },
      { name: "RP2", relationship: "rg1fv2", problems: [] },
    ]);
    expect(m.relationships.map((r) => `${r.name} ${r.sourceVolume}→${r.destinationSite}:${r.destinationVolume} ${r.state}`)).toEqual([
      "rg1fv1 RG1FV1→site2:RG1FV1_SM snapmirrored",
      "rg1fv2 RG1FV2→site2:RG1FV2_SM snapmirrored",
    ]);
    const mermaid = renderMermaid(m, { maxVms: 40 });
    expect(mermaid.split("\n")[0]).toBe("flowchart LR");
    // HR-App1 → RP1 and RP2; RP1 → volume RG1FV1 → rg1fv1 → replica RG1FV1_SM.
    const node = (text: string): string => /^\s*(\w+)[[(/]/.exec(mermaid.split("\n").find((l) => l.includes(`"${text}`)) ?? "")?.[1] ?? "?";
    expect(mermaid).toContain(`${node("HR-App1")} --> ${node("RP1")}`);
    expect(mermaid).toContain(`${node("HR-App1")} --> ${node("RP2")}`);
    expect(mermaid).toContain(`${node("RP1")} --> ${node("volume RG1FV1")}`);
    expect(mermaid).toContain(`${node("volume RG1FV1")} --> ${node("rg1fv1: snapmirrored, lag 5m")}`);
    expect(mermaid).toContain(`${node("rg1fv1: snapmirrored, lag 5m")} --> ${node("replica RG1FV1_SM")}`);
    expect(mermaid).not.toMatch(/^\s*class .* problem$/m);
  });

  it("highlights alignment and replication problems: a VM on an unreplicated datastore, a lag over the RPO, a volume with no datastore, a missing relationship", () => {
    const pg = hr();
    pg.spec.replicationRefs = ["rg1fv1", "rg1fv2", "rg1fv3"];
    pg.status!.volumes!.push({ relationship: "rg1fv3", volume: "RG1FV3", datastores: [] });
    const m = buildMap(pg, [rr("rg1fv1", "RG1FV1", healthy), rr("rg1fv2", "RG1FV2", { state: "snapmirrored", healthy: false, unhealthyReasons: ["transfer failed"], lagSeconds: 7300 }), rr("rg1fv3", "RG1FV3", healthy)], [
      record("u1", "HR Database", ["RP1"]),
      record("u3", "HR-On-Finance", ["RP2", "RP3"]),
    ]);
    pg.spec.replicationRefs.push("rg1fv9");
    const withMissing = buildMap(pg, [], []);
    expect(withMissing.problems.map((p) => p.kind)).toContain("RelationshipNotFound");

    expect(m.problems.map((p) => `${p.subject}: ${p.message}`)).toEqual([
      "HR-On-Finance: VM HR-On-Finance has files on datastore(s) RP3 that the group does not replicate",
      "rg1fv2: unhealthy: transfer failed",
      "rg1fv2: lag 2h1m40s is over the RPO 1h",
      "rg1fv3: volume RG1FV3 carries no datastore at site1",
    ]);
    expect(m.datastores.find((d) => d.name === "RP3")).toEqual({ name: "RP3", problems: ["not replicated by this group"] });
    const mermaid = renderMermaid(m, { maxVms: 40 });
    const id = (text: string): string => /^\s*(\w+)[[(/]/.exec(mermaid.split("\n").find((l) => l.includes(`"${text}`)) ?? "")?.[1] ?? "?";
    const flagged = /^\s*class (\S+) problem$/m.exec(mermaid)?.[1]?.split(",") ?? [];
    expect(flagged.sort()).toEqual([id("HR-On-Finance"), id("RP3"), id("rg1fv2: snapmirrored, lag 2h1m40s"), id("rg1fv3: snapmirrored, lag 5m")].sort());
    expect(flagged).not.toContain(id("HR Database"));
    const md = renderMarkdown(m, { maxVms: 40 });
    expect(md).toContain("```mermaid\nflowchart LR");
    expect(md).toContain("- **HR-On-Finance** (VmOutsideGroupDatastores)");
    expect(md).toContain("| rg1fv2 | RG1FV2 | RP2 | site2: RG1FV2_SM | snapmirrored (unhealthy) | 2h1m40s | 1h |");
  });

  it("draws VMs without problems as one node per datastore beyond --max-vms, and keeps the ones with problems", () => {
    const vms = Array.from({ length: 50 }, (_, i) => record(`u${i}`, `HR-App${i}`, ["RP1"]));
    vms.push(record("bad", "HR-On-Finance", ["RP3"]));
    const mermaid = renderMermaid(buildMap(hr(), [rr("rg1fv1", "RG1FV1", healthy), rr("rg1fv2", "RG1FV2", healthy)], vms), { maxVms: 10 });
    expect(mermaid).toContain('"50 VM(s)"');
    expect(mermaid).toContain('"HR-On-Finance"');
    expect(mermaid).not.toContain('"HR-App7"');
  });

  it("keeps names that look like Mermaid syntax inside their labels", () => {
    const m = buildMap(hr(), [], [record("q", 'Web "A" <end> --> x', ["RP1"])]);
    const mermaid = renderMermaid(m, { maxVms: 40 });
    expect(mermaid).toContain('["Web #quot;A#quot; #lt;end#gt; --#gt; x"]');
  });
});
