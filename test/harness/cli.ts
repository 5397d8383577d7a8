import { spawn } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "./processes.js";

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the built `vmdr` (dist/src/cli/main.js; `make build` compiles it) as a separate process,
 * with only PATH and HOME from this environment (no KUBECONFIG leaks in), and optional stdin.
 */
export function runVmdr(args: readonly string[], o: { stdin?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(REPO_ROOT, "dist/src/cli/main.js"), ...args], {
      cwd: o.cwd ?? REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...o.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), 60_000);
    p.on("error", reject);
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    p.stdin.end(o.stdin ?? "");
  });
}
