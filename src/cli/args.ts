import { UsageError } from "./command.js";
import type { FlagSpec, ParsedArgs } from "./command.js";

/**
 * Parses a command line against the flags a command accepts: `--name=value`, `--name value`, `-n
 * value`, `-n=value`, boolean `--name` (and `--name=false`), `--` ends the flags, `-` alone is a
 * positional (standard input). Unknown flags and missing values are UsageErrors.
 */
export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short as string, s]));
  const flags = new Map<string, string | boolean | string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "-" || !arg.startsWith("-")) {
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const eq = arg.indexOf("=");
    const key = arg.slice(long ? 2 : 1, eq < 0 ? undefined : eq);
    const spec = long ? byLong.get(key) : byShort.get(key);
    if (!spec) throw new UsageError(`unknown flag ${arg.slice(0, eq < 0 ? undefined : eq)}${suggest(key, specs)}`);
    let value: string | boolean;
    if (!spec.value) {
      if (eq >= 0) {
        const v = arg.slice(eq + 1);
        if (v !== "true" && v !== "false") throw new UsageError(`flag --${spec.name} takes no value (or true/false), got "${v}"`);
        value = v === "true";
      } else value = true;
    } else if (eq >= 0) value = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`flag --${spec.name} needs a value (${spec.value})`);
      value = next;
      i++;
    }
    if (typeof value === "string" && spec.choices && !spec.choices.includes(value)) {
      throw new UsageError(`flag --${spec.name} must be one of ${spec.choices.join(", ")} (got "${value}")`);
    }
    if (spec.repeatable && typeof value === "string") {
      const prev = flags.get(spec.name);
      flags.set(spec.name, [...(Array.isArray(prev) ? prev : []), ...value.split(",").filter((x) => x !== "")]);
    } else flags.set(spec.name, value);
  }
  for (const s of specs) if (s.default !== undefined && !flags.has(s.name)) flags.set(s.name, s.repeatable ? s.default.split(",") : s.default);
  return {
    flags,
    positionals,
    str: (n) => {
      const v = flags.get(n);
      return typeof v === "string" ? v : undefined;
    },
    bool: (n) => flags.get(n) === true,
    list: (n) => {
      const v = flags.get(n);
      return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
    },
  };
}

function suggest(key: string, specs: readonly FlagSpec[]): string {
  const near = specs.find((s) => s.name.startsWith(key) || key.startsWith(s.name));
  return near ? ` (did you mean --${near.name}?)` : "";
}

/** The help text of a command's flags, aligned. */
export function flagHelp(specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const names = `${s.short ? `-${s.short}, ` : "    "}--${s.name}${s.value ? ` ${s.value}` : ""}`;
    const extra = [s.choices ? `one of ${s.choices.join(", ")}` : "", s.default !== undefined ? `default ${s.default}` : ""].filter(Boolean).join("; ");
    return [names, `${s.help}${extra ? ` (${extra})` : ""}`] as const;
  });
  const w = Math.max(0, ...rows.map(([n]) => n.length));
  return rows.map(([n, h]) => `  ${n.padEnd(w)}  ${h}`).join("\n");
}
