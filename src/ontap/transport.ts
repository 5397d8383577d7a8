import type { JSONSchemaType } from "ajv";
import type { Logger } from "../log/logger.js";
import type { ExternalMetrics, ExternalOutcome } from "../metrics/external.js";
import { noExternalMetrics } from "../metrics/external.js";
import { HttpEndpoint, TransportError } from "../net/http.js";
import type { HttpResponse } from "../net/http.js";
import { PermanentError } from "../runtime/errors.js";
import type { ClusterInfo, OntapConnectionOptions, OntapVersion } from "./client.js";
import { classify, isNotFound, OntapApiError, OntapReason, unexpectedResponse } from "./errors.js";
import { DONE, jobRef } from "./jobs.js";
import type { Done, JobRef } from "./jobs.js";
import { clusterSchema, errorBodySchema, jobResponseSchema, SchemaRegistry } from "./schemas.js";
import type { Check } from "./schemas.js";

/**
 * The fixed set of request kinds, used as the `operation` label of the external-request metrics
 * (bounded: never a URL or a name).
 */
export type OntapOperation =
  | "cluster_get" | "job_get"
  | "relationship_list" | "relationship_get" | "relationship_create" | "relationship_patch" | "relationship_delete"
  | "transfer_create" | "transfer_patch" | "policy_list"
  | "volume_list" | "volume_create" | "volume_patch" | "volume_delete" | "snapshot_list"
  | "lun_list" | "lun_get" | "lun_patch" | "igroup_list" | "igroup_create" | "initiator_create"
  | "lunmap_list" | "lunmap_create" | "lunmap_delete"
  | "exportpolicy_list" | "exportpolicy_create" | "exportpolicy_delete" | "exportrule_create";

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Call {
  readonly op: OntapOperation;
  /** Lowercase fragment for error messages ("quiesce relationship"). */
  readonly what: string;
  readonly path: string;
  readonly query?: Query;
  readonly signal: AbortSignal;
}

export interface TransportDeps {
  readonly log?: Logger;
  readonly metrics?: ExternalMetrics;
}

/** Collections never page more than this; a server that keeps sending next links is broken. */
const MAX_PAGES = 10_000;

/**
 * The wire half of the ONTAP client: one HttpEndpoint (per-endpoint TLS trust, keep-alive,
 * deadline) with basic auth, JSON in and out, response validation, pagination, metrics and error
 * classification. Every method throws classified OperatorErrors. It never logs bodies or headers,
 * and holds the credentials only as the prepared Authorization header in a private field.
 */
export class OntapTransport {
  readonly origin: string;
  private readonly schemas = new SchemaRegistry();
  private readonly endpoint: HttpEndpoint;
  readonly #authorization: string;
  private readonly pageSize: number;
  private readonly log: Logger | undefined;
  private readonly metrics: ExternalMetrics;
  private cluster: Promise<ClusterInfo> | undefined;

  constructor(o: OntapConnectionOptions, deps: TransportDeps = {}) {
    let url: URL | undefined;
    try {
      url = new URL(o.url);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) {
      throw new PermanentError(`ontap connection: ${JSON.stringify(o.url)} is not an http(s) URL`, OntapReason.InvalidSpec);
    }
    this.endpoint = new HttpEndpoint(o.url, o.tls, { timeoutMs: o.timeoutMs ?? 30_000 });
    this.origin = this.endpoint.origin;
    this.#authorization = `Basic ${Buffer.from(`${o.username}:${o.password}`, "utf8").toString("base64")}`;
    this.pageSize = o.pageSize ?? 1000;
    this.log = deps.log;
    this.metrics = deps.metrics ?? noExternalMetrics;
  }

  /** GET of one object; undefined when ONTAP says it does not exist (404 / code 4). */
  async getOne<T>(c: Call, schema: JSONSchemaType<T>): Promise<T | undefined> {
    try {
      const res = await this.send("GET", c, undefined);
      return this.parse(c, "GET", res, schema);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** GET of a collection, following `_links.next` until the end; records in server order. */
  async list<T>(c: Call, record: JSONSchemaType<T>): Promise<T[]> {
    const check = this.schemas.checkCollection(record);
    const out: T[] = [];
    const seen = new Set<string>();
    let page: Call = { ...c, query: { ...c.query, max_records: this.pageSize } };
    for (let n = 0; n < MAX_PAGES; n++) {
      const res = await this.send("GET", page, undefined);
      const body = this.parse(page, "GET", res, check);
      out.push(...body.records);
      const next = body._links?.next?.href;
      // A next link can come with an empty page (docs/ontap-api.md §2): that is the end.
      if (!next || body.records.length === 0) return out;
      const target = this.nextLink(c, next);
      if (seen.has(target)) throw unexpectedResponse(c.what, `GET ${c.path}`, `next link ${target} repeats`);
      seen.add(target);
      page = { ...c, path: target, query: undefined };
    }
    throw unexpectedResponse(c.what, `GET ${c.path}`, `more than ${MAX_PAGES} pages`);
  }

  /**
   * POST/PATCH/DELETE of an asynchronous operation with return_timeout=0 (docs/ontap-api.md
   * §3): a JobRef for 202 {"job":…}; DONE when ONTAP finished synchronously (200/201, no job).
   * `returnTimeout: false` for endpoints that are synchronous in 9.8 but may answer with a job later.
   */
  async requestJob(c: Call, method: "POST" | "PATCH" | "DELETE", body?: unknown, o: { returnTimeout?: boolean } = {}): Promise<JobRef | Done> {
    // return_timeout only where the 9.8 API declares it (the asynchronous endpoints).
    const query = o.returnTimeout === false ? c.query : { ...c.query, return_timeout: 0 };
    const res = await this.send(method, { ...c, query }, body);
    const parsed = this.parse(c, method, res, jobResponseSchema);
    return parsed.job ? jobRef(parsed.job.uuid) : DONE;
  }

  /** A synchronous POST/PATCH/DELETE (201/200); the answer's headers for a Location. */
  async requestSync(c: Call, method: "POST" | "PATCH" | "DELETE", body?: unknown): Promise<HttpResponse> {
    return this.send(method, c, body);
  }

  /** The cluster's name, uuid and version, read once per transport; a failed read is retried on the next call. */
  clusterInfo(signal: AbortSignal): Promise<ClusterInfo> {
    if (!this.cluster) {
      const read = this.readCluster(signal);
      this.cluster = read;
      read.catch(() => {
        if (this.cluster === read) this.cluster = undefined;
      });
    }
    return this.cluster;
  }

  /** Reads the cluster now (a liveness probe) and remembers the answer for clusterInfo. */
  async probeCluster(signal: AbortSignal): Promise<ClusterInfo> {
    const info = await this.readCluster(signal);
    this.cluster = Promise.resolve(info);
    return info;
  }

  async clusterVersion(signal: AbortSignal): Promise<OntapVersion> {
    return (await this.clusterInfo(signal)).version;
  }

  /** GET /api/cluster (name, uuid, version). */
  private async readCluster(signal: AbortSignal): Promise<ClusterInfo> {
    const c: Call = { op: "cluster_get", what: "get cluster", path: "/api/cluster", query: { fields: "name,uuid,version" }, signal };
    const res = await this.send("GET", c, undefined);
    const body = this.parse(c, "GET", res, clusterSchema);
    return { name: body.name, uuid: body.uuid, version: { ...body.version } };
  }

  close(): void {
    this.endpoint.close();
  }

  private async send(method: "GET" | "POST" | "PATCH" | "DELETE", c: Call, body: unknown): Promise<HttpResponse> {
    const path = withQuery(c.path, c.query);
    const request = `${method} ${c.path}`;
    const headers: Record<string, string> = {
      authorization: this.#authorization,
      accept: "application/json",
      "user-agent": "vmdr",
    };
    let payload: string | undefined;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["content-type"] = "application/json";
    }
    const started = performance.now();
    let res: HttpResponse;
    try {
      res = await this.endpoint.request({ method, path, headers, body: payload, signal: c.signal });
    } catch (err) {
      const timedOut = err instanceof TransportError && (err.failure === "timeout" || err.failure === "aborted");
      this.observe(c.op, timedOut ? "timeout" : "unreachable", started);
      this.log?.debug({ method, path: c.path, err }, "Could not reach ONTAP");
      throw classify(err, c.what);
    }
    this.observe(c.op, outcomeOf(res.status), started);
    this.log?.debug({ method, path: c.path, status: res.status, ms: Math.round(performance.now() - started) }, "Called ONTAP");
    if (res.status >= 200 && res.status < 300) return res;
    throw classify(this.apiError(c, request, res), c.what);
  }

  /** Parses and validates a 2xx body; an empty body is `{}`. */
  private parse<T>(c: Call, method: string, res: HttpResponse, schema: JSONSchemaType<T> | Check<T>): T {
    const request = `${method} ${c.path}`;
    let data: unknown = {};
    if (res.body.length > 0) {
      try {
        data = JSON.parse(res.body.toString("utf8"));
      } catch (err) {
        const type = res.headers["content-type"] ?? "no content type";
        throw unexpectedResponse(c.what, request, `body is not JSON (${type}): ${err instanceof Error ? err.message.slice(0, 120) : String(err)}`);
      }
    }
    const checked = (typeof schema === "function" ? schema : this.schemas.check(schema))(data);
    if (!checked.ok) throw unexpectedResponse(c.what, request, checked.problem);
    return checked.value;
  }

  /** The OntapApiError for a non-2xx answer; a body that is not an ONTAP error is not quoted. */
  private apiError(c: Call, request: string, res: HttpResponse): OntapApiError {
    let parsed: unknown;
    try {
      parsed = res.body.length > 0 ? JSON.parse(res.body.toString("utf8")) : undefined;
    } catch {
      parsed = undefined;
    }
    const checked = this.schemas.check(errorBodySchema)(parsed);
    if (!checked.ok) {
      const type = res.headers["content-type"] ?? "no content type";
      return new OntapApiError({ statusCode: res.status, message: `no ONTAP error body (${type})`, request });
    }
    const e = checked.value.error;
    const code = e.code === undefined || e.code === null ? undefined : Number(e.code);
    return new OntapApiError({
      statusCode: res.status,
      code: code !== undefined && Number.isFinite(code) ? code : undefined,
      message: e.message,
      target: e.target ?? undefined,
      request,
    });
  }

  /** A next link is followed verbatim but only on this endpoint, below /api/. */
  private nextLink(c: Call, href: string): string {
    let url: URL;
    try {
      url = new URL(href, this.origin);
    } catch {
      throw unexpectedResponse(c.what, `GET ${c.path}`, `next link ${JSON.stringify(href.slice(0, 80))} is not a URL`);
    }
    if (url.origin !== this.origin || !url.pathname.startsWith("/api/")) {
      throw unexpectedResponse(c.what, `GET ${c.path}`, `next link ${JSON.stringify(href.slice(0, 80))} leaves ${this.origin}/api`);
    }
    return url.pathname + url.search;
  }

  private observe(op: OntapOperation, outcome: ExternalOutcome, started: number): void {
    this.metrics.observe("ontap", op, outcome, (performance.now() - started) / 1000);
  }
}

function outcomeOf(status: number): ExternalOutcome {
  if (status >= 200 && status < 400) return "ok";
  return status >= 500 ? "server_error" : "client_error";
}

/** Path plus an encoded query; undefined values are left out. */
export function withQuery(path: string, query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined) params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}${path.includes("?") ? "&" : "?"}${qs}` : path;
}

/**
 * A value for an ONTAP query filter. ONTAP reads `* | ! < > .. {} "` as query operators, so a
 * name containing one would match other objects: refuse it instead of guessing.
 */
export function filterValue(v: string, what: string): string {
  if (v === "" || /[*|!<>{}"]|\.\./.test(v) || /\s/.test(v)) {
    throw new PermanentError(`${what}: ${JSON.stringify(v)} is not a valid ONTAP name`, OntapReason.InvalidSpec);
  }
  return v;
}
