import { existsSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";

export class KubeconfigError extends Error {}

/**
 * Loads the kubeconfig to use: the given file, or the in-cluster service account when running in a
 * Pod. Throws KubeconfigError with a message that says what is wrong and what to do.
 */
export function loadKubeConfig(path: string | undefined, inCluster: boolean): KubeConfig {
  const kc = new KubeConfig();
  if (path) {
    if (!existsSync(path)) throw new KubeconfigError(`kubeconfig ${path} does not exist`);
    try {
      kc.loadFromFile(path);
    } catch (err) {
      throw new KubeconfigError(`kubeconfig ${path} is not a valid kubeconfig: ${err instanceof Error ? err.message : String(err)}`);
    }
  } else if (inCluster) {
    kc.loadFromCluster();
  } else {
    throw new KubeconfigError("no kubeconfig: pass --kubeconfig or set KUBECONFIG (or run inside a cluster)");
  }
  const context = kc.getCurrentContext();
  if (!context || !kc.getContextObject(context)) {
    throw new KubeconfigError(`kubeconfig ${path ?? "(in-cluster)"} has no usable current-context`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) throw new KubeconfigError(`kubeconfig ${path ?? "(in-cluster)"}: context "${context}" names no cluster server`);
  return kc;
}
