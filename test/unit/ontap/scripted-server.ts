import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";

/** One request the server saw. */
export interface SeenRequest {
  readonly method: string;
  /** Path and query as sent. */
  readonly url: string;
  readonly pathname: string;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface Reply {
  readonly status?: number;
  /** An object is sent as JSON; a string as is. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

type Handler = (req: SeenRequest) => Reply | undefined;

/**
 * A loopback HTTP(S) server that answers from a script: `on(method, path, handler)` adds a route
 * (first match wins; a handler returning undefined passes). A request no route answers gets a 599
 * and is recorded in `unexpected`, so a test that forgets to script a call fails instead of passing
 * on a default.
 */
export class ScriptedServer {
  readonly seen: SeenRequest[] = [];
  readonly unexpected: string[] = [];
  private readonly routes: { method: string; path: string | RegExp; handler: Handler }[] = [];
  private server!: http.Server;
  url = "";

  static async start(tls?: { key: string; cert: string }): Promise<ScriptedServer> {
    const s = new ScriptedServer();
    const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => s.handle(req, res);
    s.server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, listener) : http.createServer(listener);
    await new Promise<void>((resolve) => s.server.listen(0, "127.0.0.1", resolve));
    const port = (s.server.address() as AddressInfo).port;
    s.url = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
    return s;
  }

  on(method: string, path: string | RegExp, handler: Handler | Reply): this {
    this.routes.push({ method, path, handler: typeof handler === "function" ? handler : () => handler });
    return this;
  }

  /** The requests with this method and path. */
  requests(method: string, path: string | RegExp): SeenRequest[] {
    return this.seen.filter((r) => r.method === method && matches(path, r.pathname));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const u = new URL(req.url ?? "/", "http://x");
      const seen: SeenRequest = {
        method: req.method ?? "", url: req.url ?? "", pathname: u.pathname, query: u.searchParams,
        headers: req.headers, body: Buffer.concat(chunks).toString("utf8"),
      };
      this.seen.push(seen);
      for (const r of this.routes) {
        if (r.method !== seen.method || !matches(r.path, seen.pathname)) continue;
        let reply: Reply | undefined;
        try {
          reply = r.handler(seen);
        } catch (err) {
          this.unexpected.push(`${seen.method} ${seen.url}: handler threw ${String(err)}`);
          break;
        }
        if (!reply) continue;
        const body = reply.body === undefined ? "" : typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
        res.writeHead(reply.status ?? 200, { "content-type": "application/json", ...reply.headers });
        res.end(body);
        return;
      }
      this.unexpected.push(`${seen.method} ${seen.url}`);
      res.writeHead(599, { "content-type": "text/plain" });
      res.end("unscripted request");
    });
  }
}

function matches(p: string | RegExp, pathname: string): boolean {
  return typeof p === "string" ? p === pathname : p.test(pathname);
}

/** GET /api/cluster for a given version. */
export function clusterReply(version: string): Reply {
  const [generation, major, minor] = version.split(".").map(Number);
  return {
    body: {
      name: "cluster2", uuid: "c2c2c2c2-0000-0000-0000-000000000002",
      version: { full: `NetApp Release ${version}: Mon Jan 04 12:00:00 UTC 2021`, generation, major, minor: minor ?? 0 },
    },
  };
}

/** A collection page. */
export const page = (records: unknown[], next?: string): Reply => ({
  body: { records, num_records: records.length, ...(next ? { _links: { next: { href: next } } } : {}) },
});

/** An ONTAP error answer. */
export const ontapError = (status: number, code: number, message: string, target?: string): Reply => ({
  status,
  body: { error: { message, code: String(code), ...(target ? { target } : {}) } },
});

export const job = (uuid: string): Reply => ({ status: 202, body: { job: { uuid, _links: { self: { href: `/api/cluster/jobs/${uuid}` } } } } });

/** A relationship record as a 9.8 cluster renders it. */
export function relRecord(o: { uuid?: string; src?: string; dst?: string; state?: string; transfer?: string; type?: string } = {}): Record<string, unknown> {
  return {
    uuid: o.uuid ?? "11111111-1111-1111-1111-111111111111",
    source: { path: o.src ?? "svm1:vol1" },
    destination: { path: o.dst ?? "svm2:vol1_SM" },
    policy: { name: "MirrorAllSnapshots", type: o.type ?? "async" },
    state: o.state ?? "snapmirrored",
    healthy: true,
    lag_time: "PT1H2M3S",
    exported_snapshot: "snapmirror.aaaa_2147484673.2026-11-25_060000",
    ...(o.transfer ? { transfer: { state: o.transfer, ...(o.transfer === "transferring" ? { uuid: "t-1" } : {}), bytes_transferred: 10 } } : {}),
  };
}
