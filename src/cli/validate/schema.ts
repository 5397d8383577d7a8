import { Ajv } from "ajv";
import type { ErrorObject, ValidateFunction } from "ajv";
import { ALL_KINDS, API_VERSION, GROUP } from "../../api/v1alpha1/index.js";
import { objectName } from "../../api/v1alpha1/common.js";
import { CEL_TWINS, isTransitionRule } from "./cel.js";
import { fieldOfPointer } from "./findings.js";
import type { Finding } from "./findings.js";
import type { Manifest } from "./load.js";

interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
}

/** An object of one of our kinds that passed the schema, for the cross-object checks. */
export interface Checked {
  readonly m: Manifest;
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string;
  readonly spec: unknown;
}

/**
 * Validates each manifest of our API group against the same schemas the CRDs are generated from
 * (src/api/v1alpha1, ajv), including the CEL rules through their JavaScript twins and the
 * uniqueness that x-kubernetes-list-type map/set implies. Objects of other groups are ignored;
 * Secrets and Namespaces are kept for the reference checks.
 */
export class SchemaValidator {
  private readonly validators = new Map<string, ValidateFunction>();

  constructor() {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    ajv.addFormat("date-time", true);
    ajv.addFormat("int64", true);
    ajv.addKeyword({
      keyword: "x-kubernetes-list-type",
      schemaType: "string",
      errors: true,
      validate: function set(type: string, data: unknown, _schema: unknown, ctx?: { instancePath: string }) {
        const errors: Partial<ErrorObject>[] = [];
        if (type === "set" && Array.isArray(data)) {
          const seen = new Map<string, number>();
          data.forEach((item: unknown, i) => {
            const first = seen.get(JSON.stringify(item));
            if (first === undefined) seen.set(JSON.stringify(item), i);
            else errors.push({ keyword: "x-kubernetes-list-type", instancePath: `${ctx?.instancePath ?? ""}/${i}`, message: `duplicate value ${JSON.stringify(item)} (also at [${first}])`, params: {} });
          });
        }
        (set as { errors?: Partial<ErrorObject>[] }).errors = errors;
        return errors.length === 0;
      },
    });
    ajv.addKeyword({
      keyword: "x-kubernetes-validations",
      schemaType: "array",
      errors: true,
      validate: function cel(rules: CelRule[], data: unknown, _schema: unknown, ctx?: { instancePath: string }) {
        const errors: Partial<ErrorObject>[] = [];
        for (const r of rules) {
          if (isTransitionRule(r.rule)) continue;
          const twin = CEL_TWINS[r.rule];
          if (!twin) throw new Error(`vmdr validate has no implementation of the CEL rule ${JSON.stringify(r.rule)}`);
          if (twin.check(data)) continue;
          const path = `${ctx?.instancePath ?? ""}${r.fieldPath ? r.fieldPath.replace(/\./g, "/") : ""}`;
          errors.push({ keyword: "x-kubernetes-validations", instancePath: path, message: twin.message?.(data) ?? r.message ?? `failed rule ${r.rule}`, params: { rule: r.rule } });
        }
        (cel as { errors?: Partial<ErrorObject>[] }).errors = errors;
        return errors.length === 0;
      },
    });
    ajv.addKeyword({
      keyword: "x-kubernetes-list-map-keys",
      schemaType: "array",
      errors: true,
      validate: function unique(keys: string[], data: unknown, _schema: unknown, ctx?: { instancePath: string }) {
        const errors: Partial<ErrorObject>[] = [];
        if (Array.isArray(data)) {
          const seen = new Map<string, number>();
          data.forEach((item: unknown, i) => {
            const id = JSON.stringify(keys.map((k) => (item as Record<string, unknown> | null)?.[k]));
            const first = seen.get(id);
            if (first === undefined) seen.set(id, i);
            else errors.push({ keyword: "x-kubernetes-list-map-keys", instancePath: `${ctx?.instancePath ?? ""}/${i}`, message: `duplicate entry: ${keys.map((k) => `${k}=${String((item as Record<string, unknown>)[k])}`).join(", ")} (also at [${first}])`, params: {} });
          });
        }
        (unique as { errors?: Partial<ErrorObject>[] }).errors = errors;
        return errors.length === 0;
      },
    });
    for (const k of ALL_KINDS) this.validators.set(k.kind, ajv.compile(k.spec));
    this.nameValidator = ajv.compile(objectName);
  }

  private readonly nameValidator: ValidateFunction;

  /** Findings for each manifest, and the objects of our kinds that passed. */
  validate(manifests: readonly Manifest[], defaultNamespace: string): { findings: Finding[]; objects: Checked[]; others: Checked[] } {
    const findings: Finding[] = [];
    const objects: Checked[] = [];
    const others: Checked[] = [];
    for (const m of manifests) {
      const { apiVersion, kind } = m.obj;
      const name = typeof m.obj.metadata?.name === "string" ? m.obj.metadata.name : "";
      const ns = typeof m.obj.metadata?.namespace === "string" ? m.obj.metadata.namespace : undefined;
      const obj = { kind: typeof kind === "string" ? kind : "?", name: name || "(no name)", ...(ns ? { namespace: ns } : {}) };
      const add = (message: string, field?: string, severity: Finding["severity"] = "error"): void => {
        findings.push({ severity, check: "schema", file: m.file, line: m.line, object: obj, ...(field ? { field } : {}), message });
      };
      if (typeof apiVersion !== "string" || typeof kind !== "string") {
        findings.push({ severity: "warning", check: "schema", file: m.file, line: m.line, message: "not a Kubernetes object (no apiVersion and kind): skipped" });
        continue;
      }
      const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
      if (group !== GROUP) {
        if (apiVersion === "v1" && (kind === "Secret" || kind === "Namespace")) others.push({ m, kind, namespace: ns ?? defaultNamespace, name, spec: undefined });
        continue;
      }
      if (apiVersion !== API_VERSION) {
        add(`unknown version ${apiVersion}: this vmdr serves ${API_VERSION}`, "apiVersion");
        continue;
      }
      const def = ALL_KINDS.find((k) => k.kind === kind);
      if (!def) {
        add(`unknown kind ${kind} in ${API_VERSION} (known: ${ALL_KINDS.map((k) => k.kind).join(", ")})`, "kind");
        continue;
      }
      if (!name) {
        add("metadata.name is required", "metadata.name");
        continue;
      }
      const nameOk: boolean = this.nameValidator(name);
      if (!nameOk) add(`"${name}" is not a valid name (lowercase letters, digits, '-' and '.')`, "metadata.name");
      if (def.scope === "Cluster" && ns) add(`${kind} is cluster-scoped: metadata.namespace is ignored`, "metadata.namespace", "warning");
      const spec = m.obj.spec;
      if (spec === undefined) {
        add("spec is required", "spec");
        continue;
      }
      const v = this.validators.get(kind) as ValidateFunction;
      if (!v(spec)) {
        for (const e of v.errors ?? []) add(messageOf(e), `spec${fieldOfPointer(pointerOf(e)).replace(/^(?=[^[])/, ".")}`.replace(/\.$/, ""));
        continue;
      }
      objects.push({ m, kind, namespace: def.scope === "Cluster" ? undefined : (ns ?? defaultNamespace), name, spec });
    }
    return { findings, objects, others };
  }
}

/** Where the error is: for a missing or unknown property, the property itself. */
function pointerOf(e: ErrorObject): string {
  if (e.keyword === "required") return `${e.instancePath}/${String((e.params as { missingProperty: string }).missingProperty)}`;
  if (e.keyword === "additionalProperties") return `${e.instancePath}/${String((e.params as { additionalProperty: string }).additionalProperty)}`;
  return e.instancePath;
}

function messageOf(e: ErrorObject): string {
  switch (e.keyword) {
    case "required":
      return "is required";
    case "additionalProperties":
      return "unknown field";
    case "enum":
      return `must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues).map(String).join(", ")}`;
    default:
      return e.message ?? "is invalid";
  }
}
