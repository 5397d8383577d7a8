import { join } from "node:path";
import { Proc, REPO_ROOT, scratchDir } from "./processes.js";

/** The operator as a separate process (dist/src/cmd/manager.js; `make build` compiles it). */
export class OperatorProcess extends Proc {
  static readonly entry = join(REPO_ROOT, "dist/src/cmd/manager.js");

  constructor(name: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    const dir = scratchDir(`op-${name}`);
    super(name, process.execPath, [OperatorProcess.entry, ...args], join(dir, "operator.log"), { PATH: process.env.PATH, ...env });
  }

  /** The operator's JSON log lines so far. */
  logLines(): Record<string, unknown>[] {
    return this.tail(100_000)
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  hasLogged(msg: string): boolean {
    return this.logLines().some((l) => l.msg === msg);
  }
}
