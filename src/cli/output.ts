/** Colour when wanted, nothing otherwise: every function is the identity when disabled. */
export interface Style {
  readonly enabled: boolean;
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

const sgr = (on: boolean, code: string) => (s: string): string => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

/** A style for a stream: colour only on a TTY, and never with NO_COLOR set, TERM=dumb or --no-color. */
export function styleFor(stream: { isTTY?: boolean }, o: { noColor: boolean; env: Readonly<Record<string, string | undefined>> }): Style {
  const on = stream.isTTY === true && !o.noColor && !o.env.NO_COLOR && o.env.TERM !== "dumb";
  return { enabled: on, red: sgr(on, "31"), yellow: sgr(on, "33"), green: sgr(on, "32"), bold: sgr(on, "1"), dim: sgr(on, "2") };
}
