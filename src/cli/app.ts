import { readFileSync } from "node:fs";
import { KubeApiError } from "../kube/errors.js";
import { flagHelp, parseArgs } from "./args.js";
import { CliError, EXIT, UsageError } from "./command.js";
import type { Command, CommandContext, FlagSpec, Writer } from "./command.js";
import { COMMANDS } from "./commands/index.js";
import { connectCluster } from "./kube.js";
import type { Cluster } from "./kube.js";
import { styleFor } from "./output.js";

export interface CliIo {
  readonly stdout: Writer;
  readonly stderr: Writer;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly readStdin: () => Promise<string>;
}

const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: "help", short: "h", help: "show help" },
  { name: "no-color", help: "never colour the output (colour is used only on a terminal, and never with NO_COLOR set)" },
  { name: "debug", help: "show stack traces of internal errors" },
];

export const CLUSTER_FLAGS: readonly FlagSpec[] = [
  { name: "kubeconfig", value: "FILE", help: "kubeconfig file (default $KUBECONFIG, else ~/.kube/config, else in-cluster)" },
  { name: "context", value: "NAME", help: "kubeconfig context to use (default its current-context)" },
  { name: "namespace", short: "n", value: "NAMESPACE", help: "namespace (default the context's, else default)" },
];

const EXIT_HELP = [
  "Exit codes:",
  `  ${EXIT.ok}   success`,
  `  ${EXIT.findings}   the command ran and found problems (vmdr validate: errors)`,
  `  ${EXIT.usage}   usage error (unknown command or flag, bad argument)`,
  `  ${EXIT.unavailable}   could not do the work (unreadable input, cluster unreachable or refusing, object not found)`,
  `  ${EXIT.internal}  internal error (a bug; --debug shows the stack trace)`,
].join("\n");

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version?: string }).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

function topHelp(commands: readonly Command[]): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [
    "vmdr — VMware disaster recovery with the vmdr operator, from the command line",
    "",
    "Usage: vmdr <command> [flags]",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    "",
    "Flags:",
    flagHelp([...GLOBAL_FLAGS, { name: "version", help: "print the version" }]),
    "",
    EXIT_HELP,
    "",
    "Run 'vmdr <command> --help' for a command's flags.",
  ].join("\n");
}

function commandHelp(c: Command): string {
  const flags = [...c.flags, ...(c.kube ? CLUSTER_FLAGS : []), ...GLOBAL_FLAGS];
  return [
    `Usage: ${c.usage}`,
    "",
    c.description,
    "",
    "Flags:",
    flagHelp(flags),
    ...(c.examples?.length ? ["", "Examples:", ...c.examples.map((e) => `  ${e}`)] : []),
    "",
    EXIT_HELP,
  ].join("\n");
}

/**
 * Runs `vmdr` with the given arguments and returns its exit code. User mistakes and unavailable
 * inputs become one-line messages on stderr (no stack traces); only a bug shows a stack, and only
 * with --debug.
 */
export async function runCli(argv: readonly string[], io: CliIo, commands: readonly Command[] = COMMANDS): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const target = name === "help" ? commands.find((c) => c.name === rest[0]) : undefined;
    io.stdout.write(`${target ? commandHelp(target) : topHelp(commands)}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version" || name === "version") {
    io.stdout.write(`vmdr ${version()}\n`);
    return EXIT.ok;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    io.stderr.write(`vmdr: unknown command "${name}"\nRun 'vmdr --help' for the commands.\n`);
    return EXIT.usage;
  }
  const debug = rest.includes("--debug");
  let cluster: Cluster | undefined;
  try {
    const args = parseArgs(rest, [...cmd.flags, ...(cmd.kube ? CLUSTER_FLAGS : []), ...GLOBAL_FLAGS]);
    if (args.bool("help")) {
      io.stdout.write(`${commandHelp(cmd)}\n`);
      return EXIT.ok;
    }
    const style = styleFor(io.stdout, { noColor: args.bool("no-color"), env: io.env });
    const connect = async (): Promise<Cluster> =>
      (cluster ??= await connectCluster({ kubeconfig: args.str("kubeconfig"), context: args.str("context"), namespace: args.str("namespace") }, io.env));
    const ctx: CommandContext = {
      stdout: io.stdout,
      stderr: io.stderr,
      style,
      cwd: io.cwd,
      readStdin: io.readStdin,
      kube: async () => (await connect()).kube,
      namespace: async () => args.str("namespace") ?? (cmd.kube ? (await connect()).namespace : "default"),
    };
    return await cmd.run(ctx, args);
  } catch (err) {
    return report(err, cmd.name, io, debug);
  } finally {
    cluster?.close();
  }
}

function report(err: unknown, name: string, io: CliIo, debug: boolean): number {
  if (err instanceof UsageError) {
    io.stderr.write(`vmdr ${name}: ${err.message}\nRun 'vmdr ${name} --help' for usage.\n`);
    return EXIT.usage;
  }
  if (err instanceof CliError) {
    io.stderr.write(`vmdr ${name}: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof KubeApiError) {
    const hint = err.statusCode === 403 ? " (your identity may not do this; ask for RBAC access)" : err.statusCode === 401 ? " (log in again or check the kubeconfig's credentials)" : "";
    io.stderr.write(`vmdr ${name}: Kubernetes API: ${err.message}${hint}\n`);
    return EXIT.unavailable;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  io.stderr.write(`vmdr ${name}: internal error: ${e.message}\n${debug ? `${e.stack ?? ""}\n` : "This is a bug; run again with --debug for the stack trace.\n"}`);
  return EXIT.internal;
}
