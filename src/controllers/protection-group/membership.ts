import type { AlignmentProblem, ProtectionGroupSpec } from "../../api/v1alpha1/protection-group.js";
import type { InventoryIndex } from "../../sites/inventory-index.js";
import { refKey } from "../../vsphere/types.js";
import type { VmInfo } from "../../vsphere/types.js";

/** Shell-style glob (`*`, `?`) to a whole-string, case-sensitive RegExp. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

export interface Member {
  readonly vm: VmInfo;
  /** Folder path below the datacenter's vm folder. */
  readonly folderPath: string;
}

/**
 * The group's VMs at the protected site: those in its folder (recursively) and/or matching its
 * name patterns, minus excluded names and templates. VMs without an instance UUID are skipped
 * (the shadow is keyed by it).
 */
export function members(spec: ProtectionGroupSpec["vms"], inv: InventoryIndex): Member[] {
  const folder = spec.folder?.replace(/^\/+|\/+$/g, "");
  const patterns = (spec.namePatterns ?? []).map(globToRegExp);
  const excluded = new Set(spec.excludeNames ?? []);
  const out: Member[] = [];
  for (const vm of inv.vms) {
    if (vm.template || !vm.instanceUuid || excluded.has(vm.name)) continue;
    const path = inv.folderPath(vm.parent);
    if (path === undefined) continue;
    const inFolder = folder !== undefined && (path === folder || path.startsWith(`${folder}/`));
    const byName = patterns.some((p) => p.test(vm.name));
    if (folder !== undefined && patterns.length > 0 ? inFolder || byName : folder !== undefined ? inFolder : byName) {
      out.push({ vm, folderPath: path });
    }
  }
  return out.sort((a, b) => a.vm.name.localeCompare(b.vm.name));
}

export interface OtherGroup {
  /** "namespace/name" */
  readonly id: string;
  readonly datastores: ReadonlySet<string>; // datastore ref keys
  readonly members: ReadonlySet<string>; // instance UUIDs
}

/**
 * What keeps the group from failing over whole (reported, never fixed):
 *  - a member with a disk or its config on a datastore outside the group;
 *  - a VM on the group's datastores that is not a member (a "stray VM on a replicated LUN");
 *  - a datastore the group shares with another group (they can only fail over together);
 *  - a VM that another group also claims.
 * Sorted and deduplicated so the same world gives the same list.
 */
export function alignmentProblems(
  groupMembers: readonly Member[],
  datastores: ReadonlySet<string>,
  inv: InventoryIndex,
  others: readonly OtherGroup[],
): AlignmentProblem[] {
  const problems: AlignmentProblem[] = [];
  const memberUuids = new Set(groupMembers.map((m) => m.vm.instanceUuid));
  const dsName = (k: string): string => inv.datastores.get(k)?.name ?? k;
  for (const m of groupMembers) {
    const outside = m.vm.datastores.map(refKey).filter((k) => !datastores.has(k));
    if (outside.length > 0) {
      problems.push({
        kind: "VmOutsideGroupDatastores",
        subject: m.vm.name,
        message: `${m.vm.name} has files on ${outside.map(dsName).join(", ")}, which the group does not replicate; it would not recover whole`,
      });
    }
    const other = others.find((o) => o.members.has(m.vm.instanceUuid ?? ""));
    if (other) problems.push({ kind: "VmInMultipleGroups", subject: m.vm.name, message: `${m.vm.name} is also a member of ProtectionGroup ${other.id}` });
  }
  for (const vm of inv.vms) {
    if (vm.template || memberUuids.has(vm.instanceUuid)) continue;
    const on = vm.datastores.map(refKey).filter((k) => datastores.has(k));
    if (on.length > 0) {
      problems.push({
        kind: "StrayVm",
        subject: vm.name,
        message: `${vm.name} is on ${on.map(dsName).join(", ")}, replicated by this group, but is not a member: it would be recovered without being protected`,
      });
    }
  }
  for (const k of datastores) {
    const sharing = others.filter((o) => o.datastores.has(k)).map((o) => o.id);
    if (sharing.length > 0) {
      problems.push({
        kind: "SharedDatastore",
        subject: dsName(k),
        message: `datastore ${dsName(k)} also belongs to ProtectionGroup ${sharing.join(", ")}; these groups can only fail over together`,
      });
    }
  }
  const seen = new Set<string>();
  return problems
    .filter((p) => {
      const key = `${p.kind}/${p.subject}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.subject.localeCompare(b.subject));
}
