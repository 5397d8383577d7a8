import { Gauge } from "prom-client";
import type { Registry } from "prom-client";
import { METRIC_PREFIX } from "./registry.js";
import type { Clock } from "../util/clock.js";

interface Sample {
  /** ONTAP's lag_time at the last poll... */
  lagSeconds?: number;
  /** ...and when that poll was (epoch ms, our clock): lag keeps growing from there until the next. */
  observedAtMs: number;
  lastTransferEndMs?: number;
  rpoSeconds: number;
  /** ONTAP's health verdict; undefined when not reported. */
  healthy?: boolean;
}

/**
 * Per-ReplicationRelationship gauges (one series each, labelled namespace/name: bounded by our own
 * objects). Lag is ONTAP's own lag_time (the cluster's clock and time zone, so no skew with ours) plus
 * the time since it was read, computed when Prometheus scrapes: it grows smoothly between polls at
 * no API cost.
 */
export class ReplicationMetrics {
  private readonly samples = new Map<string, Sample & { namespace: string; name: string }>();

  constructor(register: Registry, clock: Clock) {
    const samples = this.samples;
    new Gauge({
      name: `${METRIC_PREFIX}_replication_lag_seconds`,
      help: "Seconds since the newest snapshot common to both ends of the SnapMirror relationship.",
      labelNames: ["namespace", "name"],
      registers: [register],
      collect() {
        this.reset();
        for (const s of samples.values()) {
          if (s.lagSeconds !== undefined) this.set({ namespace: s.namespace, name: s.name }, Math.round(s.lagSeconds + Math.max(0, clock.now() - s.observedAtMs) / 1000));
        }
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}_replication_last_transfer_timestamp_seconds`,
      help: "When the last SnapMirror transfer of the relationship ended (Unix seconds).",
      labelNames: ["namespace", "name"],
      registers: [register],
      collect() {
        this.reset();
        for (const s of samples.values()) if (s.lastTransferEndMs !== undefined) this.set({ namespace: s.namespace, name: s.name }, Math.floor(s.lastTransferEndMs / 1000));
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}_replication_rpo_seconds`,
      help: "The recovery point objective of the relationship, from its spec.",
      labelNames: ["namespace", "name"],
      registers: [register],
      collect() {
        this.reset();
        for (const s of samples.values()) this.set({ namespace: s.namespace, name: s.name }, s.rpoSeconds);
      },
    });
    this.registerHealth(register);
  }

  private registerHealth(register: Registry): void {
    const samples = this.samples;
    new Gauge({
      name: `${METRIC_PREFIX}_replication_healthy`,
      help: "1 when ONTAP reports the SnapMirror relationship healthy, 0 when unhealthy.",
      labelNames: ["namespace", "name"],
      registers: [register],
      collect() {
        this.reset();
        for (const s of samples.values()) if (s.healthy !== undefined) this.set({ namespace: s.namespace, name: s.name }, s.healthy ? 1 : 0);
      },
    });
  }

  observe(namespace: string, name: string, s: Sample): void {
    this.samples.set(`${namespace}/${name}`, { ...s, namespace, name });
  }

  forget(namespace: string, name: string): void {
    this.samples.delete(`${namespace}/${name}`);
  }
}
