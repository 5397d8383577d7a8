import { spawn, execFileSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { accessSync, constants, createWriteStream, mkdtempSync, readFileSync, statfsSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is test/harness/processes.ts, or its compiled copy under dist/). */
export const REPO_ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      readFileSync(join(d, "package.json"));
      if (!d.endsWith("/dist")) return d;
    } catch {
      /* keep climbing */
    }
    d = dirname(d);
  }
  throw new Error("cannot find the repository root");
})();

/**
 * The path of a cached tool binary: from the environment variable when set (the Makefile exports
 * them), else built on demand by hack/ensure-tool.sh (which only builds when missing).
 */
export function toolPath(name: string, envVar: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) return fromEnv;
  return execFileSync(join(REPO_ROOT, "hack/ensure-tool.sh"), [name], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}

/**
 * A new directory for a test's files (logs, kubeconfigs, lab state, etcd data). Inside an
 * integration run they all go under the run's directory (VMDR_TEST_TMP, made and removed by the
 * global setup), so a test that fails or times out leaves nothing behind.
 */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(process.env.VMDR_TEST_TMP ?? scratchBase(), `vmdr-${prefix}-`));
}

/**
 * Where test files go: /dev/shm when it is a writable tmpfs with room, else the system temp
 * directory. A 10,000-VM lab writes ~50,000 files and etcd syncs every write; on this kind of
 * virtual disk that made a lab start take 25-50 s instead of 6 s.
 */
export function scratchBase(): string {
  const shm = "/dev/shm";
  try {
    accessSync(shm, constants.W_OK);
    const fs = statfsSync(shm);
    if (fs.bavail * fs.bsize >= 4 * 2 ** 30) return shm;
  } catch {
    /* no usable /dev/shm */
  }
  return tmpdir();
}

/** A free TCP port on 127.0.0.1 (bound and released; the usual small race is acceptable in tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A child process whose output goes to a log file, stopped with SIGTERM then SIGKILL. */
export class Proc {
  readonly child: ChildProcess;
  private exited: Promise<number | null>;
  private alive = true;

  constructor(
    readonly name: string,
    bin: string,
    args: string[],
    readonly logFile: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const out = createWriteStream(logFile, { flags: "a" });
    this.child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env });
    this.child.stdout?.pipe(out);
    this.child.stderr?.pipe(out);
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code) => {
        this.alive = false;
        resolve(code);
      });
      this.child.on("error", () => {
        this.alive = false;
        resolve(null);
      });
    });
    liveProcs.add(this);
  }

  isAlive(): boolean {
    return this.alive;
  }

  /** Resolves with the exit code once the process exits. */
  waitExit(): Promise<number | null> {
    return this.exited;
  }

  async stop(graceMs = 10_000): Promise<void> {
    if (this.alive) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    liveProcs.delete(this);
  }

  kill(): Promise<number | null> {
    if (this.alive) this.child.kill("SIGKILL");
    liveProcs.delete(this);
    return this.exited;
  }

  /** The last lines of the process's log, for error messages. */
  tail(lines = 30): string {
    try {
      return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }
}

// Whatever happens to the test runner, do not leave servers behind.
const liveProcs = new Set<Proc>();
process.on("exit", () => {
  for (const p of liveProcs) p.child.kill("SIGKILL");
});
