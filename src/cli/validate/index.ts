import { CHECKS, ManifestSet } from "./checks.js";
import type { Finding } from "./findings.js";
import { loadManifests } from "./load.js";
import { SchemaValidator } from "./schema.js";

export interface ValidateOptions {
  readonly cwd: string;
  readonly readStdin: () => Promise<string>;
  /** Namespace of objects without metadata.namespace (what kubectl -n would give them). */
  readonly defaultNamespace: string;
  /** Where the operator may read credentials Secrets (its --secret-namespaces). */
  readonly secretNamespaces: readonly string[];
}

export interface ValidateResult {
  readonly files: number;
  readonly objects: number;
  readonly findings: readonly Finding[];
}

/**
 * vmdr validate: 1. read the manifests; 2. check each of our kinds against the CRD schemas (ajv,
 * CEL twins); 3. run the cross-object checks on those that passed. Findings are sorted by file,
 * line and field. Reads files only; never contacts a cluster.
 */
export async function validateManifests(paths: readonly string[], o: ValidateOptions): Promise<ValidateResult> {
  const loaded = await loadManifests(paths, o.cwd, o.readStdin);
  const schema = new SchemaValidator().validate(loaded.manifests, o.defaultNamespace);
  const set = new ManifestSet(schema.objects, schema.others, o.secretNamespaces);
  const cross = CHECKS.flatMap((c) => c.run(set, schema.objects));
  const findings = [...loaded.findings, ...schema.findings, ...cross].sort(
    (a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || (a.field ?? "").localeCompare(b.field ?? ""),
  );
  return { files: loaded.files, objects: loaded.manifests.length, findings };
}
