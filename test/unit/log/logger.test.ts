import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../../src/log/logger.js";

function capture(): { lines: () => string; stream: Writable } {
  let out = "";
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  return { lines: () => out, stream };
}

describe("logger", () => {
  it("redacts passwords, tokens, cookies and auth headers wherever they appear", () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: "info", destination: stream });
    log.info(
      {
        password: "hunter2",
        site: { credentials: { username: "admin", password: "s3cr3t" } },
        headers: { authorization: "Basic YWRtaW46czNjcjN0", cookie: "vmware_soap_session=abc123" },
        session: { token: "tok-999" },
        username: "administrator@vsphere.local",
      },
      "Logged in to vCenter",
    );
    const out = lines();
    for (const secret of ["hunter2", "s3cr3t", "YWRtaW46czNjcjN0", "abc123", "tok-999"]) expect(out).not.toContain(secret);
    expect(out).toContain("administrator@vsphere.local");
    expect(out).toContain("[REDACTED]");
  });

  it("serializes errors without their bodies, headers or configs", () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: "info", destination: stream });
    const err = Object.assign(new Error("request failed"), {
      statusCode: 500,
      body: { password: "inbody" },
      headers: { authorization: "Bearer abc" },
      config: { headers: { cookie: "c=1" } },
    });
    log.warn({ err: new Error("outer", { cause: err }) }, "Could not reach ONTAP");
    const out = lines();
    expect(out).toContain("request failed");
    expect(out).toContain('"statusCode":500');
    for (const secret of ["inbody", "Bearer abc", "c=1"]) expect(out).not.toContain(secret);
  });
});
