import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { ControlPlane } from "./control-plane.js";
import { scratchBase } from "./processes.js";

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfig: string;
    apiServer: string;
  }
}

/**
 * Starts one control plane for the integration tier and tears it down at the end. Every other
 * directory the tests make (scratchDir) goes under one run directory, removed at the end even when
 * tests failed or timed out; VMDR_KEEP_TEST_DIRS=1 keeps it for a post-mortem.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const cp = await ControlPlane.start({ keep: process.env.VMDR_KEEP_CONTROL_PLANE === "1" });
  console.log(`control plane ready at ${cp.server} in ${((Date.now() - started) / 1000).toFixed(1)}s (${cp.dir})`);
  project.provide("kubeconfig", cp.kubeconfigPath);
  project.provide("apiServer", cp.server);
  const runDir = mkdtempSync(join(scratchBase(), "vmdr-test-"));
  process.env.VMDR_TEST_TMP = runDir; // inherited by the test workers, which start after this
  return async () => {
    await cp.stop();
    if (process.env.VMDR_KEEP_TEST_DIRS === "1") console.log(`test directories kept in ${runDir}`);
    else rmSync(runDir, { recursive: true, force: true });
  };
}
