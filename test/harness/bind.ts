import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, Proc, REPO_ROOT, scratchDir } from "./processes.js";

const run = promisify(execFile);

/** A TSIG key the server knows: name, algorithm and base64 secret. */
export interface BindKey {
  readonly name: string;
  readonly algorithm: "hmac-sha256" | "hmac-sha512";
  readonly secret: string;
}

export interface BindZone {
  /** e.g. "site2.vmbook.lab", "1.1.30.in-addr.arpa", "64/28.1.1.30.in-addr.arpa". */
  readonly name: string;
  /** Zone-file lines after the SOA and NS, e.g. "app01 300 IN A 20.1.1.50". */
  readonly records?: readonly string[];
}

export interface BindOptions {
  readonly zones: readonly BindZone[];
}

const PACKAGES = ["bind9", "bind9-dnsutils"];

/** A program from Debian's bind9 packages, installed by hack/ensure-deb.sh when missing. */
function bindTool(name: "named" | "dig"): string {
  const candidates = [`/usr/sbin/${name}`, `/usr/bin/${name}`];
  let found = candidates.find((p) => existsSync(p));
  if (!found) {
    execFileSync(join(REPO_ROOT, "hack/ensure-deb.sh"), PACKAGES, { stdio: ["ignore", "inherit", "inherit"] });
    found = candidates.find((p) => existsSync(p));
  }
  if (!found) throw new Error(`${name} not found after installing ${PACKAGES.join(" ")}`);
  return found;
}

/**
 * A real BIND (`named` from Debian's bind9 package) on free loopback ports, primary for the given
 * zones, which accept dynamic updates of A records (forward zone) and PTR records (reverse
 * zones) signed by `key` (hmac-sha256) or `key512` (hmac-sha512).
 * `readOnlyKey` is known to the server but may not update anything. The statistics channel
 * counts the UPDATE messages the server received, independently of the client under test.
 */
export class Bind {
  readonly key: BindKey = { name: "vmdr-test", algorithm: "hmac-sha256", secret: randomBytes(32).toString("base64") };
  readonly key512: BindKey = { name: "vmdr-test-512", algorithm: "hmac-sha512", secret: randomBytes(64).toString("base64") };
  readonly readOnlyKey: BindKey = { name: "vmdr-reader", algorithm: "hmac-sha256", secret: randomBytes(32).toString("base64") };
  private proc: Proc | undefined;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly statsPort: number,
  ) {}

  static async start(o: BindOptions): Promise<Bind> {
    const named = bindTool("named");
    const b = new Bind(scratchDir("bind"), await freePort(), await freePort());
    b.writeConfig(o);
    await b.launch(named);
    return b;
  }

  private writeConfig(o: BindOptions): void {
    const d = this.dir;
    const keys = [this.key, this.key512, this.readOnlyKey].map((k) => `key "${k.name}" { algorithm ${k.algorithm}; secret "${k.secret}"; };`);
    const zones = o.zones.map((z, i) => {
      // The least privilege docs/dns.md recommends: A records in the forward zone, PTR in reverse zones.
      const type = z.name.endsWith(".in-addr.arpa") ? "PTR" : "A";
      const grants = `update-policy { grant ${this.key.name} zonesub ${type}; grant ${this.key512.name} zonesub ${type}; };`;
      const file = `zone${i}.db`;
      const soa = [
        "$TTL 300",
        `@ IN SOA ns1.${o.zones[0]!.name}. hostmaster.${o.zones[0]!.name}. 1 3600 600 86400 300`,
        `@ IN NS ns1.${o.zones[0]!.name}.`,
        ...(i === 0 ? ["ns1 IN A 127.0.0.1"] : []),
        ...(z.records ?? []),
      ];
      writeFileSync(join(d, file), `${soa.join("\n")}\n`);
      return `zone "${z.name}" { type primary; file "${join(d, file)}"; ${grants} };`;
    });
    const conf = [
      ...keys,
      "options {",
      `  directory "${d}";`,
      `  pid-file "${join(d, "named.pid")}";`,
      `  session-keyfile "${join(d, "session.key")}";`,
      `  managed-keys-directory "${d}";`,
      `  listen-on port ${this.port} { 127.0.0.1; };`,
      "  listen-on-v6 { none; };",
      "  recursion no;",
      "  dnssec-validation no;",
      "  notify no;",
      "};",
      "controls { };",
      `statistics-channels { inet 127.0.0.1 port ${this.statsPort} allow { 127.0.0.1; }; };`,
      "logging {",
      `  channel main { file "${join(d, "named.log")}"; print-time yes; print-category yes; severity info; };`,
      "  category default { main; }; category update { main; }; category update-security { main; }; category security { main; };",
      "};",
      ...zones,
    ];
    writeFileSync(join(d, "named.conf"), `${conf.join("\n")}\n`);
  }

  private async launch(named: string): Promise<void> {
    const log = join(this.dir, "named.log");
    rmSync(log, { force: true });
    // -f: foreground with the configured logging (the log tells when it is ready).
    this.proc = new Proc("named", named, ["-f", "-c", join(this.dir, "named.conf")], join(this.dir, "named.out"));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const text = existsSync(log) ? readFileSync(log, "utf8") : "";
      if (/\brunning\b/.test(text)) return;
      if (!this.proc.isAlive()) throw new Error(`named exited during start:\n${this.proc.tail()}\n${text.slice(-3000)}`);
      if (Date.now() > deadline) {
        await this.proc.kill();
        throw new Error(`named did not start in 30s:\n${text.slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** UPDATE messages the server has received since it started (its statistics channel). */
  async updatesReceived(): Promise<number> {
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port: this.statsPort, path: "/json/v1/server", timeout: 5000 }, (res) => {
          let s = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (s += c));
          res.on("end", () => resolve(s));
        })
        .on("error", reject);
    });
    const stats = JSON.parse(body) as { opcodes?: Record<string, number> };
    return stats.opcodes?.UPDATE ?? 0;
  }

  /** The records at `name` as `dig` (from bind9-dnsutils) reads them over TCP with the key: an independent path. */
  async dig(name: string, type: "A" | "PTR" | "SOA"): Promise<string[]> {
    const dig = bindTool("dig");
    const k = this.key;
    const { stdout } = await run(dig, ["+short", "+tcp", "+norecurse", "+time=5", "+tries=1", "-p", String(this.port), "-y", `${k.algorithm}:${k.name}:${k.secret}`, "@127.0.0.1", name, type]);
    return stdout.split("\n").filter((l) => l.trim() !== "").sort();
  }

  /**
   * Freezes the server (SIGSTOP): the kernel still accepts connections, nothing answers. Resolves
   * once the kernel shows the process stopped (a signal is delivered asynchronously: a query sent
   * right after kill() could still be answered).
   */
  async pause(): Promise<void> {
    const child = this.proc?.child;
    child?.kill("SIGSTOP");
    if (child?.pid === undefined) return;
    const stat = `/proc/${child.pid}/stat`;
    for (let i = 0; i < 500; i++) {
      // The state is the field after the parenthesised command name: "T" once stopped.
      if (/\) T /.test(readFileSync(stat, "utf8"))) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`named (pid ${child.pid}) did not stop after SIGSTOP`);
  }

  resume(): void {
    this.proc?.child.kill("SIGCONT");
  }

  async stop(): Promise<void> {
    this.resume();
    await this.proc?.stop(5_000);
  }

  /** Stops the server and removes its files. */
  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
