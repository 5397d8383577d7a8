import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { noExternalMetrics } from "../../../src/metrics/external.js";
import { systemClock } from "../../../src/util/clock.js";
import { SoapTransport } from "../../../src/vsphere/soap/transport.js";
import { VimFault, VsphereProtocolError, classifyVsphereError } from "../../../src/vsphere/errors.js";
import { VCENTER_CONNECTIONS, VsphereSession } from "../../../src/vsphere/session.js";
import { PermanentError } from "../../../src/runtime/errors.js";

let server: http.Server;
let url: string;
let reply: { status: number; body: string } = { status: 200, body: "" };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(reply.status, { "content-type": "text/xml" }).end(reply.body));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const transport = () => new SoapTransport({ url, tls: {}, clock: systemClock, metrics: noExternalMetrics, timeoutMs: 2_000 });
const call = () => transport().call("CurrentTime", { type: "ServiceInstance", value: "ServiceInstance" }, []);
const env = (b: string) => `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>${b}</soapenv:Body></soapenv:Envelope>`;

describe("SoapTransport with a misbehaving server", () => {
  it("turns a body that is not XML into a permanent protocol error naming the method", async () => {
    reply = { status: 200, body: "<html>Service Unavailable" };
    const err = await call().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VsphereProtocolError);
    expect((err as Error).message).toMatch(/^CurrentTime: HTTP 200 with a body that is not XML/);
    expect(classifyVsphereError(err, "read time")).toBeInstanceOf(PermanentError);
  });

  it("turns XML that is not a SOAP envelope, or lacks the response, into a protocol error", async () => {
    reply = { status: 200, body: "<ok/>" };
    await expect(call()).rejects.toThrow(/without a SOAP envelope/);
    reply = { status: 200, body: env("<SomethingElseResponse/>") };
    await expect(call()).rejects.toThrow(/without a CurrentTimeResponse/);
  });

  it("decodes a fault with no detail as a RuntimeFault carrying the faultstring", async () => {
    reply = { status: 500, body: env("<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>boom</faultstring></soapenv:Fault>") };
    const err = await call().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VimFault);
    expect((err as VimFault).faultType).toBe("RuntimeFault");
    expect((err as Error).message).toBe("RuntimeFault: boom");
  });

  it("fails to connect to a server whose service content is malformed with a clear error", async () => {
    reply = { status: 200, body: env('<RetrieveServiceContentResponse xmlns="urn:vim25"><returnval><about><version>8</version></about></returnval></RetrieveServiceContentResponse>') };
    await expect(VsphereSession.open({ url, username: "u", password: "p", tls: {} }, { clock: systemClock, metrics: noExternalMetrics, log: pino({ level: "silent" }) })).rejects.toThrow(
      /vCenter service content has no rootFolder/,
    );
  });
});

describe("SoapTransport concurrency", () => {
  it("has a run's 64 calls in flight at vCenter at once with the sessions' default connection count", async () => {
    let open = 0;
    let peak = 0;
    const held: (() => void)[] = [];
    const busy = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        open++;
        peak = Math.max(peak, open);
        const answer = (): void => {
          open--;
          res.writeHead(200, { "content-type": "text/xml" }).end(env("<CurrentTimeResponse><returnval>2026-01-01T00:00:00Z</returnval></CurrentTimeResponse>"));
        };
        held.push(answer);
        // Everyone waits until 64 are open (or the calls' timeout ends the test).
        if (open >= 64) for (const a of held.splice(0)) a();
      });
    });
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
    try {
      const t = new SoapTransport({ url: `http://127.0.0.1:${(busy.address() as AddressInfo).port}`, tls: {}, clock: systemClock, metrics: noExternalMetrics, timeoutMs: 5_000, maxSockets: VCENTER_CONNECTIONS });
      await Promise.all(Array.from({ length: 64 }, () => t.call("CurrentTime", { type: "ServiceInstance", value: "ServiceInstance" }, [])));
      expect(peak).toBe(64);
      t.close();
    } finally {
      for (const a of held.splice(0)) a();
      await new Promise<void>((r) => busy.close(() => r()));
    }
  });
});
