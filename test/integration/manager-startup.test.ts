import { writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort, scratchDir } from "../harness/processes.js";
import { OperatorProcess } from "../harness/operator.js";
import { UNPRIVILEGED_TOKEN } from "../harness/control-plane.js";

const dir = scratchDir("startup");
const procs: OperatorProcess[] = [];
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
});

function kubeconfig(name: string, server: string, user: string[], cluster: string[] = []): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: c",
      "  cluster:",
      `    server: ${server}`,
      ...cluster.map((l) => `    ${l}`),
      "users:",
      "- name: u",
      "  user:",
      ...user.map((l) => `    ${l}`),
      "contexts:",
      "- name: x",
      "  context: {cluster: c, user: u}",
      "current-context: x",
      "",
    ].join("\n"),
  );
  return path;
}

/** Runs the operator to completion and returns its exit code and the message it died with. */
async function runToExit(args: string[]): Promise<{ code: number | null; fatal: string }> {
  const p = new OperatorProcess("startup", [...args, "--startup-timeout=2s", "--health-probe-bind-address=0", "--metrics-bind-address=0"]);
  procs.push(p);
  const code = await Promise.race([p.waitExit(), new Promise<"hung">((r) => setTimeout(() => r("hung"), 30_000))]);
  if (code === "hung") throw new Error(`operator did not exit:\n${p.tail()}`);
  const fatal = p
    .logLines()
    .filter((l) => l.level === "fatal")
    .map((l) => String(l.msg))
    .join("\n");
  return { code, fatal: fatal || p.tail() };
}

describe("operator start-up", () => {
  let caPath: string;
  beforeAll(() => {
    const kc = readFileSync(inject("kubeconfig"), "utf8");
    caPath = /certificate-authority: (.*)/.exec(kc)?.[1] ?? "";
  });

  it("exits 1 naming the server when the API server is unreachable", async () => {
    const port = await freePort();
    const kc = kubeconfig("unreachable", `https://127.0.0.1:${port}`, ["token: x"], [`certificate-authority: ${caPath}`]);
    const { code, fatal } = await runToExit([`--kubeconfig=${kc}`]);
    expect(code).toBe(1);
    expect(fatal).toMatch(new RegExp(`cannot reach the Kubernetes API server at https://127.0.0.1:${port}: .*ECONNREFUSED.*\\(gave up after 2s\\)`));
  });

  it("exits 1 when the kubeconfig is not a kubeconfig", async () => {
    const path = join(dir, "garbage");
    writeFileSync(path, "this: [is not\n a kubeconfig");
    const { code, fatal } = await runToExit([`--kubeconfig=${path}`]);
    expect(code).toBe(1);
    expect(fatal).toMatch(/kubeconfig .*garbage is not a valid kubeconfig/);
  });

  it("exits 1 when the kubeconfig file does not exist", async () => {
    const { code, fatal } = await runToExit([`--kubeconfig=${join(dir, "missing")}`]);
    expect(code).toBe(1);
    expect(fatal).toMatch(/kubeconfig .*missing does not exist/);
  });

  it("exits 1 when the server's certificate is not signed by the configured CA", async () => {
    const kc = kubeconfig("wrong-ca", inject("apiServer"), ["token: x"]);
    const { code, fatal } = await runToExit([`--kubeconfig=${kc}`]);
    expect(code).toBe(1);
    expect(fatal).toMatch(/cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+: .*(certificate|self-signed)/);
  });

  it("exits 1 at once when the API server rejects the credentials", async () => {
    const kc = kubeconfig("bad-token", inject("apiServer"), ["token: not-a-token"], [`certificate-authority: ${caPath}`]);
    const { code, fatal } = await runToExit([`--kubeconfig=${kc}`]);
    expect(code).toBe(1);
    expect(fatal).toMatch(/rejected our credentials \(401 Unauthorized\)/);
  });

  it("exits 1 and points at RBAC when the identity may not read the API", async () => {
    const kc = kubeconfig("no-rbac", inject("apiServer"), [`token: ${UNPRIVILEGED_TOKEN}`], [`certificate-authority: ${caPath}`]);
    const { code, fatal } = await runToExit([`--kubeconfig=${kc}`]);
    expect(code).toBe(1);
    expect(fatal).toMatch(/403 Forbidden.*check the operator's RBAC/);
  });

  it("exits 2 with the usage problem on an invalid flag", async () => {
    const p = new OperatorProcess("badflag", ["--workers=many"]);
    procs.push(p);
    expect(await p.waitExit()).toBe(2);
    expect(p.tail()).toMatch(/--workers: must be integer/);
  });
});
