import { each, el, ref, text } from "./soap/builder.js";
import type { Xml } from "./soap/builder.js";
import { child, childrenNamed } from "./soap/xml.js";
import type { XNode } from "./soap/xml.js";
import type { MoRef } from "./types.js";

/** Reads `<x type="T">id</x>` as a reference. */
export function readRef(n: XNode | undefined): MoRef | undefined {
  if (!n) return undefined;
  const type = n.attrs.type;
  return type && n.text ? { type, value: n.text } : undefined;
}

/** Reads an ArrayOfManagedObjectReference value. */
export function readRefs(n: XNode | undefined): MoRef[] {
  return (n?.children ?? []).map(readRef).filter((r): r is MoRef => r !== undefined);
}

/** One object's requested properties: property path → its `val` element. */
export interface ObjectContent {
  readonly obj: MoRef;
  readonly props: ReadonlyMap<string, XNode>;
}

export function readObjectContent(n: XNode): ObjectContent | undefined {
  const obj = readRef(child(n, "obj"));
  if (!obj) return undefined;
  const props = new Map<string, XNode>();
  for (const p of childrenNamed(n, "propSet")) {
    const name = child(p, "name")?.text;
    const val = child(p, "val");
    if (name && val) props.set(name, val);
  }
  return { obj, props };
}

/** Which properties to read for objects of one type. */
export interface PropertySpec {
  readonly type: string;
  readonly pathSet: readonly string[];
}

/**
 * A PropertyFilterSpec: the given objects (skipped themselves when they are views) and, through
 * a ContainerView, everything the view contains.
 */
export function filterSpec(name: "specSet" | "spec", propSets: readonly PropertySpec[], objects: readonly { obj: MoRef; viaView: boolean }[]): Xml {
  return el(name, [
    each(propSets, (p) => el("propSet", [text("type", p.type), text("all", false), each(p.pathSet, (path) => text("pathSet", path))])),
    each(objects, (o) =>
      el("objectSet", [
        ref("obj", o.obj),
        text("skip", o.viaView),
        o.viaView ? el("selectSet", [text("name", "view"), text("type", "ContainerView"), text("path", "view"), text("skip", false)], "TraversalSpec") : undefined,
      ]),
    ),
  ]);
}

/** Reads a RetrieveResult: its objects and the continuation token, if any. */
export function readRetrieveResult(returnval: XNode | undefined): { objects: ObjectContent[]; token: string | undefined } {
  if (!returnval) return { objects: [], token: undefined };
  const objects = childrenNamed(returnval, "objects")
    .map(readObjectContent)
    .filter((o): o is ObjectContent => o !== undefined);
  return { objects, token: child(returnval, "token")?.text || undefined };
}

export type ChangeOp = "add" | "remove" | "assign" | "indirectRemove";

export interface ObjectUpdate {
  readonly kind: "enter" | "modify" | "leave";
  readonly obj: MoRef;
  readonly changes: readonly { name: string; op: ChangeOp; val: XNode | undefined }[];
}

/** Reads an UpdateSet: version, truncated flag and the object updates of every filter. */
export function readUpdateSet(returnval: XNode | undefined): { version: string; truncated: boolean; updates: ObjectUpdate[] } | undefined {
  if (!returnval) return undefined;
  const updates: ObjectUpdate[] = [];
  for (const fs of childrenNamed(returnval, "filterSet")) {
    for (const os of childrenNamed(fs, "objectSet")) {
      const obj = readRef(child(os, "obj"));
      const kind = child(os, "kind")?.text as ObjectUpdate["kind"] | undefined;
      if (!obj || !kind) continue;
      const changes = childrenNamed(os, "changeSet").map((c) => {
        const op = (child(c, "op")?.text ?? "assign") as ChangeOp;
        // A removed property reads as unset, whatever value the server attached.
        return { name: child(c, "name")?.text ?? "", op, val: op === "remove" || op === "indirectRemove" ? undefined : child(c, "val") };
      });
      updates.push({ kind, obj, changes });
    }
  }
  return { version: child(returnval, "version")?.text ?? "", truncated: child(returnval, "truncated")?.text === "true", updates };
}
