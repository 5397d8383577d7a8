import type { ShadowLayout } from "../../api/v1alpha1/protection-group.js";

/** Maps one protected folder name to its shadow name: an exact rule, else the prefix. */
export function shadowName(name: string, mapping: ShadowLayout["folderNameMapping"]): string {
  const rule = mapping?.rules?.find((r) => r.from === name);
  return rule ? rule.to : `${mapping?.prefix ?? ""}${name}`;
}

/**
 * Where a protected folder lands at the recovery site: below the shadow root, the group's folder
 * and each folder below it renamed by the mapping. VMs selected by name outside the group folder
 * land in the mapped folder of their own leaf folder.
 *   groupFolder "Protection Group 2", prefix "Site1-":
 *   "Protection Group 2/Database" → "<root>/Site1-Protection Group 2/Site1-Database"
 */
export function shadowFolderPath(protectedPath: string, groupFolder: string | undefined, layout: ShadowLayout): string {
  const root = layout.rootFolder.replace(/^\/+|\/+$/g, "");
  const g = groupFolder?.replace(/^\/+|\/+$/g, "");
  let parts: string[];
  if (g !== undefined && (protectedPath === g || protectedPath.startsWith(`${g}/`))) {
    const base = g.split("/").at(-1) ?? g;
    parts = [base, ...protectedPath.slice(g.length).split("/").filter(Boolean)];
  } else {
    parts = [protectedPath.split("/").at(-1) ?? protectedPath].filter(Boolean);
  }
  return [root, ...parts.map((p) => shadowName(p, layout.folderNameMapping))].filter(Boolean).join("/");
}

/** The group's own subtree at the recovery site (everything it creates lives below it). */
export function shadowSubtree(groupFolder: string | undefined, layout: ShadowLayout): string {
  const root = layout.rootFolder.replace(/^\/+|\/+$/g, "");
  if (groupFolder === undefined) return root;
  const base = groupFolder.replace(/^\/+|\/+$/g, "").split("/").at(-1) ?? "";
  return [root, shadowName(base, layout.folderNameMapping)].filter(Boolean).join("/");
}

/** Whether two subtrees overlap (equal, or one inside the other). */
export function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}
