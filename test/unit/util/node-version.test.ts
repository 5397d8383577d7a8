import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isSupportedNode } from "../../../src/util/node-version.js";

describe("isSupportedNode", () => {
  it("accepts the LTS lines 24 and 26 and later, and refuses 20, 22 and the odd line 25", () => {
    for (const v of ["v24.0.0", "v24.22.3", "v26.12.1", "v28.1.0"]) expect(isSupportedNode(v)).toBe(true);
    for (const v of ["v20.20.2", "v22.12.0", "v25.1.0", "garbage", ""]) expect(isSupportedNode(v)).toBe(false);
  });
});

describe("hack/ensure-node.sh", () => {
  const dir = mkdtempSync(join(tmpdir(), "ensure-node-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const stub = (name: string, version: string): string => {
    const d = join(dir, name);
    execFileSync("mkdir", ["-p", d]);
    const p = join(d, "node");
    writeFileSync(p, `#!/bin/sh\necho ${version}\n`);
    chmodSync(p, 0o755);
    return p;
  };
  // An empty cache directory and, in the second case, an npm that records its arguments and fails:
  // so printing the stub's directory proves nothing was installed, and the install path is seen
  // without downloading anything.
  const run = (node: string): string =>
    execFileSync("hack/ensure-node.sh", [], {
      env: { PATH: `${join(dir, "nonpm")}:/usr/bin:/bin`, VMDR_NODE: node, VMDR_CACHE_DIR: join(dir, "cache") },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();

  it("uses a machine's own Node.js when it is on a supported line, installing nothing", () => {
    expect(run(stub("n24", "v24.22.3"))).toBe(join(dir, "n24"));
    expect(run(stub("n26", "v26.1.0"))).toBe(join(dir, "n26"));
  });

  it("installs the pinned binary when the machine's Node.js is older than the supported lines", () => {
    const npm = join(dir, "nonpm", "npm");
    execFileSync("mkdir", ["-p", join(dir, "nonpm")]);
    writeFileSync(npm, "#!/bin/sh\necho \"npm $*\" >> \"$VMDR_CACHE_DIR/npm-calls\"\nexit 7\n");
    chmodSync(npm, 0o755);
    let err: (Error & { stderr?: string; status?: number }) | undefined;
    try {
      run(stub("n20", "v20.20.2"));
    } catch (e) {
      err = e as Error & { stderr?: string; status?: number };
    }
    // The stub npm was asked for exactly the lockfile install, and its failure is the script's.
    expect(err?.status).toBe(7);
    expect(err?.stderr).toMatch(/Node\.js v20\.20\.2 .* is not a supported LTS \(24 or 26\); installing Node\.js 26\.\d+\.\d+ from the npm registry/);
    expect(execFileSync("cat", [join(dir, "cache", "npm-calls")], { encoding: "utf8" })).toMatch(/^npm ci --no-audit --no-fund --ignore-scripts/);
  });
});
