import { readFileSync, rmSync, existsSync } from "node:fs";
import { join } from "node:path";
import { Proc, scratchDir, toolPath } from "./processes.js";

export interface LabEndpoint {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly instanceUuid?: string;
  readonly cluster?: string;
  readonly svm?: string;
}

export interface LabSite {
  readonly datacenter: string;
  readonly vcenter: LabEndpoint;
  readonly ontap: LabEndpoint;
}

/** lab.json, as hack/lab writes it. */
export interface LabDescription {
  readonly control: string;
  readonly stateDir: string;
  readonly caFile: string;
  readonly untrustedCaFile: string;
  readonly sites: Readonly<Record<"site1" | "site2", LabSite>>;
}

export type SiteId = "site1" | "site2";

/** A VM to provision at a site through the control API (fields of hack/lab/internal/topology.VM). */
export interface LabVm {
  readonly name: string;
  readonly folder: string;
  readonly datastore: string;
  readonly resourcePool?: string;
  readonly portgroup?: string;
  readonly ip?: string;
  readonly poweredOn?: boolean;
}

/**
 * The two-site lab (hack/lab) as a child process: built by hack/ensure-tool.sh (cached), started
 * with its own state directory, driven through its control API. Each test file starts its own, so
 * the world every test sees is known.
 */
export class Lab {
  private constructor(
    private readonly proc: Proc,
    readonly desc: LabDescription,
    private readonly dir: string,
  ) {}

  static async start(args: readonly string[] = []): Promise<Lab> {
    const bin = toolPath("lab", "VMDR_LAB");
    const dir = scratchDir("lab");
    const proc = new Proc("lab", bin, ["--state-dir", dir, ...args], join(dir, "lab.log"));
    const file = join(dir, "lab.json");
    const deadline = Date.now() + 180_000;
    while (!existsSync(file)) {
      if (!proc.isAlive()) throw new Error(`the lab exited during start:\n${proc.tail()}`);
      if (Date.now() > deadline) {
        await proc.kill();
        throw new Error(`the lab did not become ready in 180s:\n${proc.tail()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return new Lab(proc, JSON.parse(readFileSync(file, "utf8")) as LabDescription, dir);
  }

  site(id: SiteId): LabSite {
    return this.desc.sites[id];
  }

  /** The lab CA's PEM, for Sites' caBundle and client TLS settings. */
  caPem(): string {
    return readFileSync(this.desc.caFile, "utf8");
  }

  /** A CA that did not sign the lab's certificates (to prove verification fails). */
  untrustedCaPem(): string {
    return readFileSync(this.desc.untrustedCaFile, "utf8");
  }

  /** Calls the control API; throws with the lab's error message on a non-2xx answer. */
  async control<T = unknown>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const res = await fetch(this.desc.control + path, {
      method,
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const json = (await res.json()) as T & { error?: string };
    if (!res.ok) throw new Error(`lab ${method} ${path}: ${json.error ?? res.status}`);
    return json;
  }

  advance(by: string): Promise<{ now: string }> {
    return this.control("POST", "/clock/advance", { by });
  }

  siteDown(site: SiteId, mode: "up" | "reset" | "hang"): Promise<unknown> {
    return this.control("POST", `/sites/${site}/down`, { mode });
  }

  vcenterDown(site: SiteId, mode: "up" | "reset" | "hang"): Promise<unknown> {
    return this.control("POST", `/sites/${site}/vcenter/down`, { mode });
  }

  ontapDown(site: SiteId, down: boolean): Promise<unknown> {
    return this.control("POST", `/sites/${site}/ontap/down`, { down });
  }

  cutLink(cut: boolean): Promise<unknown> {
    return this.control("POST", "/link", { cut });
  }

  restartVcenter(site: SiteId, outage = "500ms"): Promise<unknown> {
    return this.control("POST", `/sites/${site}/vcenter/restart`, { outage });
  }

  addVm(site: SiteId, vm: LabVm): Promise<{ ref: string }> {
    return this.control("POST", `/sites/${site}/vcenter/vms`, vm);
  }

  failNextJob(site: SiteId, f: { method: string; path: string; code: number; message: string; count?: number }): Promise<unknown> {
    return this.control("POST", `/sites/${site}/ontap/fail-next-job`, f);
  }

  /** The next task of the method (of `entity` only, when named) fails with the fault. */
  failNextTask(site: SiteId, method: string, fault: string, entity?: string): Promise<unknown> {
    return this.control("POST", `/sites/${site}/vcenter/fail-next-task`, { method, fault, ...(entity ? { entity } : {}) });
  }

  clearFaults(): Promise<unknown> {
    return this.control("POST", "/faults/clear", {});
  }

  vm<T = Record<string, unknown>>(site: SiteId, name: string): Promise<T> {
    return this.control("GET", `/truth/sites/${site}/vcenter/vms/${encodeURIComponent(name)}`);
  }

  relationship<T = Record<string, unknown>>(site: SiteId, destinationVolume: string): Promise<T> {
    return this.control("GET", `/truth/sites/${site}/ontap/relationships/${encodeURIComponent(destinationVolume)}`);
  }

  volume<T = Record<string, unknown>>(site: SiteId, name: string): Promise<T> {
    return this.control("GET", `/truth/sites/${site}/ontap/volumes/${encodeURIComponent(name)}`);
  }

  async stop(): Promise<void> {
    await this.proc.stop(10_000);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The lab's own log (for failure messages). */
  log(): string {
    return this.proc.tail(50);
  }
}
