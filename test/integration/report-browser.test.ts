import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { runVmdr } from "../harness/cli.js";
import { REPO_ROOT } from "../harness/processes.js";
import { reportRun } from "../harness/report-run.js";

/** Debian's headless Chromium (`make test` installs chromium-headless-shell); VMDR_CHROMIUM overrides. */
const CHROMIUM = process.env.VMDR_CHROMIUM ?? "chromium-headless-shell";
/** Where the screenshot is left for a person to look at (not committed). */
const OUT = join(REPO_ROOT, "test-output", "report");

function chromium(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // As root Chromium runs only without its sandbox; the page is our own file, without scripts.
    const sandbox = process.getuid?.() === 0 ? ["--no-sandbox"] : [];
    execFile(CHROMIUM, [...sandbox, "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0", ...args], { timeout: 60_000, maxBuffer: 32 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${CHROMIUM} failed: ${err.message}\n${stderr}`)) : resolve({ stdout, stderr }),
    );
  });
}

/** What Chromium logs about the page itself: console messages, failed loads (not its own D-Bus or GPU chatter). */
const pageProblems = (stderr: string): string[] => stderr.split("\n").filter((l) => /CONSOLE|Uncaught|Page load failed|net::ERR_/.test(l));

describe("vmdr report -o html in a real browser", () => {
  it("loads with no console errors, draws the timeline the run recorded, and leaves a screenshot", async () => {
    const dir = await mkdtemp(join(tmpdir(), "vmdr-report-"));
    try {
      const { run, vms, relationships } = reportRun(40);
      const saved = join(dir, "run.json");
      await writeFile(saved, JSON.stringify({ apiVersion: "v1", kind: "List", items: [{ ...run, status: { ...run.status, vms } }, ...relationships] }));
      const cli = await runVmdr(["report", "-o", "html", "-f", saved, "test-hr"]);
      expect(cli.stderr).toBe("");
      expect(cli.code).toBe(0);
      await mkdir(OUT, { recursive: true });
      const page = join(OUT, "test-hr.html");
      await writeFile(page, cli.stdout);
      const url = pathToFileURL(page).href;

      const dom = await chromium(["--headless", `--user-data-dir=${join(dir, "profile-dom")}`, "--dump-dom", url]);
      expect(pageProblems(dom.stderr)).toEqual([]);
      expect(dom.stdout).toContain("<title>FailoverRun dr/test-hr: Test</title>");
      // The browser parsed one bar per step and per recorded VM phase into the SVG.
      const svg = dom.stdout.slice(dom.stdout.indexOf("<svg"), dom.stdout.indexOf("</svg>"));
      const phases = vms.reduce((n, v) => n + [v.registeredAt, v.configuredAt, v.poweredOnAt, v.readyAt].filter(Boolean).length, 0);
      expect((svg.match(/<rect /g) ?? []).length).toBe(run.status!.steps!.length + phases);
      expect(svg).toContain(`RTO ${run.status!.rtoSeconds!.toFixed(1)} s`);
      expect(dom.stdout).toContain("RPO 15m: met");

      const png = join(OUT, "test-hr.png");
      const shot = await chromium(["--headless", `--user-data-dir=${join(dir, "profile-shot")}`, "--window-size=1200,1500", `--screenshot=${png}`, url]);
      expect(pageProblems(shot.stderr)).toEqual([]);
      const image = await readFile(png);
      expect(image.subarray(1, 4).toString()).toBe("PNG");
      expect(image.readUInt32BE(16)).toBe(1200); // IHDR width
      console.log(`report screenshot: ${png}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
