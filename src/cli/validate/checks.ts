import type { FailoverRunSpec, ProtectionGroupSpec, ReplicationRelationshipSpec, SiteSpec, VolumeEndpoint } from "../../api/v1alpha1/index.js";
import type { Finding } from "./findings.js";
import { cidrRange, contains, overlaps } from "./net.js";
import type { Checked } from "./schema.js";

/** Everything the cross-object checks look at, indexed. */
export class ManifestSet {
  readonly sites = new Map<string, Checked & { spec: SiteSpec }>();
  readonly groups: (Checked & { spec: ProtectionGroupSpec })[] = [];
  readonly relationships = new Map<string, Checked & { spec: ReplicationRelationshipSpec }>();
  readonly runs = new Map<string, Checked & { spec: FailoverRunSpec }>();
  readonly secrets = new Set<string>();
  readonly hasSecrets: boolean;

  constructor(objects: readonly Checked[], others: readonly Checked[], readonly secretNamespaces: readonly string[]) {
    for (const o of objects) {
      const key = `${o.namespace ?? ""}/${o.name}`;
      if (o.kind === "Site") this.sites.set(o.name, o as Checked & { spec: SiteSpec });
      else if (o.kind === "ProtectionGroup") this.groups.push(o as Checked & { spec: ProtectionGroupSpec });
      else if (o.kind === "ReplicationRelationship") this.relationships.set(key, o as Checked & { spec: ReplicationRelationshipSpec });
      else if (o.kind === "FailoverRun") this.runs.set(key, o as Checked & { spec: FailoverRunSpec });
    }
    for (const o of others) if (o.kind === "Secret") this.secrets.add(`${o.namespace ?? ""}/${o.name}`);
    this.hasSecrets = others.some((o) => o.kind === "Secret");
  }

  rr(namespace: string | undefined, name: string): (Checked & { spec: ReplicationRelationshipSpec }) | undefined {
    return this.relationships.get(`${namespace ?? ""}/${name}`);
  }
}

/** One cross-object rule: its name (the finding's `check`) and what it reports. */
export interface Check {
  readonly name: string;
  readonly description: string;
  run(set: ManifestSet, all: readonly Checked[]): Finding[];
}

const finding = (o: Checked, check: string, field: string, message: string, severity: Finding["severity"] = "error"): Finding => ({
  severity,
  check,
  file: o.m.file,
  line: o.m.line,
  object: { kind: o.kind, name: o.name, ...(o.namespace ? { namespace: o.namespace } : {}) },
  field,
  message,
});

const where = (o: Checked): string => `${o.kind} ${o.namespace ? `${o.namespace}/` : ""}${o.name} (${o.m.file}:${o.m.line})`;

const duplicates: Check = {
  name: "duplicate",
  description: "no two manifests define the same object",
  run(_set, all) {
    const seen = new Map<string, Checked>();
    const out: Finding[] = [];
    for (const o of all) {
      const id = `${o.kind}/${o.namespace ?? ""}/${o.name}`;
      const first = seen.get(id);
      if (first) out.push(finding(o, "duplicate", "metadata.name", `also defined by ${where(first)}`));
      else seen.set(id, o);
    }
    return out;
  },
};

function endpointFindings(set: ManifestSet, o: Checked, field: string, e: VolumeEndpoint): Finding[] {
  const site = set.sites.get(e.siteRef);
  if (!site) return [finding(o, "references", `${field}.siteRef`, `Site "${e.siteRef}" is not among the manifests`)];
  if (e.controller !== undefined && !site.spec.storage.controllers.some((c) => c.name === e.controller)) {
    return [finding(o, "references", `${field}.controller`, `Site ${e.siteRef} has no storage controller "${e.controller}" (it has: ${site.spec.storage.controllers.map((c) => c.name).join(", ")})`)];
  }
  return [];
}

const references: Check = {
  name: "references",
  description: "every Site, ReplicationRelationship, ProtectionGroup, test run, priority group and credentials Secret named exists (Secrets only when the manifests include Secrets) and is allowed",
  run(set) {
    const out: Finding[] = [];
    for (const s of set.sites.values()) {
      const refs = [
        { field: "spec.vcenter.credentialsSecretRef", ref: s.spec.vcenter.credentialsSecretRef },
        ...s.spec.storage.controllers.map((c, i) => ({ field: `spec.storage.controllers[${i}].credentialsSecretRef`, ref: c.credentialsSecretRef })),
      ];
      for (const { field, ref } of refs) {
        if (!set.secretNamespaces.includes(ref.namespace)) {
          out.push(finding(s, "references", `${field}.namespace`, `Secret ${ref.namespace}/${ref.name} is outside the namespaces the operator reads Secrets in (${set.secretNamespaces.join(", ")}; see --secret-namespaces): the Site would get SecretNotAllowed`));
        } else if (set.hasSecrets && !set.secrets.has(`${ref.namespace}/${ref.name}`)) {
          out.push(finding(s, "references", field, `Secret ${ref.namespace}/${ref.name} is not among the manifests`, "warning"));
        }
      }
    }
    for (const r of set.relationships.values()) {
      out.push(...endpointFindings(set, r, "spec.source", r.spec.source), ...endpointFindings(set, r, "spec.destination", r.spec.destination));
    }
    for (const g of set.groups) {
      for (const f of ["protectedSiteRef", "recoverySiteRef"] as const) {
        if (!set.sites.has(g.spec[f])) out.push(finding(g, "references", `spec.${f}`, `Site "${g.spec[f]}" is not among the manifests`));
      }
      g.spec.replicationRefs.forEach((name, i) => {
        const r = set.rr(g.namespace, name);
        if (!r) out.push(finding(g, "references", `spec.replicationRefs[${i}]`, `ReplicationRelationship "${name}" is not among the manifests in namespace ${g.namespace ?? "?"}`));
        else if (r.spec.source.siteRef !== g.spec.protectedSiteRef || r.spec.destination.siteRef !== g.spec.recoverySiteRef) {
          out.push(finding(g, "references", `spec.replicationRefs[${i}]`, `ReplicationRelationship ${name} replicates ${r.spec.source.siteRef} → ${r.spec.destination.siteRef}, not ${g.spec.protectedSiteRef} → ${g.spec.recoverySiteRef}`));
        }
      });
      const pgs = g.spec.powerOn?.priorityGroups ?? [];
      pgs.forEach((p, i) =>
        (p.dependsOn ?? []).forEach((d, j) => {
          if (!pgs.some((q) => q.name === d)) out.push(finding(g, "references", `spec.powerOn.priorityGroups[${i}].dependsOn[${j}]`, `no priority group "${d}" in this ProtectionGroup`));
        }),
      );
    }
    for (const run of set.runs.values()) {
      (run.spec.protectionGroups ?? []).forEach((name, i) => {
        if (!set.groups.some((g) => g.namespace === run.namespace && g.name === name)) {
          out.push(finding(run, "references", `spec.protectionGroups[${i}]`, `ProtectionGroup "${name}" is not among the manifests in namespace ${run.namespace ?? "?"}`));
        }
      });
      if (run.spec.site !== undefined && !set.sites.has(run.spec.site)) out.push(finding(run, "references", "spec.site", `Site "${run.spec.site}" is not among the manifests`));
      if (run.spec.testRun !== undefined) {
        const t = set.runs.get(`${run.namespace ?? ""}/${run.spec.testRun}`);
        if (!t) out.push(finding(run, "references", "spec.testRun", `FailoverRun "${run.spec.testRun}" is not among the manifests in namespace ${run.namespace ?? "?"}`, "warning"));
        else if (t.spec.type !== "Test") out.push(finding(run, "references", "spec.testRun", `FailoverRun ${run.spec.testRun} is a ${t.spec.type} run, not a Test`));
      }
    }
    return out;
  },
};

/** A volume's identity across manifests: its Site, controller (first when unnamed), SVM and name. */
function volumeId(set: ManifestSet, e: VolumeEndpoint): string {
  const site = set.sites.get(e.siteRef);
  const c = e.controller ?? site?.spec.storage.controllers[0]?.name ?? "";
  const svm = e.svm ?? site?.spec.storage.controllers.find((x) => x.name === c)?.svm ?? "";
  return `${e.siteRef}/${c}/${svm}/${e.volume}`;
}

const folderOf = (g: { spec: ProtectionGroupSpec }): string | undefined => g.spec.vms.folder?.replace(/^\/+|\/+$/g, "");

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
  return re.test(name);
}

/** Whether some VM name could be matched by both pattern lists (exactly when one side is literal). */
function patternsShare(a: { spec: ProtectionGroupSpec }, b: { spec: ProtectionGroupSpec }): string | undefined {
  const pa = a.spec.vms.namePatterns ?? [];
  const pb = b.spec.vms.namePatterns ?? [];
  const excluded = (g: { spec: ProtectionGroupSpec }, n: string): boolean => (g.spec.vms.excludeNames ?? []).includes(n);
  for (const x of pa) {
    for (const y of pb) {
      if (x === y) return x;
      const literal = !/[*?]/.test(x) ? x : !/[*?]/.test(y) ? y : undefined;
      if (literal !== undefined && globMatch(x, literal) && globMatch(y, literal) && !excluded(a, literal) && !excluded(b, literal)) return literal;
    }
  }
  return undefined;
}

const exclusiveMembership: Check = {
  name: "exclusive-membership",
  description: "no VM or datastore is in two ProtectionGroups: no shared relationship or source volume, no overlapping VM folders or name patterns, one relationship per destination volume",
  run(set) {
    const out: Finding[] = [];
    const byRelationship = new Map<string, Checked>();
    const bySourceVolume = new Map<string, { g: Checked; rr: string }>();
    for (const g of set.groups) {
      g.spec.replicationRefs.forEach((name, i) => {
        const r = set.rr(g.namespace, name);
        const first = byRelationship.get(`${g.namespace ?? ""}/${name}`);
        if (first && first !== g) {
          out.push(finding(g, "exclusive-membership", `spec.replicationRefs[${i}]`, `ReplicationRelationship ${name} (and the datastores on its volume) is already in ProtectionGroup ${first.namespace ?? ""}/${first.name}`));
          return;
        }
        byRelationship.set(`${g.namespace ?? ""}/${name}`, g);
        if (!r) return;
        const vol = volumeId(set, r.spec.source);
        const other = bySourceVolume.get(vol);
        if (other && other.g !== g) {
          out.push(finding(g, "exclusive-membership", `spec.replicationRefs[${i}]`, `source volume ${r.spec.source.volume} (via ${name}) is already in ProtectionGroup ${other.g.namespace ?? ""}/${other.g.name} (via ${other.rr}): its datastores would be in two groups`));
        } else bySourceVolume.set(vol, { g, rr: name });
      });
    }
    const groups = set.groups;
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < i; j++) {
        const a = groups[j] as (typeof groups)[number];
        const b = groups[i] as (typeof groups)[number];
        if (a.spec.protectedSiteRef !== b.spec.protectedSiteRef) continue;
        const fa = folderOf(a);
        const fb = folderOf(b);
        if (fa !== undefined && fb !== undefined && (fa === fb || fa.startsWith(`${fb}/`) || fb.startsWith(`${fa}/`))) {
          out.push(finding(b, "exclusive-membership", "spec.vms.folder", `the VMs under "${fa.length > fb.length ? fa : fb}" would be in this group and in ProtectionGroup ${a.namespace ?? ""}/${a.name} (folder "${fa}"; folders include their sub-folders)`));
        }
        const shared = patternsShare(a, b);
        if (shared !== undefined) out.push(finding(b, "exclusive-membership", "spec.vms.namePatterns", `VMs named "${shared}" would be in this group and in ProtectionGroup ${a.namespace ?? ""}/${a.name}`));
      }
    }
    const byDestination = new Map<string, Checked>();
    for (const r of set.relationships.values()) {
      const vol = volumeId(set, r.spec.destination);
      const first = byDestination.get(vol);
      if (first) out.push(finding(r, "exclusive-membership", "spec.destination.volume", `destination volume ${r.spec.destination.volume} is already the destination of ${where(first)}`));
      else byDestination.set(vol, r);
    }
    return out;
  },
};

const cidrs: Check = {
  name: "cidr",
  description: "re-IP rules of a group do not overlap (neither their fromCidr nor their toCidr ranges), a Site's networks do not overlap, and every gateway is inside its network",
  run(set) {
    const out: Finding[] = [];
    const pairwise = (o: Checked, items: readonly { field: string; cidr: string }[], what: string): void => {
      const ranges = items.map((x) => ({ ...x, r: cidrRange(x.cidr) }));
      ranges.forEach((x, i) => {
        for (const y of ranges.slice(0, i)) {
          if (x.r && y.r && overlaps(x.r, y.r)) out.push(finding(o, "cidr", x.field, `${x.cidr} overlaps ${y.cidr} (${y.field}): ${what}`));
        }
      });
    };
    const gateway = (o: Checked, field: string, cidr: string, gw: string | undefined): void => {
      const r = cidrRange(cidr);
      if (gw !== undefined && r && !contains(r, gw)) out.push(finding(o, "cidr", field, `gateway ${gw} is not inside ${cidr}`));
    };
    for (const g of set.groups) {
      const rules = g.spec.ipCustomization?.rules ?? [];
      pairwise(g, rules.map((r, i) => ({ field: `spec.ipCustomization.rules[${i}].fromCidr`, cidr: r.fromCidr })), "an address would match two rules");
      pairwise(g, rules.map((r, i) => ({ field: `spec.ipCustomization.rules[${i}].toCidr`, cidr: r.toCidr })), "two rules would hand out the same addresses");
      rules.forEach((r, i) => gateway(g, `spec.ipCustomization.rules[${i}].gateway`, r.toCidr, r.gateway));
    }
    for (const s of set.sites.values()) {
      const nets = s.spec.networks ?? [];
      pairwise(s, nets.map((n, i) => ({ field: `spec.networks[${i}].cidr`, cidr: n.cidr })), "a Site's networks must be distinct");
      nets.forEach((n, i) => gateway(s, `spec.networks[${i}].gateway`, n.cidr, n.gateway));
    }
    return out;
  },
};

const acyclic: Check = {
  name: "acyclic",
  description: "power-on dependencies (priorityGroups[].dependsOn) form no cycle, and nothing depends on a group that starts later",
  run(set) {
    const out: Finding[] = [];
    for (const g of set.groups) {
      const pgs = g.spec.powerOn?.priorityGroups ?? [];
      const index = new Map(pgs.map((p, i) => [p.name, i]));
      const state = new Map<string, "visiting" | "done">();
      const reported = new Set<string>();
      const visit = (name: string, path: string[]): void => {
        if (state.get(name) === "done") return;
        if (state.get(name) === "visiting") {
          const cycle = [...path.slice(path.indexOf(name)), name];
          const key = [...cycle].sort().join(",");
          if (!reported.has(key)) {
            reported.add(key);
            out.push(finding(g, "acyclic", `spec.powerOn.priorityGroups[${index.get(name) ?? 0}].dependsOn`, `power-on dependencies form a cycle: ${cycle.join(" → ")}`));
          }
          return;
        }
        state.set(name, "visiting");
        for (const d of pgs[index.get(name) ?? -1]?.dependsOn ?? []) if (index.has(d)) visit(d, [...path, name]);
        state.set(name, "done");
      };
      for (const p of pgs) visit(p.name, []);
      pgs.forEach((p, i) =>
        (p.dependsOn ?? []).forEach((d, j) => {
          const q = pgs[index.get(d) ?? -1];
          if (q && q.priority > p.priority) {
            out.push(finding(g, "acyclic", `spec.powerOn.priorityGroups[${i}].dependsOn[${j}]`, `"${p.name}" (priority ${p.priority}) depends on "${d}", which starts later (priority ${q.priority})`, "warning"));
          }
        }),
      );
    }
    return out;
  },
};

const testNetwork: Check = {
  name: "test-network",
  description: "every test portgroup a group names is a network of its recovery Site marked isolated",
  run(set) {
    const out: Finding[] = [];
    for (const g of set.groups) {
      const site = set.sites.get(g.spec.recoverySiteRef);
      if (!site) continue; // references says so
      const uses = [
        ...(g.spec.testPortgroup !== undefined ? [{ field: "spec.testPortgroup", pg: g.spec.testPortgroup }] : []),
        ...(g.spec.networkMappings ?? []).flatMap((m, i) => (m.testPortgroup !== undefined ? [{ field: `spec.networkMappings[${i}].testPortgroup`, pg: m.testPortgroup }] : [])),
      ];
      for (const u of uses) {
        const net = (site.spec.networks ?? []).find((n) => n.portgroup === u.pg);
        if (!net) out.push(finding(g, "test-network", u.field, `test portgroup "${u.pg}" is not a network of the recovery Site ${site.name} (declare it in its spec.networks with isolated: true)`));
        else if (!net.isolated) out.push(finding(g, "test-network", u.field, `test portgroup "${u.pg}" is network "${net.name}" of Site ${site.name}, which is not marked isolated: a DR test there could reach production`));
      }
      if (uses.length === 0 && (g.spec.networkMappings ?? []).length > 0) {
        out.push(finding(g, "test-network", "spec.testPortgroup", "no test portgroup: a Test run with networkMode Isolated would have nowhere to connect the VMs", "warning"));
      }
    }
    return out;
  },
};

/** The cross-object checks, in the order they run. Each has a failing sample in test/fixtures/validate/bad. */
export const CHECKS: readonly Check[] = [duplicates, references, exclusiveMembership, cidrs, acyclic, testNetwork];
