import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { Ajv } from "ajv";
import type { JSONSchemaType } from "ajv";
import { DURATION_PATTERN, parseDuration } from "../util/duration.js";

/** Settings as given (flags or environment), before durations are parsed. */
export interface RawConfig {
  kubeconfig?: string;
  namespace?: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  leaseDuration: string;
  renewDeadline: string;
  retryPeriod: string;
  healthProbeBindAddress: string;
  metricsBindAddress: string;
  logLevel: "trace" | "debug" | "info" | "warn" | "error";
  identity?: string;
  workers: number;
  reconcileTimeout: string;
  resyncPeriod: string;
  startupTimeout: string;
  sitePollInterval: string;
  ontapPollInterval: string;
  externalCallTimeout: string;
  secretNamespaces?: string;
}

/** The operator's validated configuration. Only src/config reads process.env. */
export interface Config {
  readonly kubeconfig: string | undefined;
  readonly namespace: string | undefined;
  readonly leaderElect: boolean;
  readonly leaderElectionNamespace: string;
  readonly leaderElectionId: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly healthProbeBindAddress: string;
  readonly metricsBindAddress: string;
  readonly logLevel: RawConfig["logLevel"];
  readonly identity: string;
  readonly workers: number;
  readonly reconcileTimeoutMs: number;
  readonly resyncPeriodMs: number;
  readonly startupTimeoutMs: number;
  /** How often a healthy Site's endpoints are checked. */
  readonly sitePollIntervalMs: number;
  /** How often ONTAP is polled per ReplicationRelationship in steady state (no push channel exists). */
  readonly ontapPollIntervalMs: number;
  /** Upper bound of one vCenter or ONTAP call. */
  readonly externalCallTimeoutMs: number;
  /**
   * The only namespaces whose Secrets Sites may name (and the operator reads): by default the
   * operator's own namespace (POD_NAMESPACE, else --leader-election-namespace).
   */
  readonly secretNamespaces: readonly string[];
  /** Running in a Pod (KUBERNETES_SERVICE_HOST set): the service account is the fallback identity. */
  readonly inCluster: boolean;
  /** Source revision stamped at image build (VMDR_BUILD_COMMIT), for vmdr_build_info. */
  readonly buildCommit: string;
  /** Test-only (VMDR_TEST_CRASH_POINTS, never a flag): a file naming step-engine crash points. */
  readonly testCrashPoints: string | undefined;
}

const duration = { type: "string", pattern: DURATION_PATTERN } as const;
const DNS_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const address = { type: "string", pattern: "^(0|[A-Za-z0-9.\\-\\[\\]:]*:[0-9]{1,5})$" } as const;

const schema: JSONSchemaType<RawConfig> = {
  type: "object",
  additionalProperties: false,
  required: [
    "leaderElect", "leaderElectionNamespace", "leaderElectionId", "leaseDuration", "renewDeadline", "retryPeriod",
    "healthProbeBindAddress", "metricsBindAddress", "logLevel", "workers", "reconcileTimeout", "resyncPeriod", "startupTimeout",
    "sitePollInterval", "ontapPollInterval", "externalCallTimeout",
  ],
  properties: {
    kubeconfig: { type: "string", minLength: 1, nullable: true },
    namespace: { type: "string", pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", nullable: true },
    leaderElect: { type: "boolean" },
    leaderElectionNamespace: { type: "string", pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" },
    leaderElectionId: { type: "string", pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$" },
    leaseDuration: duration,
    renewDeadline: duration,
    retryPeriod: duration,
    healthProbeBindAddress: address,
    metricsBindAddress: address,
    logLevel: { type: "string", enum: ["trace", "debug", "info", "warn", "error"] },
    identity: { type: "string", minLength: 1, maxLength: 128, nullable: true },
    workers: { type: "integer", minimum: 1, maximum: 64 },
    reconcileTimeout: duration,
    resyncPeriod: duration,
    startupTimeout: duration,
    sitePollInterval: duration,
    ontapPollInterval: duration,
    externalCallTimeout: duration,
    secretNamespaces: { type: "string", pattern: `^${DNS_LABEL}(,${DNS_LABEL})*$`, nullable: true },
  },
};

const DEFAULTS: RawConfig = {
  leaderElect: true,
  leaderElectionNamespace: "vmdr-system",
  leaderElectionId: "vmdr-operator",
  leaseDuration: "15s",
  renewDeadline: "10s",
  retryPeriod: "2s",
  healthProbeBindAddress: ":8081",
  metricsBindAddress: ":8080",
  logLevel: "info",
  workers: 4,
  reconcileTimeout: "2m",
  resyncPeriod: "10m",
  startupTimeout: "30s",
  sitePollInterval: "1m",
  ontapPollInterval: "1m",
  externalCallTimeout: "30s",
};

/** Flag name (kebab-case) for a config key, e.g. leaderElect → leader-elect. */
const flagOf = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
/** Environment variable for a config key, e.g. leaderElect → VMDR_LEADER_ELECT. */
const envOf = (key: string): string => `VMDR_${flagOf(key).replace(/-/g, "_").toUpperCase()}`;

const KEYS = Object.keys(schema.properties ?? {}) as (keyof RawConfig)[];

export class ConfigError extends Error {}

/** What a flag without a fixed default means when unset. */
const NOTES: Partial<Record<keyof RawConfig, string>> = {
  kubeconfig: "default $KUBECONFIG, else in-cluster",
  namespace: "default all namespaces",
  identity: "default hostname and a random suffix",
  secretNamespaces: "comma-separated; default the operator's own namespace",
};

export const USAGE = [
  "Usage: vmdr-manager [flags]",
  "",
  "Flags (each also settable as VMDR_<FLAG_NAME>; --kubeconfig also from KUBECONFIG,",
  "--leader-election-namespace also from POD_NAMESPACE):",
  ...KEYS.map((k) => `  --${flagOf(k)}${DEFAULTS[k] !== undefined ? ` (default ${String(DEFAULTS[k])})` : NOTES[k] ? ` (${NOTES[k]})` : ""}`),
].join("\n");

/**
 * Builds the configuration from command-line flags, then the environment, then defaults, and
 * validates it. Throws ConfigError naming the offending flag on anything invalid.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = { ...DEFAULTS };
  for (const k of KEYS) {
    const v = env[envOf(k)];
    if (v !== undefined && v !== "") raw[k] = v;
  }
  if (env.KUBECONFIG && raw.kubeconfig === undefined) raw.kubeconfig = env.KUBECONFIG.split(":")[0];
  if (env.POD_NAMESPACE && env[envOf("leaderElectionNamespace")] === undefined) raw.leaderElectionNamespace = env.POD_NAMESPACE;

  const byFlag = new Map(KEYS.map((k) => [flagOf(k), k]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument "${arg}"\n\n${USAGE}`);
    const eq = arg.indexOf("=");
    const flag = arg.slice(2, eq < 0 ? undefined : eq);
    const key = byFlag.get(flag);
    if (!key) throw new ConfigError(`unknown flag --${flag}\n\n${USAGE}`);
    if (eq >= 0) raw[key] = arg.slice(eq + 1);
    else if (typeof DEFAULTS[key] === "boolean") raw[key] = true;
    else {
      const next = argv[++i];
      if (next === undefined) throw new ConfigError(`flag --${flag} needs a value`);
      raw[key] = next;
    }
  }

  const ajv = new Ajv({ coerceTypes: true, allErrors: true, useDefaults: false });
  const validate = ajv.compile(schema);
  if (!validate(raw)) {
    const msgs = (validate.errors ?? []).map((e) => {
      const key = e.instancePath.replace(/^\//, "");
      return `--${flagOf(key)}: ${e.message ?? "invalid"}${key ? ` (got ${JSON.stringify(raw[key])})` : ""}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${msgs.join("\n  ")}`);
  }
  const c = raw as unknown as RawConfig;
  const cfg: Config = {
    kubeconfig: c.kubeconfig,
    namespace: c.namespace,
    leaderElect: c.leaderElect,
    leaderElectionNamespace: c.leaderElectionNamespace,
    leaderElectionId: c.leaderElectionId,
    leaseDurationMs: parseDuration(c.leaseDuration),
    renewDeadlineMs: parseDuration(c.renewDeadline),
    retryPeriodMs: parseDuration(c.retryPeriod),
    healthProbeBindAddress: c.healthProbeBindAddress,
    metricsBindAddress: c.metricsBindAddress,
    logLevel: c.logLevel,
    identity: c.identity ?? `${hostname()}_${randomBytes(4).toString("hex")}`,
    workers: c.workers,
    reconcileTimeoutMs: parseDuration(c.reconcileTimeout),
    resyncPeriodMs: parseDuration(c.resyncPeriod),
    startupTimeoutMs: parseDuration(c.startupTimeout),
    sitePollIntervalMs: parseDuration(c.sitePollInterval),
    ontapPollIntervalMs: parseDuration(c.ontapPollInterval),
    externalCallTimeoutMs: parseDuration(c.externalCallTimeout),
    secretNamespaces: c.secretNamespaces ? [...new Set(c.secretNamespaces.split(","))] : [env.POD_NAMESPACE || c.leaderElectionNamespace],
    inCluster: Boolean(env.KUBERNETES_SERVICE_HOST),
    buildCommit: env.VMDR_BUILD_COMMIT ?? "unknown",
    testCrashPoints: env.VMDR_TEST_CRASH_POINTS || undefined,
  };
  if (!(cfg.leaseDurationMs > cfg.renewDeadlineMs && cfg.renewDeadlineMs > cfg.retryPeriodMs)) {
    throw new ConfigError("invalid configuration: need --lease-duration > --renew-deadline > --retry-period");
  }
  return cfg;
}
