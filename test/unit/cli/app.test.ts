import { describe, expect, it } from "vitest";
import { runCli } from "../../../src/cli/app.js";
import type { CliIo } from "../../../src/cli/app.js";
import { CliError, EXIT } from "../../../src/cli/command.js";
import type { Command } from "../../../src/cli/command.js";
import { COMMANDS } from "../../../src/cli/commands/index.js";
import { REPO_ROOT } from "../../harness/processes.js";

class Buffer {
  text = "";
  constructor(readonly isTTY = false) {}
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

async function vmdr(argv: string[], o: { tty?: boolean; env?: Record<string, string>; commands?: readonly Command[]; stdin?: string } = {}) {
  const stdout = new Buffer(o.tty ?? false);
  const stderr = new Buffer(o.tty ?? false);
  const io: CliIo = { stdout, stderr, env: o.env ?? {}, cwd: REPO_ROOT, readStdin: () => Promise.resolve(o.stdin ?? "") };
  const code = await runCli(argv, io, o.commands);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const boom: Command = {
  name: "boom",
  summary: "fails",
  usage: "vmdr boom",
  description: "Throws.",
  flags: [],
  run: () => Promise.reject(new TypeError("cannot read properties of undefined")),
};
const unavailable: Command = { ...boom, name: "gone", run: () => Promise.reject(new CliError("ProtectionGroup dr/x not found")) };

describe("vmdr (the CLI framework)", () => {
  it("answers --help on every command with its usage, flags and exit codes", async () => {
    for (const c of COMMANDS) {
      const r = await vmdr([c.name, "--help"]);
      expect(r.code, c.name).toBe(EXIT.ok);
      expect(r.stdout).toContain(`Usage: ${c.usage}`);
      expect(r.stdout).toContain("Exit codes:");
      if (c.kube) expect(r.stdout).toMatch(/--kubeconfig FILE[\s\S]*--context NAME[\s\S]*-n, --namespace NAMESPACE/);
    }
    const top = await vmdr(["--help"]);
    expect(top.code).toBe(EXIT.ok);
    for (const c of COMMANDS) expect(top.stdout).toContain(`  ${c.name}`);
    expect((await vmdr([])).code).toBe(EXIT.usage);
  });

  it("exits 2 with a pointer to --help for an unknown command, flag or a bad flag value", async () => {
    expect(await vmdr(["frobnicate"])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('unknown command "frobnicate"') });
    const flag = await vmdr(["validate", "--outptu=json", "deploy/samples"]);
    expect(flag).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining("unknown flag --outptu") });
    expect(flag.stderr).toContain("Run 'vmdr validate --help'");
    expect((await vmdr(["validate", "-o", "yaml", "deploy/samples"])).stderr).toContain("must be one of text, json");
    expect((await vmdr(["map"])).code).toBe(EXIT.usage);
  });

  it("reports unavailable inputs in one line with exit 3, and a bug with exit 70 and a stack only under --debug", async () => {
    const missing = await vmdr(["validate", "no/such/dir"]);
    expect(missing).toEqual({ code: EXIT.unavailable, stdout: "", stderr: "vmdr validate: no/such/dir: no such file or directory\n" });
    expect(await vmdr(["gone"], { commands: [unavailable] })).toMatchObject({ code: EXIT.unavailable, stderr: "vmdr gone: ProtectionGroup dr/x not found\n" });
    const bug = await vmdr(["boom"], { commands: [boom] });
    expect(bug.code).toBe(EXIT.internal);
    expect(bug.stderr).not.toMatch(/\n\s+at /);
    expect((await vmdr(["boom", "--debug"], { commands: [boom] })).stderr).toMatch(/\n\s+at /);
  });

  it("colours only on a terminal, and never with NO_COLOR or --no-color", async () => {
    const args = ["validate", "deploy/samples", "test/fixtures/validate/bad/duplicate.yaml"];
    const ESC = "\x1b[";
    expect((await vmdr(args, { tty: true })).stdout).toContain(`${ESC}31merror`);
    expect((await vmdr(args, { tty: false })).stdout).not.toContain(ESC);
    expect((await vmdr(args, { tty: true, env: { NO_COLOR: "1" } })).stdout).not.toContain(ESC);
    expect((await vmdr([...args, "--no-color"], { tty: true })).stdout).not.toContain(ESC);
  });

  it("vmdr validate exits 1 on errors, 0 on warnings alone unless --warnings-as-errors, and speaks JSON with -o json", async () => {
    const r = await vmdr(["validate", "-o", "json", "deploy/samples", "test/fixtures/validate/bad/acyclic.yaml"]);
    expect(r.code).toBe(EXIT.findings);
    const out = JSON.parse(r.stdout) as { valid: boolean; errors: number; warnings: number; findings: { file: string; object: unknown; field: string }[] };
    expect(out).toMatchObject({ valid: false, errors: 1, warnings: 1 });
    expect(out.findings[0]).toMatchObject({ file: "test/fixtures/validate/bad/acyclic.yaml", object: { kind: "ProtectionGroup", namespace: "dr", name: "cyclic" } });
    const warningsOnly = `
apiVersion: dr.vmdr.io/v1alpha1
kind: Site
metadata: {name: lone, namespace: ignored}
spec:
  vcenter: {url: "https://vc.example.com", datacenter: D, credentialsSecretRef: {name: s, namespace: vmdr-system}}
  storage: {controllers: [{name: c, url: "https://o.example.com", svm: v, credentialsSecretRef: {name: s, namespace: vmdr-system}}]}
`;
    expect((await vmdr(["validate", "-"], { stdin: warningsOnly })).code).toBe(EXIT.ok);
    expect((await vmdr(["validate", "--warnings-as-errors", "-"], { stdin: warningsOnly })).code).toBe(EXIT.findings);
    expect((await vmdr(["validate", "deploy/samples"])).stdout).toMatch(/0 error\(s\), 0 warning\(s\)\n$/);
  });
});
