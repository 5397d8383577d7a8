import type { KubeStore } from "../kube/store.js";
import type { Style } from "./output.js";

/**
 * How `vmdr` ends. Documented in `vmdr --help` and the README; scripts depend on them.
 *   0  success (validate: no errors)
 *   1  the command ran and found problems (validate: at least one error)
 *   2  usage error: unknown command or flag, missing or bad argument
 *   3  could not do the work: unreadable input, Kubernetes API unreachable or refusing, object not found
 *  70  internal error (a bug; --debug shows the stack trace)
 */
export const EXIT = { ok: 0, findings: 1, usage: 2, unavailable: 3, internal: 70 } as const;

/** A mistake in how the command was called: printed with a pointer to --help, exit 2. */
export class UsageError extends Error {}

/** The command could not do its work for a reason the user can act on: printed as is, no stack trace. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT.unavailable) {
    super(message);
  }
}

export interface FlagSpec {
  /** Long name without dashes, e.g. "output". */
  readonly name: string;
  /** One-letter alias without the dash, e.g. "o". */
  readonly short?: string;
  /** Placeholder of the value (e.g. "FORMAT"); a flag without one is a boolean. */
  readonly value?: string;
  readonly help: string;
  readonly default?: string;
  /** Allowed values, checked before the command runs. */
  readonly choices?: readonly string[];
  readonly repeatable?: boolean;
}

/** A parsed command line: flag values by long name, then the positional arguments. */
export interface ParsedArgs {
  readonly flags: ReadonlyMap<string, string | boolean | readonly string[]>;
  readonly positionals: readonly string[];
  str(name: string): string | undefined;
  bool(name: string): boolean;
  list(name: string): readonly string[];
}

export interface Writer {
  write(s: string): unknown;
  readonly isTTY?: boolean;
}

/** What a command gets to work with. Nothing here reads the process environment by itself. */
export interface CommandContext {
  readonly stdout: Writer;
  readonly stderr: Writer;
  /** Styling for stdout (plain unless stdout is a TTY and colour is not disabled). */
  readonly style: Style;
  readonly cwd: string;
  /** Reads all of standard input (for "-" arguments). */
  readonly readStdin: () => Promise<string>;
  /** The cluster, connected on first use from --kubeconfig/--context (only for commands with `kube: true`). */
  kube(): Promise<KubeStore>;
  /** -n/--namespace, else the kubeconfig context's namespace, else "default". */
  namespace(): Promise<string>;
}

/**
 * One `vmdr` subcommand. To add one: write src/cli/commands/<name>.ts exporting a Command, add it to
 * COMMANDS in src/cli/commands/index.ts, and give it tests. The framework handles --help, flag
 * parsing and validation, the cluster flags (when `kube` is set), colour, and turning UsageError and
 * CliError into messages and exit codes; `run` returns the exit code (EXIT).
 */
export interface Command {
  readonly name: string;
  /** One line for `vmdr --help`. */
  readonly summary: string;
  /** e.g. "vmdr validate [flags] <dir|file|->..." */
  readonly usage: string;
  /** Paragraphs for `vmdr <name> --help`. */
  readonly description: string;
  readonly flags: readonly FlagSpec[];
  /** Takes --kubeconfig, --context and -n/--namespace. */
  readonly kube?: boolean;
  /** Examples for `--help`, each a command line. */
  readonly examples?: readonly string[];
  run(ctx: CommandContext, args: ParsedArgs): Promise<number>;
}
