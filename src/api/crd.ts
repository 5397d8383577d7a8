import { GROUP, VERSION } from "./v1alpha1/meta.js";
import type { KindDefinition } from "./v1alpha1/common.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * Turns an ajv schema into a Kubernetes structural schema:
 *  - `nullable` goes: ajv needs it to type optional properties, but in a CRD it would make the
 *    server keep explicit nulls instead of pruning them;
 *  - `additionalProperties` next to `properties` goes: the API server forbids the pair and prunes
 *    unknown fields anyway (kubectl reports them with --validate=strict);
 *  - everything else (types, bounds, patterns, enums, defaults, formats, x-kubernetes-*) stays.
 */
export function toStructural(schema: unknown): Json {
  if (Array.isArray(schema)) return schema.map(toStructural);
  if (schema === null || typeof schema !== "object") return schema as Json;
  const out: Record<string, Json> = {};
  const s = schema as Record<string, unknown>;
  for (const [k, v] of Object.entries(s)) {
    if (k === "nullable" || k === "$id" || k === "$schema") continue;
    if (k === "additionalProperties" && s.properties !== undefined) continue;
    // Property maps hold field names, not keywords: recurse into their values only.
    out[k] = k === "properties" ? mapValues(v as Record<string, unknown>) : toStructural(v);
  }
  return out;
}

function mapValues(props: Record<string, unknown>): Json {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(props)) out[k] = toStructural(v);
  return out;
}

/** The CustomResourceDefinition for one kind. */
export function buildCrd(def: KindDefinition<unknown, unknown>): Record<string, Json> {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${def.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: [...def.shortNames],
        categories: ["vmdr", "dr"],
      },
      scope: def.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns.map((c) => ({ ...c })),
          schema: {
            openAPIV3Schema: {
              type: "object",
              description: def.description,
              required: ["spec"],
              properties: {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                metadata: { type: "object" },
                spec: toStructural(def.spec),
                status: toStructural(def.status),
              },
            },
          },
        },
      ],
    },
  };
}
