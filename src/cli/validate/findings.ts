/** One thing `vmdr validate` (or another command reading manifests) has to say about an input. */
export interface Finding {
  readonly severity: "error" | "warning";
  /** Which check said it: yaml, schema, duplicate, references, exclusive-membership, cidr, acyclic, test-network. */
  readonly check: string;
  /** The file (as given on the command line, or "-" for standard input). */
  readonly file: string;
  /** 1-based line where the object's document starts (or where the YAML error is). */
  readonly line?: number;
  readonly object?: { readonly kind: string; readonly namespace?: string; readonly name: string };
  /** Path inside the object, e.g. spec.replicationRefs[1]. */
  readonly field?: string;
  readonly message: string;
}

/** "spec.powerOn.priorityGroups[0].dependsOn" from a JSON pointer "/spec/powerOn/priorityGroups/0/dependsOn". */
export function fieldOfPointer(pointer: string): string {
  let out = "";
  for (const raw of pointer.split("/").slice(1)) {
    const part = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else out += out ? `.${part}` : part;
  }
  return out;
}
