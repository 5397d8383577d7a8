import { failoverRunKind } from "./failover-run.js";
import { protectionGroupKind } from "./protection-group.js";
import { replicationRelationshipKind } from "./replication-relationship.js";
import { siteKind } from "./site.js";

export * from "./meta.js";
export * from "./conditions.js";
export * from "./site.js";
export * from "./replication-relationship.js";
export * from "./protection-group.js";
export * from "./failover-run.js";
export * from "./steps.js";

/** Every kind the operator serves, in the order their CRDs are written. */
export const ALL_KINDS = [siteKind, replicationRelationshipKind, protectionGroupKind, failoverRunKind] as const;
