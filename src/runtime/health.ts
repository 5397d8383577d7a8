import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

/** A named check; returns undefined when healthy, or why not. */
export interface Check {
  readonly name: string;
  check(): string | undefined;
}

export type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/** Parses "host:port", ":port" or "[::1]:port"; an empty host listens on every interface. */
export function parseBindAddress(addr: string): { host: string | undefined; port: number } {
  const i = addr.lastIndexOf(":");
  const host = addr.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  return { host: host === "" ? undefined : host, port: Number(addr.slice(i + 1)) };
}

/**
 * A small HTTP server for probes or metrics. Resolves once listening with the bound address
 * (port 0 picks a free port, which tests use).
 */
export async function serve(addr: string, routes: Record<string, Route>): Promise<{ server: http.Server; address: string }> {
  const { host, port } = parseBindAddress(addr);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const route = req.method === "GET" || req.method === "HEAD" ? routes[path] : undefined;
    if (!route) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    Promise.resolve(route(req, res)).catch(() => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("internal error\n");
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return { server, address: `${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}` };
}

/** /healthz or /readyz: 200 "ok" when every check passes, else 500 listing the failures. */
export function checksRoute(checks: () => readonly Check[]): Route {
  return (req, res) => {
    const failures = checks()
      .map((c) => ({ name: c.name, why: c.check() }))
      .filter((f) => f.why !== undefined);
    const verbose = (req.url ?? "").includes("verbose");
    if (failures.length === 0) {
      res.writeHead(200, { "content-type": "text/plain" }).end(verbose ? checks().map((c) => `[+]${c.name} ok\n`).join("") + "ok\n" : "ok\n");
      return;
    }
    res.writeHead(500, { "content-type": "text/plain" }).end(failures.map((f) => `[-]${f.name} failed: ${f.why}\n`).join(""));
  };
}

export function metricsRoute(register: Registry): Route {
  return async (_req, res) => {
    const body = await register.metrics();
    res.writeHead(200, { "content-type": register.contentType }).end(body);
  };
}
