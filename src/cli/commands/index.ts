import type { Command } from "../command.js";
import { mapCommand } from "./map.js";
import { planCommand } from "./plan.js";
import { reportCommand } from "./report.js";
import { validateCommand } from "./validate.js";

/**
 * Every `vmdr` subcommand, in the order `vmdr --help` lists them. To add one:
 * write src/cli/commands/<name>.ts exporting a Command (see src/cli/command.ts) and add it here.
 */
export const COMMANDS: readonly Command[] = [validateCommand, planCommand, mapCommand, reportCommand];
