#!/usr/bin/env node
/**
 * The operator's composition root: parse configuration → build dependencies → register
 * controllers → run the manager. The only place that reads the process environment (through
 * src/config), constructs real clients, and decides the exit code.
 */
import { readFileSync } from "node:fs";
import { API_VERSION } from "../api/v1alpha1/meta.js";
import { SiteType } from "../api/v1alpha1/site.js";
import { ConfigError, USAGE, loadConfig } from "../config/config.js";
import type { Config } from "../config/config.js";
import { KubeconfigError, loadKubeConfig } from "../kube/kubeconfig.js";
import { KubeRest } from "../kube/rest.js";
import { RestKubeStore } from "../kube/store.js";
import { ClientNodeWatcher } from "../kube/watch.js";
import { createLogger } from "../log/logger.js";
import type { Logger } from "../log/logger.js";
import { createOperatorMetrics } from "../metrics/operator.js";
import { KubeEventRecorder } from "../runtime/events.js";
import { Manager } from "../runtime/manager.js";
import { PreflightError, preflight } from "../runtime/preflight.js";
import { registerControllers } from "../controllers/index.js";
import { systemClock } from "../util/clock.js";
import { SUPPORTED_NODE, isSupportedNode } from "../util/node-version.js";
import { ReferencedSecrets } from "../sites/secrets.js";
import { SiteConnections } from "../sites/connections.js";
import { SiteInventories } from "../sites/inventories.js";
import { fileCrashPoints } from "../engine/crash-points.js";

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

async function run(cfg: Config, log: Logger): Promise<number> {
  const clock = systemClock;
  const kc = loadKubeConfig(cfg.kubeconfig, cfg.inCluster);
  const rest = await KubeRest.create(kc, { userAgent: `vmdr-manager/${packageVersion()}` });
  await preflight(rest, API_VERSION, SiteType.plural, { timeoutMs: cfg.startupTimeoutMs, clock, log });

  const all = createOperatorMetrics({ version: packageVersion(), commit: cfg.buildCommit }, clock);
  const { registry, runtime: metrics } = all;
  const kube = new RestKubeStore(rest);
  const watcher = new ClientNodeWatcher(kc);
  const events = new KubeEventRecorder({ kube, clock, log, component: "vmdr-manager", instance: cfg.identity });
  const manager = new Manager({
    kube,
    watcher,
    clock,
    log,
    registry,
    metrics,
    namespace: cfg.namespace,
    leaderElection: cfg.leaderElect
      ? {
          namespace: cfg.leaderElectionNamespace,
          name: cfg.leaderElectionId,
          identity: cfg.identity,
          leaseDurationMs: cfg.leaseDurationMs,
          renewDeadlineMs: cfg.renewDeadlineMs,
          retryPeriodMs: cfg.retryPeriodMs,
          releaseOnCancel: true,
        }
      : undefined,
    healthProbeBindAddress: cfg.healthProbeBindAddress,
    metricsBindAddress: cfg.metricsBindAddress,
    workers: cfg.workers,
    reconcileTimeoutMs: cfg.reconcileTimeoutMs,
    resyncPeriodMs: cfg.resyncPeriodMs,
  });
  // Only the Secrets Sites name, only in the allowed namespaces (no Secret informer on the cluster).
  const secrets = new ReferencedSecrets({
    kube,
    watcher,
    clock,
    log,
    sites: manager.informer(SiteType),
    allowedNamespaces: cfg.secretNamespaces,
    resyncPeriodMs: cfg.resyncPeriodMs,
  });
  manager.addCache("referenced-secrets", secrets);
  const connections = new SiteConnections({
    secrets: secrets.lookup,
    clock,
    log,
    metrics: all.external,
    callTimeoutMs: cfg.externalCallTimeoutMs,
  });
  const inventories = new SiteInventories({ connections, clock, log });
  registerControllers(manager, {
    kube,
    clock,
    events,
    metrics,
    replicationMetrics: all.replication,
    failoverMetrics: all.failover,
    groupMetrics: all.groups,
    connections,
    secrets,
    externalMetrics: all.external,
    inventories,
    sitePollIntervalMs: cfg.sitePollIntervalMs,
    ontapPollIntervalMs: cfg.ontapPollIntervalMs,
    groupResyncMs: cfg.resyncPeriodMs,
    ...(cfg.testCrashPoints ? { crash: fileCrashPoints(cfg.testCrashPoints) } : {}),
  });

  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stop.signal.aborted) {
      log.warn({ signal: sig }, "Second signal; exiting now");
      process.exit(1);
    }
    log.info({ signal: sig }, "Shutting down");
    stop.abort();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  log.info({ identity: cfg.identity, namespace: cfg.namespace ?? "(all)", secretNamespaces: cfg.secretNamespaces, server: rest.server.origin }, "Starting manager");
  const outcome = await manager.run(stop.signal);
  if (outcome === "lost") {
    // Another replica may already be acting: stop issuing anything, at once (STYLE.md §2.3).
    log.error("Leader lease lost; exiting");
    process.exit(1);
  }
  await events.flush();
  await connections.closeAll();
  rest.close();
  log.info("Stopped");
  return 0;
}

async function main(argv: string[]): Promise<number> {
  if (!isSupportedNode(process.version)) {
    process.stderr.write(`vmdr-manager: needs ${SUPPORTED_NODE} (this is Node.js ${process.version}, which gets no security fixes or is not an LTS line)\n`);
    return 2;
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let cfg: Config;
  try {
    cfg = loadConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`vmdr-manager: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger({ level: cfg.logLevel, component: "vmdr-manager" });
  try {
    return await run(cfg, log);
  } catch (err) {
    if (err instanceof KubeconfigError || err instanceof PreflightError) {
      log.fatal(err.message);
      return 1;
    }
    log.fatal({ err }, "Manager failed");
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`vmdr-manager: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
