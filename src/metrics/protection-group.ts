import { Gauge } from "prom-client";
import type { Registry } from "prom-client";
import type { ProtectionGroup } from "../api/v1alpha1/protection-group.js";
import { durationSeconds } from "../util/duration.js";
import { METRIC_PREFIX } from "./registry.js";

/** The conditions of a group that a dashboard shows. */
export const GROUP_CONDITIONS = ["Ready", "Aligned", "ShadowInSync", "ReplicationHealthy", "SplitBrain"] as const;
const STATUSES = ["True", "False", "Unknown"] as const;

/**
 * Per-ProtectionGroup gauges read at scrape time from the groups' status as the controller last
 * wrote it (the informer's cache): no bookkeeping in the reconciler, and a deleted group's series
 * disappear with it. One series set per group: bounded by our own objects.
 *
 *   vmdr_protection_group_vms{namespace,name,state}              members | shadowed | placeholders | problems
 *   vmdr_protection_group_condition{namespace,name,type,status}  1 for the condition's current status, else 0
 *   vmdr_protection_group_objective_seconds{namespace,protection_group,objective}  rto | test_interval (spec.objectives)
 *
 * The objectives are labelled protection_group, like the failover metrics they are compared with.
 */
export class ProtectionGroupMetrics {
  private groups: () => readonly ProtectionGroup[] = () => [];

  constructor(register: Registry) {
    const list = (): readonly ProtectionGroup[] => this.groups();
    new Gauge({
      name: `${METRIC_PREFIX}_protection_group_vms`,
      help: "VMs of a ProtectionGroup by state: members, shadowed at the recovery site, with a placeholder, with an alignment problem.",
      labelNames: ["namespace", "name", "state"],
      registers: [register],
      collect() {
        this.reset();
        for (const g of list()) {
          const c = g.status?.counts;
          if (!c) continue;
          const l = { namespace: g.metadata.namespace ?? "", name: g.metadata.name };
          this.set({ ...l, state: "members" }, c.members);
          this.set({ ...l, state: "shadowed" }, c.shadowed);
          this.set({ ...l, state: "placeholders" }, c.placeholders);
          this.set({ ...l, state: "problems" }, c.problems);
        }
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}_protection_group_condition`,
      help: "A ProtectionGroup's conditions (Ready, Aligned, ShadowInSync, ReplicationHealthy, SplitBrain): 1 for the current status.",
      labelNames: ["namespace", "name", "type", "status"],
      registers: [register],
      collect() {
        this.reset();
        for (const g of list()) {
          const l = { namespace: g.metadata.namespace ?? "", name: g.metadata.name };
          for (const type of GROUP_CONDITIONS) {
            const current = g.status?.conditions?.find((c) => c.type === type)?.status;
            if (current === undefined) continue;
            for (const status of STATUSES) this.set({ ...l, type, status }, current === status ? 1 : 0);
          }
        }
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}_protection_group_objective_seconds`,
      help: "A ProtectionGroup's objectives (spec.objectives) in seconds: rto (start of a run to the last VM ready), test_interval (longest time without a successful Test).",
      labelNames: ["namespace", "protection_group", "objective"],
      registers: [register],
      collect() {
        this.reset();
        for (const g of list()) {
          const o = g.spec.objectives;
          const l = { namespace: g.metadata.namespace ?? "", protection_group: g.metadata.name };
          for (const [objective, value] of [["rto", o?.rto], ["test_interval", o?.testInterval]] as const) {
            const seconds = value === undefined ? undefined : durationSeconds(value);
            if (seconds !== undefined) this.set({ ...l, objective }, seconds);
          }
        }
      },
    });
  }

  /** Where the groups come from (the ProtectionGroup informer's cache); set once at setup. */
  follow(groups: () => readonly ProtectionGroup[]): void {
    this.groups = groups;
  }
}
