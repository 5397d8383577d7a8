#!/usr/bin/env node
/**
 * The `vmdr` command (package.json "bin"): the CLI's composition root, the only place it reads the
 * process environment and standard streams.
 */
import { SUPPORTED_NODE, isSupportedNode } from "../util/node-version.js";

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (d: string) => (text += d));
    process.stdin.on("end", () => resolve(text));
    process.stdin.on("error", reject);
  });
}

async function main(): Promise<number> {
  // Before anything else loads: the Kubernetes client does not even import on older lines.
  if (!isSupportedNode(process.version)) {
    process.stderr.write(`vmdr: needs ${SUPPORTED_NODE} (this is Node.js ${process.version})\n`);
    return 3;
  }
  const { runCli } = await import("./app.js");
  return runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), readStdin });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`vmdr: internal error: ${String(err)}\n`);
    process.exitCode = 70;
  },
);
