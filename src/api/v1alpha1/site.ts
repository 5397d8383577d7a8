import type { JSONSchemaType } from "ajv";
import type { StatusObject, ResourceType } from "../../kube/types.js";
import { conditionsSchema } from "./conditions.js";
import type { Condition } from "./conditions.js";
import {
  ageColumn, cidr, externalName, httpsUrl, inventoryPath, ipAddress, ipList, optional, readyColumn, reasonColumn,
  secretReference, stringEnum, withDefault,
} from "./common.js";
import type { KindDefinition, SecretReference } from "./common.js";
import { GROUP, VERSION } from "./meta.js";

/** How to trust an endpoint's certificate. Verification is on unless a Site opts out. */
export interface TlsSettings {
  /** PEM bundle of the CA(s) that sign the endpoint's certificate; the system roots when absent. */
  caBundle?: string;
  /** Skips certificate verification for this endpoint only. For labs; never for production. */
  insecureSkipVerify?: boolean;
}

export interface VCenterEndpoint {
  /** vCenter base URL, e.g. https://vcenter.site1.example.com (the SDK path /sdk is implied). */
  url: string;
  /** The datacenter (by name) this Site is. */
  datacenter: string;
  /** Secret with keys `username` and `password`. */
  credentialsSecretRef: SecretReference;
  tls?: TlsSettings;
}

export interface StorageController {
  /** Name used by ReplicationRelationships to pick this controller. */
  name: string;
  /** ONTAP cluster management URL, e.g. https://ontap1.example.com. */
  url: string;
  /** The SVM that owns the replicated volumes. */
  svm: string;
  /** The address the Site's ESXi hosts mount the SVM's NFS exports from (its NFS data LIF). */
  nfsAddress?: string;
  /** The aggregate for volumes the operator creates here (a Failback's createMissingVolumes). */
  aggregate?: string;
  /**
   * The igroups the LUNs of a volume the operator creates here are mapped to (the Site's ESXi
   * hosts' initiators), so a failback onto a re-created volume reaches its hosts.
   */
  igroups?: string[];
  /** Secret with keys `username` and `password`. */
  credentialsSecretRef: SecretReference;
  tls?: TlsSettings;
}

export interface SiteNetwork {
  /** Name ProtectionGroups refer to. */
  name: string;
  portgroup: string;
  cidr: string;
  gateway?: string;
  dns?: string[];
  /** An isolated network with no route out: where DR tests run. */
  isolated?: boolean;
}

export interface CapacityReclaim {
  /** A resource pool path (below its cluster's root pool) whose VMs may be suspended, or which may be throttled, or... */
  resourcePool?: string;
  /** ...VMs by name, which may be suspended. */
  vms?: string[];
  /** Throttle: CPU and memory limits on the pool (resourcePool only); Suspend: its VMs are suspended, and resumed when the run is undone. */
  action: "Throttle" | "Suspend";
}

export interface SiteSpec {
  displayName?: string;
  vcenter: VCenterEndpoint;
  storage: { controllers: StorageController[] };
  networks?: SiteNetwork[];
  /**
   * How much of the Site a run may fill (the overcommit its clusters may carry) and what may be
   * throttled or suspended to make room for recovered VMs (docs/capacity.md).
   */
  capacityPolicy?: { reclaim: CapacityReclaim[]; overcommit?: { cpu?: number; memory?: number } };
}

export interface SiteStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  vcenter?: { version?: string; apiVersion?: string; instanceUuid?: string };
  storage?: { name: string; version?: string; cluster?: string }[];
}

export type Site = StatusObject<SiteStatus> & { spec: SiteSpec };

export const SiteType: ResourceType<Site> = { group: GROUP, version: VERSION, kind: "Site", plural: "sites", namespaced: false };

const tlsSettings: JSONSchemaType<TlsSettings> = {
  type: "object",
  properties: {
    caBundle: optional({ type: "string", maxLength: 65536 }),
    insecureSkipVerify: withDefault<boolean>({ type: "boolean" }, false),
  },
  additionalProperties: false,
};

const storageController: JSONSchemaType<StorageController> = {
  type: "object",
  required: ["name", "url", "svm", "credentialsSecretRef"],
  properties: {
    name: { type: "string", minLength: 1, maxLength: 63, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" },
    url: httpsUrl,
    svm: externalName,
    nfsAddress: optional({ type: "string", minLength: 1, maxLength: 253, pattern: "^[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?$" }),
    aggregate: optional({ type: "string", minLength: 1, maxLength: 255 }),
    igroups: optional({ type: "array", maxItems: 16, items: { type: "string", minLength: 1, maxLength: 96 } }),
    credentialsSecretRef: secretReference,
    tls: optional(tlsSettings),
  },
  additionalProperties: false,
};

const siteNetwork: JSONSchemaType<SiteNetwork> = {
  type: "object",
  required: ["name", "portgroup", "cidr"],
  properties: {
    name: { type: "string", minLength: 1, maxLength: 63 },
    portgroup: externalName,
    cidr,
    gateway: optional(ipAddress),
    dns: optional(ipList),
    isolated: withDefault<boolean>({ type: "boolean" }, false),
  },
  additionalProperties: false,
};

const capacityReclaim: JSONSchemaType<CapacityReclaim> = {
  type: "object",
  required: ["action"],
  properties: {
    resourcePool: optional(inventoryPath),
    vms: optional({ type: "array", maxItems: 256, items: externalName }),
    action: stringEnum(["Throttle", "Suspend"] as const),
  },
  additionalProperties: false,
  "x-kubernetes-validations": [
    { rule: "has(self.resourcePool) != has(self.vms)", message: "set exactly one of resourcePool or vms" },
    { rule: "self.action != 'Throttle' || has(self.resourcePool)", message: "Throttle limits a resource pool: set resourcePool" },
  ],
};

export const siteSpecSchema: JSONSchemaType<SiteSpec> = {
  type: "object",
  required: ["vcenter", "storage"],
  properties: {
    displayName: optional({ type: "string", maxLength: 256 }),
    vcenter: {
      type: "object",
      required: ["url", "datacenter", "credentialsSecretRef"],
      properties: {
        url: httpsUrl,
        datacenter: externalName,
        credentialsSecretRef: secretReference,
        tls: optional(tlsSettings),
      },
      additionalProperties: false,
    },
    storage: {
      type: "object",
      required: ["controllers"],
      properties: {
        controllers: {
          type: "array",
          minItems: 1,
          maxItems: 16,
          items: storageController,
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["name"],
        },
      },
      additionalProperties: false,
    },
    networks: optional({
      type: "array",
      maxItems: 64,
      items: siteNetwork,
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
    }),
    capacityPolicy: optional({
      type: "object",
      required: ["reclaim"],
      properties: {
        reclaim: { type: "array", maxItems: 32, items: capacityReclaim },
        overcommit: optional({
          type: "object",
          properties: {
            cpu: optional({ type: "number", minimum: 0.1, maximum: 32 }),
            memory: optional({ type: "number", minimum: 0.1, maximum: 4 }),
          },
          additionalProperties: false,
        }),
      },
      additionalProperties: false,
    }),
  },
  additionalProperties: false,
};

export const siteStatusSchema: JSONSchemaType<SiteStatus> = {
  type: "object",
  properties: {
    observedGeneration: optional({ type: "integer", format: "int64" }),
    conditions: optional(conditionsSchema),
    vcenter: optional({
      type: "object",
      properties: {
        version: optional({ type: "string" }),
        apiVersion: optional({ type: "string" }),
        instanceUuid: optional({ type: "string" }),
      },
    }),
    storage: optional({
      type: "array",
      maxItems: 16,
      items: {
        type: "object",
        required: ["name"],
        properties: {
          name: { type: "string" },
          version: optional({ type: "string" }),
          cluster: optional({ type: "string" }),
        },
      },
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
    }),
  },
};

export const siteKind: KindDefinition<SiteSpec, SiteStatus> = {
  kind: "Site",
  plural: "sites",
  singular: "site",
  shortNames: ["drsite"],
  scope: "Cluster",
  description:
    "A datacenter: its vCenter, its ONTAP storage controllers and its networks. Credentials are read from the referenced Secrets.",
  spec: siteSpecSchema,
  status: siteStatusSchema,
  printerColumns: [
    { name: "vCenter", type: "string", jsonPath: ".spec.vcenter.url" },
    { name: "Datacenter", type: "string", jsonPath: ".spec.vcenter.datacenter" },
    { name: "Version", type: "string", jsonPath: ".status.vcenter.version", priority: 1 },
    readyColumn,
    reasonColumn,
    ageColumn,
  ],
};
