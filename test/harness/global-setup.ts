import type { TestProject } from "vitest/node";
import { ControlPlane } from "./control-plane.js";

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfig: string;
    apiServer: string;
  }
}

/** Starts one control plane for the integration tier and tears it down at the end. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const cp = await ControlPlane.start({ keep: process.env.VMDR_KEEP_CONTROL_PLANE === "1" });
  console.log(`control plane ready at ${cp.server} in ${((Date.now() - started) / 1000).toFixed(1)}s (${cp.dir})`);
  project.provide("kubeconfig", cp.kubeconfigPath);
  project.provide("apiServer", cp.server);
  return async () => {
    await cp.stop();
  };
}
