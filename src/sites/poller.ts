import type { Site } from "../api/v1alpha1/site.js";
import { handleKey } from "../engine/types.js";
import type { Handle, PolledOp, Poller } from "../engine/types.js";
import { isFault } from "../vsphere/errors.js";
import { classifyVsphereError } from "../vsphere/errors.js";
import { moref } from "../vsphere/types.js";
import type { TaskState } from "../vsphere/tasks.js";
import type { SiteConnections } from "./connections.js";

/**
 * Polls the step engine's handles: every vCenter task of one Site in one getTasks round trip, ONTAP
 * jobs of one cluster concurrently (the API reads one job per call). A task or job the system no
 * longer knows is `unknown` (vCenter forgets finished tasks after a while, ONTAP after ~300 s): the
 * step then observes the object itself.
 */
export class SitePoller implements Poller {
  constructor(
    private readonly connections: SiteConnections,
    private readonly site: (name: string) => Site | undefined,
  ) {}

  async poll(handles: readonly Handle[], signal: AbortSignal): Promise<Map<string, PolledOp>> {
    const out = new Map<string, PolledOp>();
    const groups = new Map<string, Handle[]>();
    for (const h of handles) {
      const k = `${h.system}/${h.endpoint}`;
      groups.set(k, [...(groups.get(k) ?? []), h]);
    }
    await Promise.all(
      [...groups.values()].map(async (hs) => {
        const first = hs[0]!;
        const results = first.system === "vsphere" ? await this.tasks(first.endpoint, hs, signal) : await this.jobs(first.endpoint, hs, signal);
        for (const r of results) out.set(handleKey(r.handle), r);
      }),
    );
    return out;
  }

  private siteOf(name: string): Site {
    const s = this.site(name);
    if (!s) throw new Error(`Site ${name} no longer exists`);
    return s;
  }

  private async tasks(siteName: string, hs: readonly Handle[], signal: AbortSignal): Promise<PolledOp[]> {
    const client = await this.connections.vcenter(this.siteOf(siteName), signal);
    let states: (TaskState | undefined)[];
    try {
      states = await client.getTasks(hs.map((h) => moref("Task", h.id)), signal);
    } catch (err) {
      if (!isFault(err, "ManagedObjectNotFound")) throw err;
      // One of them is gone: ask one by one, so the others still get their answer.
      states = await Promise.all(
        hs.map((h) =>
          client.getTasks([moref("Task", h.id)], signal).then(
            (s) => s[0],
            (e: unknown) => {
              if (isFault(e, "ManagedObjectNotFound")) return undefined;
              throw e;
            },
          ),
        ),
      );
    }
    return hs.map((handle, i) => {
      const s = states[i];
      if (!s) return { handle, state: "unknown" };
      if (s.state === "success") return { handle, state: "success", result: s.result };
      if (s.state === "error") return { handle, state: "failure", error: classifyVsphereError(s.error, `vCenter task ${handle.id}`) };
      return { handle, state: "running" };
    });
  }

  private async jobs(endpoint: string, hs: readonly Handle[], signal: AbortSignal): Promise<PolledOp[]> {
    const [siteName, controller] = endpoint.split("/");
    const ontap = this.connections.ontapClient(this.siteOf(siteName ?? ""), controller || undefined);
    return Promise.all(
      hs.map(async (handle): Promise<PolledOp> => {
        const j = await ontap.getJob({ kind: "job", uuid: handle.id }, signal);
        if (j.state === "success") return { handle, state: "success" };
        if (j.state === "failure") return { handle, state: "failure", error: j.error ?? new Error(j.message ?? "ONTAP job failed") };
        if (j.state === "unknown") return { handle, state: "unknown" };
        return { handle, state: "running" }; // queued, running, paused
      }),
    );
  }
}
