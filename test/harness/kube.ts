import { randomBytes } from "node:crypto";
import { KubeConfig } from "@kubernetes/client-node";
import { inject } from "vitest";
import { KubeRest } from "../../src/kube/rest.js";
import { RestKubeStore } from "../../src/kube/store.js";
import type { KubeStore } from "../../src/kube/store.js";
import type { ResourceType } from "../../src/kube/types.js";

export const NamespaceType: ResourceType = { group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false };

export interface TestKube {
  readonly kubeconfigPath: string;
  readonly kc: KubeConfig;
  readonly rest: KubeRest;
  readonly kube: KubeStore;
  /** Creates a fresh namespace for one test. */
  namespace(prefix?: string): Promise<string>;
  close(): void;
}

/** Clients for the shared test control plane started by global-setup.ts. */
export async function connect(kubeconfigPath: string = inject("kubeconfig")): Promise<TestKube> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const rest = await KubeRest.create(kc, { timeoutMs: 15_000 });
  const kube = new RestKubeStore(rest);
  return {
    kubeconfigPath,
    kc,
    rest,
    kube,
    async namespace(prefix = "t") {
      const name = `${prefix}-${randomBytes(4).toString("hex")}`;
      await kube.create(NamespaceType, { metadata: { name } });
      return name;
    },
    close: () => rest.close(),
  };
}

/** Polls fn until it returns a value other than undefined, or fails after timeoutMs. */
export async function eventually<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${lastErr instanceof Error ? `: ${lastErr.message}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
