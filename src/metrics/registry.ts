import { Registry, collectDefaultMetrics, Gauge } from "prom-client";

/** Every metric name starts with this; chosen once, never renamed (STYLE.md §2.9). */
export const METRIC_PREFIX = "vmdr";

/** A fresh registry with the process metrics and build info. One per manager; never global. */
export function createRegistry(build: { version: string; commit: string }): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register, prefix: `${METRIC_PREFIX}_` });
  const info = new Gauge({
    name: `${METRIC_PREFIX}_build_info`,
    help: "Build information of the running operator; always 1.",
    labelNames: ["version", "commit"],
    registers: [register],
  });
  info.set({ version: build.version, commit: build.commit }, 1);
  return register;
}
