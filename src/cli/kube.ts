import { existsSync } from "node:fs";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeRest } from "../kube/rest.js";
import { RestKubeStore } from "../kube/store.js";
import type { KubeStore } from "../kube/store.js";
import { CliError } from "./command.js";

export interface ClusterFlags {
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly namespace?: string;
}

export interface Cluster {
  readonly kube: KubeStore;
  readonly namespace: string;
  close(): void;
}

/**
 * Connects like kubectl does: --kubeconfig, else $KUBECONFIG (a list, merged with the first file's
 * current-context), else ~/.kube/config, else the in-cluster service account; --context picks a context; the namespace is
 * -n, else the context's, else "default". Every request is bounded by timeoutMs.
 */
export async function connectCluster(f: ClusterFlags, env: Readonly<Record<string, string | undefined>>, timeoutMs = 30_000): Promise<Cluster> {
  const kc = loadKubeconfig(f.kubeconfig, env);
  if (f.context) {
    if (!kc.getContextObject(f.context)) {
      throw new CliError(`kubeconfig has no context "${f.context}" (it has: ${kc.getContexts().map((c) => c.name).join(", ") || "none"})`);
    }
    kc.setCurrentContext(f.context);
  }
  if (!kc.getCurrentCluster()?.server) throw new CliError("no Kubernetes cluster configured: pass --kubeconfig or --context, or set KUBECONFIG");
  const namespace = f.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
  let rest: KubeRest;
  try {
    rest = await KubeRest.create(kc, { timeoutMs, userAgent: "vmdr-cli" });
  } catch (err) {
    throw new CliError(`cannot use the kubeconfig: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { kube: new RestKubeStore(rest), namespace, close: () => rest.close() };
}

/** The kubeconfig kubectl would use, or a CliError saying where none was found. */
function loadKubeconfig(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): KubeConfig {
  const load = (path: string): KubeConfig => {
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(path);
    } catch (err) {
      throw new CliError(`kubeconfig ${path} is not a valid kubeconfig: ${err instanceof Error ? err.message : String(err)}`);
    }
    return kc;
  };
  if (flag) {
    if (!existsSync(flag)) throw new CliError(`kubeconfig ${flag} does not exist`);
    return load(flag);
  }
  if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(":").filter((p) => p !== "" && existsSync(p));
    if (files.length === 0) throw new CliError(`KUBECONFIG (${env.KUBECONFIG}) names no file that exists`);
    const kc = load(files[0] as string);
    for (const p of files.slice(1)) kc.mergeConfig(load(p), true);
    return kc;
  }
  const home = env.HOME ? join(env.HOME, ".kube", "config") : undefined;
  if (home && existsSync(home)) return load(home);
  if (env.KUBERNETES_SERVICE_HOST) {
    const kc = new KubeConfig();
    kc.loadFromCluster();
    return kc;
  }
  throw new CliError("no kubeconfig: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config");
}
