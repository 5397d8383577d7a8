// The CRD reference (docs/crd-reference.md), generated from the same two sources as everything
// else about the API: the schemas in src/api/v1alpha1 give each field's path, type, bounds,
// default and the rules the API server enforces; the TypeScript interfaces beside them give each
// field's description (its doc comment). `make crds` writes it; `make verify-crds` fails on drift.
import { join } from "node:path";
import ts from "typescript";
import { ALL_KINDS, GROUP, VERSION } from "../src/api/v1alpha1/index.js";
import type { KindDefinition } from "../src/api/v1alpha1/common.js";

type Schema = Record<string, unknown>;

/** Doc comments, read with the type checker from the API's sources. */
class Docs {
  private readonly checker: ts.TypeChecker;
  private readonly types = new Map<string, ts.Type>();

  constructor(apiDir: string) {
    const program = ts.createProgram([join(apiDir, "index.ts")], { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true });
    this.checker = program.getTypeChecker();
    for (const sf of program.getSourceFiles()) {
      if (!sf.fileName.startsWith(apiDir)) continue;
      ts.forEachChild(sf, (n) => {
        if ((ts.isInterfaceDeclaration(n) || ts.isTypeAliasDeclaration(n)) && n.name.text) this.types.set(n.name.text, this.checker.getTypeAtLocation(n.name));
      });
    }
  }

  type(name: string): ts.Type | undefined {
    return this.types.get(name);
  }

  /** A property of a type (of any member of a union), its description and its own type. */
  property(t: ts.Type | undefined, name: string): { doc: string; type: ts.Type | undefined } {
    if (!t) return { doc: "", type: undefined };
    const members = t.isUnion() ? t.types : [t];
    for (const m of members) {
      const sym = this.checker.getNonNullableType(m).getProperty(name);
      if (!sym) continue;
      const doc = ts.displayPartsToString(sym.getDocumentationComment(this.checker)).replace(/\s+/g, " ").trim();
      return { doc, type: this.checker.getNonNullableType(this.checker.getTypeOfSymbol(sym)) };
    }
    return { doc: "", type: undefined };
  }

  /** The element type of an array type; the value type of a record. */
  element(t: ts.Type | undefined): ts.Type | undefined {
    if (!t) return undefined;
    if (this.checker.isArrayType(t) || this.checker.isTupleType(t)) return this.checker.getTypeArguments(t as ts.TypeReference)[0];
    const index = this.checker.getIndexInfosOfType(t)[0];
    return index?.type;
  }
}

const code = (s: unknown): string => `\`${str(s)}\``;
/** A schema keyword's scalar value as text. */
const str = (v: unknown): string => (typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : JSON.stringify(v));
const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");

/** "string, one of `A`, `B`; default `A`" and the like, from a schema node. */
function typeOf(s: Schema): string {
  const parts: string[] = [];
  const t = s.type as string | undefined;
  if (t === "array") {
    const items = (s.items ?? {}) as Schema;
    const item = typeOf(items);
    parts.push(`list of ${items.type === "object" ? "objects" : item.includes(";") ? `(${item})` : item}`);
    if (s.maxItems !== undefined) parts.push(`at most ${str(s.maxItems)} items`);
  } else if (t === "object" && s.additionalProperties && typeof s.additionalProperties === "object" && !s.properties) {
    parts.push(`map of string to ${typeOf(s.additionalProperties as Schema)}`);
  } else {
    parts.push(t ?? (s["x-kubernetes-int-or-string"] ? "integer or string" : "any"));
  }
  if (Array.isArray(s.enum)) parts.push(`one of ${s.enum.map(code).join(", ")}`);
  if (s.format !== undefined) parts.push(`format ${str(s.format)}`);
  if (s.minimum !== undefined || s.maximum !== undefined) parts.push(`${s.minimum !== undefined ? str(s.minimum) : "…"}–${s.maximum !== undefined ? str(s.maximum) : "…"}`);
  if (Number(s.minLength) === 1) parts.push("not empty");
  else if (Number(s.minLength) > 1) parts.push(`at least ${str(s.minLength)} characters`);
  if (s.maxLength !== undefined) parts.push(`at most ${str(s.maxLength)} characters`);
  if (typeof s.pattern === "string" && s.pattern.length <= 40) parts.push(`pattern ${code(s.pattern)}`);
  else if (typeof s.pattern === "string") parts.push("a pattern (see the CRD)");
  if (s.default !== undefined) parts.push(`default ${code(JSON.stringify(s.default))}`);
  return parts.join("; ");
}

function rules(s: Schema): string[] {
  const v = s["x-kubernetes-validations"];
  return Array.isArray(v) ? (v as { message?: string; rule: string }[]).map((r) => r.message ?? r.rule) : [];
}

/** Every field under a schema node, depth first, with its description. */
function fields(docs: Docs, s: Schema, t: ts.Type | undefined, prefix: string, out: string[][]): void {
  const props = (s.properties ?? {}) as Record<string, Schema>;
  const required = new Set((s.required as string[] | undefined) ?? []);
  for (const [name, child] of Object.entries(props)) {
    const path = `${prefix}${name}`;
    const { doc, type } = docs.property(t, name);
    const checks = rules(child).map((r) => `Rule: ${r}.`);
    out.push([`${code(path)}${required.has(name) ? " **(required)**" : ""}`, cell(typeOf(child)), cell([doc, ...checks].filter(Boolean).join(" "))]);
    if (child.type === "object" && child.properties) fields(docs, child, type, `${path}.`, out);
    const items = child.items as Schema | undefined;
    if (child.type === "array" && items?.type === "object" && items.properties) fields(docs, items, docs.element(type), `${path}[].`, out);
    const values = child.additionalProperties as Schema | undefined;
    if (child.type === "object" && !child.properties && values && typeof values === "object" && values.properties) fields(docs, values, docs.element(type), `${path}.*.`, out);
  }
}

function table(rows: string[][]): string {
  return ["| Field | Type | Description |", "|---|---|---|", ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** The whole reference, as Markdown. */
export function renderReference(apiDir: string): string {
  const docs = new Docs(apiDir);
  const out: string[] = [
    "<!-- Generated by hack/gen-crds.ts from src/api/v1alpha1 (schemas and doc comments). Do not edit; run `make crds`. -->",
    "# CRD reference",
    "",
    `The API group \`${GROUP}\`, version \`${VERSION}\`. Each field's type, bounds and default are what the`,
    "API server enforces (the CRDs in `crds/`); the rules under a field are its CEL validations. What",
    "the operator writes under `status` is listed too, for scripts and dashboards that read it.",
    "",
    ...ALL_KINDS.map((d) => `- [${d.kind}](#${d.kind.toLowerCase()})`),
    "",
  ];
  for (const def of ALL_KINDS as readonly KindDefinition<unknown, unknown>[]) {
    out.push(`## ${def.kind}`, "", def.description.replace(/\s+/g, " ").trim(), "");
    out.push(`${def.scope === "Cluster" ? "Cluster-scoped" : "Namespaced"}; \`kubectl get ${def.plural}\` (short name${def.shortNames.length > 1 ? "s" : ""} ${def.shortNames.map(code).join(", ")}) shows ${def.printerColumns.map((c) => c.name).join(", ")}.`, "");
    for (const part of ["spec", "status"] as const) {
      const schema = def[part] as unknown as Schema;
      const rows: string[][] = [];
      fields(docs, schema, docs.type(`${def.kind}${part === "spec" ? "Spec" : "Status"}`), "", rows);
      const whole = rules(schema);
      out.push(`### ${def.kind} ${part}`, "");
      if (whole.length) out.push(`Rules on the whole ${part}:`, "", ...whole.map((r) => `- ${r}`), "");
      out.push(table(rows), "");
    }
  }
  return `${out.join("\n").trimEnd()}\n`;
}
