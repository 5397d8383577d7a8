import { appendFileSync, existsSync, readFileSync } from "node:fs";
import type { CrashPoint } from "./runner.js";

/**
 * Test-only: kills the process at engine crash points, as `kill -9` would (no cleanup, no lease
 * release), so tests can prove a restarted operator converges without repeating a mutation.
 * `file` lists targets, one per line: "Step:point", "Step:*", "*:point" or "*". Each distinct
 * point reached that matches a target kills the process once; the points already used are
 * appended to `<file>.done`, so a restarted process goes past them. Never configured in production.
 */
export function fileCrashPoints(file: string): (point: CrashPoint, step: string) => void {
  const targets = readFileSync(file, "utf8").split("\n").map((l) => l.trim()).filter(Boolean);
  const doneFile = `${file}.done`;
  return (point, step) => {
    const id = `${step}:${point}`;
    if (!targets.some((t) => t === "*" || t === id || t === `${step}:*` || t === `*:${point}`)) return;
    const done = existsSync(doneFile) ? readFileSync(doneFile, "utf8").split("\n") : [];
    if (done.includes(id)) return;
    appendFileSync(doneFile, `${id}\n`);
    process.kill(process.pid, "SIGKILL");
  };
}
