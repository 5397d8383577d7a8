import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { load } from "js-yaml";
import { CliError } from "../command.js";
import type { Finding } from "./findings.js";

/** One object read from a manifest file. */
export interface Manifest {
  readonly file: string;
  /** 1-based line of the document the object is in. */
  readonly line: number;
  readonly obj: ManifestObject;
}

export interface ManifestObject {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown; [k: string]: unknown };
  spec?: unknown;
  status?: unknown;
  [k: string]: unknown;
}

export interface Loaded {
  readonly files: number;
  readonly manifests: Manifest[];
  /** YAML that does not parse, or a document that is not an object. */
  readonly findings: Finding[];
}

const MANIFEST_FILE = /\.(ya?ml|json)$/;

/**
 * Reads manifests from files and directories (recursively: *.yaml, *.yml, *.json; hidden entries
 * skipped), or standard input for "-". Multi-document YAML and `kind: List` are expanded; every
 * object remembers its file and the line its document starts on. A path that does not exist is a
 * CliError; YAML that does not parse is a finding (so one bad file does not hide the others).
 */
export async function loadManifests(paths: readonly string[], cwd: string, readStdin: () => Promise<string>): Promise<Loaded> {
  const files: { name: string; text: string }[] = [];
  const seen = new Set<string>();
  for (const p of paths) {
    if (p === "-") {
      files.push({ name: "-", text: await readStdin() });
      continue;
    }
    const abs = resolve(cwd, p);
    let st;
    try {
      st = statSync(abs);
    } catch {
      throw new CliError(`${p}: no such file or directory`);
    }
    const list = st.isDirectory() ? walk(abs).filter((f) => MANIFEST_FILE.test(f)) : [abs];
    for (const f of list) {
      if (seen.has(f)) continue; // named twice (e.g. a directory and a file in it)
      seen.add(f);
      try {
        files.push({ name: relative(cwd, f) || f, text: readFileSync(f, "utf8") });
      } catch (err) {
        throw new CliError(`${relative(cwd, f)}: cannot read: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  const manifests: Manifest[] = [];
  const findings: Finding[] = [];
  for (const f of files) parseFile(f.name, f.text, manifests, findings);
  return { files: files.length, manifests, findings };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Splits on document markers ("---" at the start of a line, which YAML never allows inside content). */
function documents(text: string): { text: string; line: number }[] {
  const lines = text.split(/\r?\n/);
  const docs: { text: string; line: number }[] = [];
  let start = 0;
  for (let i = 0; i <= lines.length; i++) {
    if (i === lines.length || /^---(\s|$)/.test(lines[i] as string)) {
      docs.push({ text: lines.slice(start, i).join("\n"), line: start + 1 });
      start = i + 1;
    }
  }
  return docs;
}

function parseFile(file: string, text: string, out: Manifest[], findings: Finding[]): void {
  for (const d of documents(text)) {
    let doc: unknown;
    try {
      doc = load(d.text);
    } catch (err) {
      const mark = (err as { mark?: { line?: number } }).mark;
      const reason = (err as { reason?: string }).reason ?? (err instanceof Error ? err.message.split("\n")[0] : String(err));
      findings.push({ severity: "error", check: "yaml", file, line: d.line + (mark?.line ?? 0), message: `not valid YAML: ${reason}` });
      continue;
    }
    if (doc === null || doc === undefined) continue;
    if (typeof doc !== "object" || Array.isArray(doc)) {
      findings.push({ severity: "error", check: "yaml", file, line: d.line, message: "a manifest must be an object (apiVersion, kind, metadata, ...)" });
      continue;
    }
    const o = doc as ManifestObject;
    if (o.kind === "List" && Array.isArray(o.items)) {
      for (const item of o.items as unknown[]) if (item && typeof item === "object") out.push({ file, line: d.line, obj: item as ManifestObject });
    } else out.push({ file, line: d.line, obj: o });
  }
}
