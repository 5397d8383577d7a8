import type { ExternalMetrics, ExternalOutcome } from "../../metrics/external.js";
import { HttpEndpoint, TransportError } from "../../net/http.js";
import type { EndpointTls } from "../../net/http.js";
import type { Clock } from "../../util/clock.js";
import { VimFault, VsphereProtocolError, decodeFault } from "../errors.js";
import { envelope } from "./builder.js";
import type { Xml } from "./builder.js";
import { XmlError, child, parseXml } from "./xml.js";
import type { XNode } from "./xml.js";
import type { MoRef } from "../types.js";

export interface SoapTransportOptions {
  readonly url: string; // vCenter base URL; /sdk is appended
  readonly tls: EndpointTls;
  readonly clock: Clock;
  readonly metrics: ExternalMetrics;
  readonly timeoutMs?: number;
  readonly maxSockets?: number;
}

/** The newest API version we speak; lowered to the server's at connect (SOAPAction). */
export const MAX_API_VERSION = "8.0.3.0";

/**
 * One HTTPS connection pool to a vCenter's /sdk endpoint, carrying the session cookie. It builds
 * envelopes, sends them with a timeout, and returns the method's response element or throws a
 * VimFault / TransportError / VsphereProtocolError. It never logs envelopes (Login carries a password).
 */
export class SoapTransport {
  private readonly http: HttpEndpoint;
  private readonly sdkPath: string;
  /** `vmware_soap_session=…`, exactly as the server set it. */
  cookie: string | undefined;
  apiVersion = MAX_API_VERSION;
  /** Bytes of response bodies received (for benchmarks). */
  bytesReceived = 0;

  constructor(private readonly o: SoapTransportOptions) {
    const base = new URL(o.url);
    this.sdkPath = `${base.pathname.replace(/\/+$/, "")}/sdk`;
    this.http = new HttpEndpoint(base.origin, o.tls, { timeoutMs: o.timeoutMs ?? 60_000, maxSockets: o.maxSockets ?? 16 });
  }

  /**
   * Calls `method` on `self` with params (already in WSDL order). `operation` labels the metric
   * (a fixed verb, never an id). Resolves with the <MethodResponse> element.
   */
  async call(method: string, self: MoRef, params: readonly Xml[], o: { signal?: AbortSignal; timeoutMs?: number; operation?: string } = {}): Promise<XNode> {
    const started = this.o.clock.monotonic();
    let outcome: ExternalOutcome = "ok";
    try {
      const headers: Record<string, string> = {
        "content-type": "text/xml; charset=utf-8",
        soapaction: `"urn:vim25/${this.apiVersion}"`,
      };
      if (this.cookie) headers.cookie = this.cookie;
      const res = await this.http.request({
        method: "POST",
        path: this.sdkPath,
        headers,
        body: envelope(method, self, params),
        signal: o.signal,
        timeoutMs: o.timeoutMs,
      });
      this.bytesReceived += res.body.length;
      const setCookie = res.headers["set-cookie"]?.find((c) => c.startsWith("vmware_soap_session="));
      if (setCookie) this.cookie = setCookie.split(";")[0];
      if (res.status >= 500) outcome = "server_error";
      else if (res.status >= 400) outcome = "client_error";
      return this.decode(method, res.status, res.body.toString("utf8"));
    } catch (err) {
      if (err instanceof TransportError) outcome = err.failure === "timeout" ? "timeout" : "unreachable";
      else if (err instanceof VimFault && outcome === "ok") outcome = "server_error";
      throw err;
    } finally {
      this.o.metrics.observe("vsphere", o.operation ?? method, outcome, (this.o.clock.monotonic() - started) / 1000);
    }
  }

  close(): void {
    this.http.close();
  }

  private decode(method: string, status: number, body: string): XNode {
    let root: XNode;
    try {
      root = parseXml(body);
    } catch (err) {
      throw new VsphereProtocolError(`${method}: HTTP ${status} with a body that is not XML (${err instanceof XmlError ? err.message : String(err)})`);
    }
    const soapBody = child(root, "Body");
    if (root.name !== "Envelope" || !soapBody) throw new VsphereProtocolError(`${method}: HTTP ${status} without a SOAP envelope`);
    const fault = child(soapBody, "Fault");
    if (fault) throw decodeFault(fault);
    const response = child(soapBody, `${method}Response`);
    if (!response) throw new VsphereProtocolError(`${method}: HTTP ${status} without a ${method}Response`);
    return response;
  }
}
