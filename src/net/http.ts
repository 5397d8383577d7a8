import http from "node:http";
import https from "node:https";
import { deadline } from "../util/deadline.js";

/** How to trust one endpoint's certificate (a Site's vCenter or ONTAP controller). */
export interface EndpointTls {
  /** PEM CA bundle; the system roots when absent. */
  readonly caBundle?: string;
  /** Skip verification for this endpoint only (never process-wide). */
  readonly insecureSkipVerify?: boolean;
}

/** Why a request got no HTTP answer. */
export type TransportFailure = "timeout" | "aborted" | "tls" | "unreachable" | "reset" | "protocol";

/**
 * A request that got no HTTP answer at all. `failure` says why, for classification and for
 * conditions (TLSVerificationFailed vs Unreachable); the message names the endpoint, never a body.
 */
export class TransportError extends Error {
  readonly failure: TransportFailure;
  readonly code: string | undefined;
  constructor(failure: TransportFailure, message: string, code?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TransportError";
    this.failure = failure;
    this.code = code;
  }
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface HttpRequest {
  readonly method: "GET" | "POST" | "PATCH" | "DELETE" | "PUT";
  /** Path and query, appended to the endpoint's origin. */
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  /** Refuse bodies larger than this (default 256 MiB) instead of exhausting memory. */
  readonly maxBodyBytes?: number;
}

const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
]);
const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "EADDRNOTAVAIL"]);
const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "UND_ERR_SOCKET"]);

/**
 * One HTTPS endpoint with its own trust settings and a keep-alive connection pool. TLS is verified
 * unless this endpoint opted out; the choice never leaks to other endpoints or to the process
 * (no NODE_TLS_REJECT_UNAUTHORIZED). Every request is bounded by a timeout and an AbortSignal.
 */
export class HttpEndpoint {
  readonly origin: string;
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;
  private readonly secure: boolean;

  constructor(baseUrl: string, tls: EndpointTls = {}, o: { timeoutMs?: number; maxSockets?: number } = {}) {
    const url = new URL(baseUrl);
    this.origin = url.origin;
    this.secure = url.protocol === "https:";
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.agent = this.secure
      ? new https.Agent({
          keepAlive: true,
          maxSockets: o.maxSockets ?? 16,
          ca: tls.caBundle ? tls.caBundle : undefined,
          rejectUnauthorized: !tls.insecureSkipVerify,
        })
      : new http.Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 16 });
  }

  /** Sends one request; resolves with any HTTP answer (status checks are the caller's), rejects with TransportError. */
  async request(r: HttpRequest): Promise<HttpResponse> {
    const limit = deadline(r.signal, r.timeoutMs ?? this.timeoutMs);
    try {
      return await this.send(r, limit.signal, r.timeoutMs ?? this.timeoutMs);
    } finally {
      limit.release();
    }
  }

  /** Closes pooled connections. */
  close(): void {
    this.agent.destroy();
  }

  private send(r: HttpRequest, signal: AbortSignal, timeoutMs: number): Promise<HttpResponse> {
    const mod = this.secure ? https : http;
    const url = new URL(r.path, this.origin);
    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    if (r.body !== undefined) headers["content-length"] = String(Buffer.byteLength(r.body));
    const max = r.maxBodyBytes ?? 256 * 1024 * 1024;
    return new Promise((resolve, reject) => {
      const fail = (err: unknown): void => reject(this.transportError(err, signal, timeoutMs, `${r.method} ${url.pathname}`));
      if (signal.aborted) {
        fail(signal.reason);
        return;
      }
      const req = mod.request(url, { method: r.method, headers, agent: this.agent, signal }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > max) {
            req.destroy(new TransportError("protocol", `${this.origin}: response larger than ${max} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", fail);
      });
      req.on("error", fail);
      req.end(r.body);
    });
  }

  private transportError(err: unknown, signal: AbortSignal, timeoutMs: number, what: string): TransportError {
    if (err instanceof TransportError) return err;
    const reason: unknown = signal.reason;
    if (signal.aborted) {
      if (reason instanceof Error && reason.name === "TimeoutError") {
        return new TransportError("timeout", `${this.origin}: ${what} timed out after ${timeoutMs}ms`, undefined, { cause: err });
      }
      return new TransportError("aborted", `${this.origin}: ${what} aborted`, undefined, { cause: err });
    }
    const code = (err as { code?: string }).code;
    const message = err instanceof Error ? err.message : String(err);
    if (code && TLS_CODES.has(code)) {
      return new TransportError("tls", `${this.origin}: TLS certificate verification failed: ${message}`, code, { cause: err });
    }
    if (code && UNREACHABLE_CODES.has(code)) return new TransportError("unreachable", `${this.origin}: ${message}`, code, { cause: err });
    if (code && RESET_CODES.has(code)) return new TransportError("reset", `${this.origin}: connection reset (${code})`, code, { cause: err });
    return new TransportError("protocol", `${this.origin}: ${message}`, code, { cause: err });
  }
}
