import { Ajv } from "ajv";
import type { ErrorObject, JSONSchemaType, ValidateFunction } from "ajv";
import type { IgroupProtocol, PolicyType, RelationshipState, TransferState, VolumeState, VolumeType } from "./client.js";
import type { WireJob } from "./jobs.js";

/*
 * The shapes of the ONTAP answers we rely on (docs/ontap-api.md, 9.8 swagger definitions),
 * checked at the boundary so that an upstream change becomes one clear PermanentError naming the
 * endpoint and the field, not an undefined three layers up. Schemas require only what we read and
 * let everything else through (later versions add fields); enums are closed where we branch on them.
 */

export interface WireRef {
  name?: string;
  uuid?: string;
}

export interface WireErrorBody {
  error: { message: string; code?: string | number; target?: string };
}

export interface WireCluster {
  name: string;
  uuid: string;
  version: { full: string; generation: number; major: number; minor: number };
}

export interface WireJobResponse {
  job?: { uuid: string };
}

export interface WireRelationship {
  uuid: string;
  source: { path: string };
  destination: { path: string };
  policy?: { name?: string; type?: PolicyType };
  state: RelationshipState;
  healthy?: boolean;
  unhealthy_reason?: { message?: string }[];
  lag_time?: string;
  exported_snapshot?: string;
  transfer?: { uuid?: string; state: TransferState; bytes_transferred?: number; end_time?: string; total_duration?: string };
  last_transfer_type?: string;
  transfer_schedule?: { name?: string };
}

export interface WirePolicy {
  uuid: string;
  name: string;
  type: PolicyType;
  sync_type?: string;
}

export interface WireVolume {
  uuid: string;
  name: string;
  svm: { name: string };
  type: VolumeType;
  state: VolumeState;
  size?: number;
  nas?: { path?: string; export_policy?: { name?: string } };
  clone?: {
    is_flexclone?: boolean;
    parent_volume?: WireRef;
    parent_snapshot?: WireRef;
    split_initiated?: boolean;
    split_complete_percent?: number;
  };
}

export interface WireSnapshot {
  uuid: string;
  name: string;
  create_time: string;
  owners?: string[];
}

export interface WireLun {
  uuid: string;
  name: string;
  svm: { name: string };
  location: { volume: { name: string } };
  serial_number: string;
  enabled: boolean;
  status?: { state?: string };
  lun_maps?: { logical_unit_number: number; igroup: { name: string; uuid: string } }[];
}

export interface WireIgroup {
  uuid: string;
  name: string;
  svm: { name: string };
  protocol?: IgroupProtocol;
  os_type?: string;
  initiators?: { name: string }[];
}

export interface WireLunMap {
  lun: { uuid: string; name: string };
  igroup: { uuid: string; name: string };
  logical_unit_number: number;
}

export interface WireExportRule {
  index: number;
  clients?: { match: string }[];
  ro_rule?: string[];
  rw_rule?: string[];
  superuser?: string[];
  protocols?: string[];
}

export interface WireExportPolicy {
  id: number;
  name: string;
  svm: { name: string };
  rules?: WireExportRule[];
}

export interface WireCollection<T> {
  records: T[];
  num_records?: number;
  _links?: { next?: { href: string } };
}

// Building blocks ---------------------------------------------------------------------------

const str: JSONSchemaType<string> = { type: "string" };
const nonEmpty: JSONSchemaType<string> = { type: "string", minLength: 1 };
const optStr = { type: "string", nullable: true } as const;
/** ISO-8601 date-time as ONTAP writes it ("2021-04-10T09:51:13+00:00"). */
const dateTime: JSONSchemaType<string> = { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}" };
const optBool = { type: "boolean", nullable: true } as const;
const optNum = { type: "number", nullable: true } as const;
const strings = { type: "array", items: str, nullable: true } as const;
const named: JSONSchemaType<{ name: string }> = { type: "object", required: ["name"], properties: { name: str } };
const optRef = { type: "object", nullable: true, properties: { name: optStr, uuid: optStr } } as const;
/** "svm:volume" (SVM-DR "svm:", consistency groups "svm:/cg/name"). */
const endpointPath: JSONSchemaType<{ path: string }> = {
  type: "object",
  required: ["path"],
  properties: { path: { type: "string", pattern: "^[^:]+:" } },
};

const RELATIONSHIP_STATES: RelationshipState[] = [
  "uninitialized", "snapmirrored", "paused", "broken_off", "in_sync", "out_of_sync", "synchronizing", "expanding", "shrinking",
];
const TRANSFER_STATES: TransferState[] = ["queued", "transferring", "success", "failed", "aborted", "hard_aborted"];
const POLICY_TYPES: PolicyType[] = ["async", "sync", "continuous"];

// Schemas -----------------------------------------------------------------------------------

export const errorBodySchema: JSONSchemaType<WireErrorBody> = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["message"],
      properties: { message: str, code: { type: ["string", "number"], nullable: true }, target: optStr },
    },
  },
};

export const clusterSchema: JSONSchemaType<WireCluster> = {
  type: "object",
  required: ["name", "uuid", "version"],
  properties: {
    name: str,
    uuid: nonEmpty,
    version: {
      type: "object",
      required: ["full", "generation", "major", "minor"],
      properties: { full: str, generation: { type: "integer" }, major: { type: "integer" }, minor: { type: "integer" } },
    },
  },
};

export const jobSchema: JSONSchemaType<WireJob> = {
  type: "object",
  required: ["uuid", "state"],
  properties: {
    uuid: nonEmpty,
    state: { type: "string", enum: ["queued", "running", "paused", "success", "failure"] },
    description: optStr,
    message: optStr,
    code: { type: "integer", nullable: true },
    start_time: optStr,
    end_time: optStr,
  },
};

export const jobResponseSchema: JSONSchemaType<WireJobResponse> = {
  type: "object",
  properties: { job: { type: "object", nullable: true, required: ["uuid"], properties: { uuid: nonEmpty } } },
};

export const relationshipSchema: JSONSchemaType<WireRelationship> = {
  type: "object",
  required: ["uuid", "source", "destination", "state"],
  properties: {
    uuid: nonEmpty,
    source: endpointPath,
    destination: endpointPath,
    policy: { type: "object", nullable: true, properties: { name: optStr, type: { type: "string", enum: POLICY_TYPES, nullable: true } } },
    state: { type: "string", enum: RELATIONSHIP_STATES },
    healthy: optBool,
    // 9.8 has {code: integer, parameters}, later {code: string, arguments}: we read only the message.
    unhealthy_reason: { type: "array", nullable: true, items: { type: "object", properties: { message: optStr } } },
    lag_time: optStr,
    exported_snapshot: optStr,
    transfer: {
      type: "object",
      nullable: true,
      required: ["state"],
      properties: {
        uuid: optStr,
        state: { type: "string", enum: TRANSFER_STATES },
        bytes_transferred: optNum,
        end_time: optStr,
        total_duration: optStr,
      },
    },
    last_transfer_type: optStr,
    transfer_schedule: { type: "object", nullable: true, properties: { name: optStr } },
  },
};

export const policySchema: JSONSchemaType<WirePolicy> = {
  type: "object",
  required: ["uuid", "name", "type"],
  properties: { uuid: nonEmpty, name: str, type: { type: "string", enum: POLICY_TYPES }, sync_type: optStr },
};

export const volumeSchema: JSONSchemaType<WireVolume> = {
  type: "object",
  required: ["uuid", "name", "svm", "type", "state"],
  properties: {
    uuid: nonEmpty,
    name: str,
    svm: named,
    type: { type: "string", enum: ["rw", "dp", "ls"] },
    state: { type: "string", enum: ["online", "offline", "error", "mixed", "restricted"] },
    size: optNum,
    nas: {
      type: "object",
      nullable: true,
      properties: { path: optStr, export_policy: { type: "object", nullable: true, properties: { name: optStr } } },
    },
    clone: {
      type: "object",
      nullable: true,
      properties: {
        is_flexclone: optBool,
        parent_volume: optRef,
        parent_snapshot: optRef,
        split_initiated: optBool,
        split_complete_percent: optNum,
      },
    },
  },
};

export const snapshotSchema: JSONSchemaType<WireSnapshot> = {
  type: "object",
  required: ["uuid", "name", "create_time"],
  properties: { uuid: nonEmpty, name: str, create_time: dateTime, owners: strings },
};

export const lunSchema: JSONSchemaType<WireLun> = {
  type: "object",
  required: ["uuid", "name", "svm", "location", "serial_number", "enabled"],
  properties: {
    uuid: nonEmpty,
    name: str,
    svm: named,
    location: { type: "object", required: ["volume"], properties: { volume: named } },
    serial_number: nonEmpty,
    enabled: { type: "boolean" },
    status: { type: "object", nullable: true, properties: { state: optStr } },
    lun_maps: {
      type: "array",
      nullable: true,
      items: {
        type: "object",
        required: ["logical_unit_number", "igroup"],
        properties: {
          logical_unit_number: { type: "integer" },
          igroup: { type: "object", required: ["name", "uuid"], properties: { name: str, uuid: nonEmpty } },
        },
      },
    },
  },
};

export const igroupSchema: JSONSchemaType<WireIgroup> = {
  type: "object",
  required: ["uuid", "name", "svm"],
  properties: {
    uuid: nonEmpty,
    name: str,
    svm: named,
    protocol: { type: "string", enum: ["fcp", "iscsi", "mixed"], nullable: true },
    os_type: optStr,
    initiators: { type: "array", nullable: true, items: named },
  },
};

export const lunMapSchema: JSONSchemaType<WireLunMap> = {
  type: "object",
  required: ["lun", "igroup", "logical_unit_number"],
  properties: {
    lun: { type: "object", required: ["uuid", "name"], properties: { uuid: nonEmpty, name: str } },
    igroup: { type: "object", required: ["uuid", "name"], properties: { uuid: nonEmpty, name: str } },
    logical_unit_number: { type: "integer" },
  },
};

const exportRuleSchema: JSONSchemaType<WireExportRule> = {
  type: "object",
  required: ["index"],
  properties: {
    index: { type: "integer" },
    clients: { type: "array", nullable: true, items: { type: "object", required: ["match"], properties: { match: str } } },
    ro_rule: strings,
    rw_rule: strings,
    superuser: strings,
    protocols: strings,
  },
};

export const exportPolicySchema: JSONSchemaType<WireExportPolicy> = {
  type: "object",
  required: ["id", "name", "svm"],
  properties: { id: { type: "integer" }, name: str, svm: named, rules: { type: "array", nullable: true, items: exportRuleSchema } },
};

/** The collection envelope around a record schema. */
export function collectionOf<T>(record: JSONSchemaType<T>): JSONSchemaType<WireCollection<T>> {
  return {
    type: "object",
    required: ["records"],
    properties: {
      records: { type: "array", items: record },
      num_records: optNum,
      _links: {
        type: "object",
        nullable: true,
        properties: { next: { type: "object", nullable: true, required: ["href"], properties: { href: str } } },
      },
    },
  };
}

// Validation --------------------------------------------------------------------------------

/** A compiled schema: returns the typed value, or a one-line description of what is wrong. */
export type Check<T> = (data: unknown) => { ok: true; value: T } | { ok: false; problem: string };

/**
 * Compiles schemas for one client. Kept per client (no module-level Ajv) so nothing is shared
 * between Sites; compiled checks are memoized by schema object.
 */
export class SchemaRegistry {
  private readonly ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
  private readonly compiled = new Map<object, ValidateFunction>();
  private readonly collections = new Map<object, unknown>();

  /** The check of a collection page whose records follow `record`. */
  checkCollection<T>(record: JSONSchemaType<T>): Check<WireCollection<T>> {
    let schema = this.collections.get(record) as JSONSchemaType<WireCollection<T>> | undefined;
    if (!schema) {
      schema = collectionOf(record);
      this.collections.set(record, schema);
    }
    return this.check(schema);
  }

  check<T>(schema: JSONSchemaType<T>): Check<T> {
    let fn = this.compiled.get(schema);
    if (!fn) {
      fn = this.ajv.compile(schema);
      this.compiled.set(schema, fn);
    }
    const validate = fn;
    return (data) => (validate(data) ? { ok: true, value: data as T } : { ok: false, problem: describe(validate.errors, data) });
  }
}

/** "body/records/0/state must be equal to one of the allowed values (got \"exploding\")". */
export function describe(errors: ErrorObject[] | null | undefined, data: unknown): string {
  const e = errors?.[0];
  if (!e) return "does not match the expected shape";
  const where = `body${e.instancePath}`;
  let what = e.message ?? "is invalid";
  if (e.keyword === "required") what = `must have property "${String((e.params as { missingProperty?: string }).missingProperty)}"`;
  const got = e.keyword === "required" ? undefined : valueAt(data, e.instancePath);
  return got === undefined ? `${where} ${what}` : `${where} ${what} (got ${got})`;
}

function valueAt(data: unknown, pointer: string): string | undefined {
  let cur: unknown = data;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  if (cur === undefined) return undefined;
  const text = JSON.stringify(cur) ?? typeof cur;
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
