import http from "node:http";
import https from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import { deadline } from "../util/deadline.js";
import { KubeApiError } from "./errors.js";
import type { KubeStatus } from "./errors.js";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export const CONTENT_JSON = "application/json";
export const CONTENT_MERGE_PATCH = "application/merge-patch+json";
export const CONTENT_JSON_PATCH = "application/json-patch+json";

export interface RequestOptions {
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: unknown;
  readonly contentType?: string;
  /** Aborts the request; combined with the client's own per-request timeout. */
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

export interface KubeRestOptions {
  /** Upper bound for any single request (default 30 s). */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
}

/**
 * A small JSON client for the Kubernetes API. client-node parses the kubeconfig and supplies TLS
 * material and credentials (including exec/OIDC token refresh); we own the transport so that every
 * call has a timeout and an AbortSignal, connections are kept alive, patches carry the content type
 * we choose, and errors keep the server's message and status code (409 vs 422 vs 5xx matters).
 */
export class KubeRest {
  readonly server: URL;
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;
  private readonly userAgent: string;

  private constructor(
    private readonly kc: KubeConfig,
    server: URL,
    agent: http.Agent,
    o: KubeRestOptions,
  ) {
    this.server = server;
    this.agent = agent;
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.userAgent = o.userAgent ?? "vmdr";
  }

  /** Builds a client for the kubeconfig's current context. Throws on an unusable kubeconfig. */
  static async create(kc: KubeConfig, o: KubeRestOptions = {}): Promise<KubeRest> {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster (set current-context)");
    let server: URL;
    try {
      server = new URL(cluster.server);
    } catch {
      throw new Error(`kubeconfig cluster server "${cluster.server}" is not a URL`);
    }
    const tls: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(tls);
    const agent =
      server.protocol === "https:"
        ? new https.Agent({
            keepAlive: true,
            maxSockets: 32,
            ca: tls.ca,
            cert: tls.cert,
            key: tls.key,
            servername: tls.servername,
            rejectUnauthorized: tls.rejectUnauthorized ?? true,
          })
        : new http.Agent({ keepAlive: true, maxSockets: 32 });
    return new KubeRest(kc, server, agent, o);
  }

  /** Performs one request and parses the JSON answer. Non-2xx answers throw KubeApiError. */
  async request<T>(method: Method, path: string, o: RequestOptions = {}): Promise<T> {
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(o.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers = await this.authHeaders();
    headers["accept"] = CONTENT_JSON;
    headers["user-agent"] = this.userAgent;
    let payload: Buffer | undefined;
    if (o.body !== undefined) {
      payload = Buffer.from(JSON.stringify(o.body));
      headers["content-type"] = o.contentType ?? CONTENT_JSON;
      headers["content-length"] = String(payload.length);
    }
    const limit = deadline(o.signal, o.timeoutMs ?? this.timeoutMs);
    let statusCode: number;
    let body: Buffer;
    try {
      ({ statusCode, body } = await this.send(url, method, headers, payload, limit.signal));
    } finally {
      limit.release();
    }
    let parsed: unknown;
    try {
      parsed = body.length > 0 ? JSON.parse(body.toString("utf8")) : undefined;
    } catch {
      parsed = undefined;
    }
    if (statusCode < 200 || statusCode > 299) {
      const status = isStatus(parsed) ? parsed : undefined;
      const message = status?.message ?? `${method} ${url.pathname}: HTTP ${statusCode}`;
      throw new KubeApiError(statusCode, message, status);
    }
    return parsed as T;
  }

  /** Headers carrying the current credentials (refreshed per request for expiring tokens). */
  async authHeaders(): Promise<Record<string, string>> {
    const opts: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : String(v);
    }
    if (typeof opts.auth === "string" && !out["authorization"]) {
      out["authorization"] = `Basic ${Buffer.from(opts.auth).toString("base64")}`;
    }
    return out;
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  private send(
    url: URL,
    method: Method,
    headers: Record<string, string>,
    payload: Buffer | undefined,
    signal: AbortSignal,
  ): Promise<{ statusCode: number; body: Buffer }> {
    const mod = url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const fail = (err: unknown): void => {
        const reason = signal.aborted ? describeAbort(signal) : err instanceof Error ? err.message : String(err);
        reject(new KubeApiError(0, `${method} ${url.pathname}: ${reason}`, undefined, { cause: err }));
      };
      if (signal.aborted) {
        fail(signal.reason);
        return;
      }
      const req = mod.request(url, { method, headers, agent: this.agent, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on("error", fail);
      });
      req.on("error", fail);
      req.end(payload);
    });
  }
}

function describeAbort(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (r instanceof Error && r.name === "TimeoutError") return "request timed out";
  return "request aborted";
}

function isStatus(v: unknown): v is KubeStatus {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "Status";
}
