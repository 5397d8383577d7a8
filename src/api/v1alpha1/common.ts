import type { JSONSchemaType } from "ajv";
import { DURATION_PATTERN } from "../../util/duration.js";

/**
 * Schema building blocks shared by the kinds. Every string and list is bounded: the API server
 * estimates the cost of CEL rules from maxLength/maxItems and rejects unbounded ones.
 */

/** A Kubernetes object name (DNS-1123 subdomain). */
export const objectName: JSONSchemaType<string> = {
  type: "string",
  minLength: 1,
  maxLength: 253,
  pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
};

/** A name or path as vCenter or ONTAP spells it (free text, bounded). */
export const externalName: JSONSchemaType<string> = { type: "string", minLength: 1, maxLength: 255 };

/** An inventory path below a datacenter's vm folder or a cluster's root pool ("HR/Database"). */
export const inventoryPath: JSONSchemaType<string> = { type: "string", minLength: 1, maxLength: 1024 };

export const duration: JSONSchemaType<string> = {
  type: "string",
  maxLength: 64,
  pattern: DURATION_PATTERN,
};

/** An https URL (CEL checks it parses, since a pattern cannot). */
export const httpsUrl: JSONSchemaType<string> = {
  type: "string",
  minLength: 1,
  maxLength: 2048,
  "x-kubernetes-validations": [
    { rule: "isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != ''", message: "must be an https URL such as https://vcenter.example.com" },
  ],
};

export const cidr: JSONSchemaType<string> = {
  type: "string",
  maxLength: 64,
  "x-kubernetes-validations": [{ rule: "isCIDR(self)", message: "must be a CIDR such as 20.1.1.0/24" }],
};

export const ipAddress: JSONSchemaType<string> = {
  type: "string",
  maxLength: 64,
  "x-kubernetes-validations": [{ rule: "isIP(self)", message: "must be an IP address such as 20.1.1.1" }],
};

export const ipList: JSONSchemaType<string[]> = { type: "array", maxItems: 8, items: ipAddress };

export const timestamp: JSONSchemaType<string> = { type: "string", format: "date-time" };

/** A reference to a Secret; Sites are cluster-scoped, so the namespace is explicit. */
export interface SecretReference {
  name: string;
  namespace: string;
}

export const secretReference: JSONSchemaType<SecretReference> = {
  type: "object",
  required: ["name", "namespace"],
  properties: {
    name: objectName,
    namespace: { type: "string", minLength: 1, maxLength: 63, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" },
  },
  additionalProperties: false,
};

/** Makes a property schema optional for JSONSchemaType (ajv spells optional as nullable). */
export function optional<T>(s: JSONSchemaType<T>): JSONSchemaType<T> & { nullable: true } {
  return { ...s, nullable: true };
}

export function withDefault<T>(s: JSONSchemaType<T>, value: T): JSONSchemaType<T> & { nullable: true } {
  return { ...s, nullable: true, default: value } as JSONSchemaType<T> & { nullable: true };
}

export function stringEnum<T extends string>(values: readonly T[]): JSONSchemaType<T> {
  return { type: "string", enum: values } as unknown as JSONSchemaType<T>;
}

export function stringList(item: JSONSchemaType<string>, maxItems: number): JSONSchemaType<string[]> {
  return { type: "array", maxItems, items: item };
}

/** One additional printer column of `kubectl get`. */
export interface PrinterColumn {
  readonly name: string;
  readonly type: "string" | "integer" | "number" | "boolean" | "date";
  readonly jsonPath: string;
  readonly description?: string;
  readonly priority?: number;
}

/** Everything needed to describe a kind: to the API server (CRD) and to ajv. */
export interface KindDefinition<Spec, Status> {
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly scope: "Namespaced" | "Cluster";
  readonly description: string;
  readonly spec: JSONSchemaType<Spec>;
  readonly status: JSONSchemaType<Status>;
  readonly printerColumns: readonly PrinterColumn[];
}

export const readyColumn: PrinterColumn = {
  name: "Ready",
  type: "string",
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
};
export const reasonColumn: PrinterColumn = {
  name: "Reason",
  type: "string",
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
  priority: 1,
};
export const ageColumn: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };
