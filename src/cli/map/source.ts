import { ProtectionGroupType, ReplicationRelationshipType } from "../../api/v1alpha1/index.js";
import type { ProtectionGroup, ReplicationRelationship } from "../../api/v1alpha1/index.js";
import { ConfigMapType, GROUP_LABEL } from "../../controllers/protection-group/records.js";
import type { ConfigMap, ShadowRecord } from "../../controllers/protection-group/records.js";
import type { KubeStore } from "../../kube/store.js";
import { CliError } from "../command.js";
import type { Manifest } from "../validate/load.js";

/** What the map is drawn from. */
export interface MapInputs {
  readonly group: ProtectionGroup;
  readonly relationships: ReplicationRelationship[];
  readonly records: (ShadowRecord & { uuid: string })[];
}

/** The group's shadow records from its ConfigMaps (entries that do not parse are skipped). */
export function recordsOf(configMaps: readonly ConfigMap[]): (ShadowRecord & { uuid: string })[] {
  const out: (ShadowRecord & { uuid: string })[] = [];
  for (const cm of configMaps) {
    for (const [uuid, v] of Object.entries(cm.data ?? {})) {
      try {
        out.push({ ...(JSON.parse(v) as ShadowRecord), uuid });
      } catch {
        /* a corrupt entry: the operator rewrites it on its next pass */
      }
    }
  }
  return out;
}

/** Reads the group, its relationships and its shadow records from the cluster (get and list only). */
export async function fromCluster(kube: KubeStore, namespace: string, name: string): Promise<MapInputs> {
  const group = await kube.get(ProtectionGroupType, { namespace, name });
  if (!group) throw new CliError(`ProtectionGroup ${namespace}/${name} not found`);
  const relationships = (await Promise.all(group.spec.replicationRefs.map((r) => kube.get(ReplicationRelationshipType, { namespace, name: r })))).filter(
    (r): r is ReplicationRelationship => r !== undefined,
  );
  const cms = await kube.list(ConfigMapType, { namespace, labelSelector: `${GROUP_LABEL}=${name}` });
  return { group, relationships, records: recordsOf(cms.items) };
}

/** The same from manifests (e.g. kubectl get pg,rr,cm -o yaml), in one namespace. */
export function fromManifests(manifests: readonly Manifest[], namespace: string | undefined, name: string): MapInputs {
  const objs = manifests.map((m) => m.obj as unknown as { apiVersion?: string; kind?: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } });
  const groups = objs.filter((o) => o.kind === "ProtectionGroup" && o.metadata?.name === name && (namespace === undefined || o.metadata.namespace === namespace));
  if (groups.length === 0) throw new CliError(`no ProtectionGroup ${namespace ? `${namespace}/` : ""}${name} in the given files`);
  if (groups.length > 1) throw new CliError(`ProtectionGroup ${name} is in several namespaces (${groups.map((g) => g.metadata.namespace).join(", ")}): pick one with -n`);
  const group = groups[0] as unknown as ProtectionGroup;
  const ns = group.metadata.namespace;
  const inNs = objs.filter((o) => o.metadata?.namespace === ns);
  const relationships = inNs.filter((o) => o.kind === "ReplicationRelationship") as unknown as ReplicationRelationship[];
  const cms = inNs.filter((o) => o.kind === "ConfigMap" && o.metadata.labels?.[GROUP_LABEL] === name) as unknown as ConfigMap[];
  return { group, relationships, records: recordsOf(cms) };
}
