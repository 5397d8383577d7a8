import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, scratchDir } from "../harness/processes.js";

// The image's first two stages without a container engine: hack/pack.sh builds the npm package
// from src/, hack/install-package.sh unpacks it with production dependencies only (what the
// Containerfile runs). The result must start, with nothing from devDependencies present.
const exec = promisify(execFile);
let app: string;
let tarball: string;

beforeAll(async () => {
  const dir = scratchDir("package");
  const packed = await exec(join(REPO_ROOT, "hack/pack.sh"), [join(dir, "out")], { cwd: REPO_ROOT, timeout: 170_000 });
  tarball = packed.stdout.trim();
  app = join(dir, "app");
  await exec(join(REPO_ROOT, "hack/install-package.sh"), [tarball, join(REPO_ROOT, "package-lock.json"), app], { timeout: 170_000 });
}, 180_000);

describe("the shipped package (npm pack + npm ci --omit=dev)", () => {
  it("runs vmdr-manager --help from the installed package", async () => {
    const r = await exec(process.execPath, [join(app, "dist/src/cmd/manager.js"), "--help"], { cwd: app, timeout: 30_000 });
    expect(r.stdout).toMatch(/^Usage: vmdr-manager \[flags\]/);
    expect(r.stdout).toContain("--secret-namespaces");
  });

  it("runs vmdr (the CLI bin) from the installed package: --version, and validate on the samples", async () => {
    const pkg = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as { version: string; bin: Record<string, string> };
    expect(Object.keys(pkg.bin).sort()).toEqual(["vmdr", "vmdr-manager"]);
    const cli = join(app, pkg.bin.vmdr as string);
    expect((await exec(process.execPath, [cli, "--version"], { cwd: app, timeout: 30_000 })).stdout).toBe(`vmdr ${pkg.version}\n`);
    const r = await exec(process.execPath, [cli, "validate", join(REPO_ROOT, "deploy/samples")], { cwd: app, timeout: 30_000 });
    expect(r.stdout).toMatch(/0 error\(s\), 0 warning\(s\)/);
  });

  it("holds production dependencies only and no tests, tooling or sources", () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean }> };
    // The lockfile marks what only development needs (typescript, vitest, eslint and their trees).
    const devOnly = Object.entries(lock.packages).filter(([path, p]) => path !== "" && p.dev).map(([path]) => path);
    expect(devOnly).toContain("node_modules/typescript");
    for (const path of devOnly) expect(existsSync(join(app, path)), path).toBe(false);
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(app, "node_modules", dep)), dep).toBe(true);
    const top = readdirSync(app).sort();
    expect(top).toEqual(["README.md", "dist", "node_modules", "package-lock.json", "package.json"]);
    expect(readdirSync(join(app, "dist"))).toEqual(["src"]);
    expect(existsSync(join(app, "dist/src/cmd/manager.ts"))).toBe(false);
  });
});
