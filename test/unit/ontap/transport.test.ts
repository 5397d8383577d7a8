import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ExternalMetrics } from "../../../src/metrics/external.js";
import { ConflictError, PermanentError, TransientError, WaitError } from "../../../src/runtime/errors.js";
import type { OntapClient } from "../../../src/ontap/client.js";
import { httpStatusOf, ontapCodeOf, SNAPMIRROR_TRANSFER_IN_PROGRESS } from "../../../src/ontap/errors.js";
import { DONE } from "../../../src/ontap/jobs.js";
import { createOntapClient } from "../../../src/ontap/rest.js";
import { capturingLogger } from "../../harness/logs.js";
import { clusterReply, job, ontapError, page, relRecord, ScriptedServer } from "./scripted-server.js";

const signal = (): AbortSignal => AbortSignal.timeout(5_000);
const PASSWORD = "s3cr3t-Pa55";
const dst = { svm: "svm2", volume: "vol1_SM" };

describe("ONTAP REST transport", () => {
  let server: ScriptedServer;
  let client: OntapClient;
  let logs: ReturnType<typeof capturingLogger>;
  let observed: { op: string; outcome: string }[];

  beforeEach(async () => {
    server = await ScriptedServer.start();
    server.on("GET", "/api/cluster", clusterReply("9.8.0"));
    logs = capturingLogger();
    observed = [];
    const metrics: ExternalMetrics = { observe: (_s, op, outcome) => observed.push({ op, outcome }) };
    client = createOntapClient({ url: server.url, username: "admin", password: PASSWORD, tls: {}, pageSize: 2 }, { log: logs.log, metrics });
  });
  afterEach(async () => {
    client.close();
    await server.close();
    expect(server.unexpected).toEqual([]);
  });

  it("sends basic auth and asks for plain JSON with the fields it reads", async () => {
    server.on("GET", "/api/snapmirror/relationships", page([relRecord()]));
    await client.findRelationship(dst, signal());
    const [req] = server.requests("GET", "/api/snapmirror/relationships");
    expect(req!.headers.authorization).toBe(`Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}`);
    expect(req!.headers.accept).toBe("application/json");
    expect(req!.query.get("destination.path")).toBe("svm2:vol1_SM");
    expect(req!.query.get("max_records")).toBe("2");
    expect(req!.query.get("fields")?.split(",")).toContain("exported_snapshot");
  });

  it("follows next links verbatim until a page comes without one", async () => {
    const lun = (n: number): Record<string, unknown> => ({
      uuid: `lun-${n}`, name: `/vol/v/l${n}`, svm: { name: "svm2" }, location: { volume: { name: "v" } }, serial_number: `serial${n}`, enabled: true,
    });
    server.on("GET", "/api/storage/luns", (r) => {
      const start = r.query.get("start.uuid");
      if (!start) return page([lun(1), lun(2)], "/api/storage/luns?start.uuid=lun-3&marker=kept");
      if (start === "lun-3" && r.query.get("marker") === "kept") return page([lun(3), lun(4)], "/api/storage/luns?start.uuid=lun-5");
      return start === "lun-5" ? page([lun(5)]) : undefined;
    });
    const luns = await client.listLuns({ svm: "svm2", name: "v" }, signal());
    expect(luns.map((l) => l.uuid)).toEqual(["lun-1", "lun-2", "lun-3", "lun-4", "lun-5"]);
    expect(server.requests("GET", "/api/storage/luns")).toHaveLength(3);
  });

  it("stops at an empty page even when ONTAP still sends a next link", async () => {
    server.on("GET", "/api/snapmirror/relationships", (r) =>
      r.query.get("start.uuid") ? page([], "/api/snapmirror/relationships?start.uuid=zzz") : page([relRecord()], "/api/snapmirror/relationships?start.uuid=x"));
    expect(await client.findRelationship(dst, signal())).toBeDefined();
    expect(server.requests("GET", "/api/snapmirror/relationships")).toHaveLength(2);
  });

  it("refuses a next link that leaves the endpoint, so credentials never go elsewhere", async () => {
    server.on("GET", "/api/snapmirror/relationships", page([relRecord()], "https://evil.example.com/api/snapmirror/relationships?x=1"));
    const err = await client.findRelationship(dst, signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toMatch(/^find relationship: unexpected ONTAP response to GET \/api\/snapmirror\/relationships: next link .* leaves/);
  });

  it("refuses a next link that repeats instead of looping forever", async () => {
    server.on("GET", "/api/snapmirror/relationships", page([relRecord()], "/api/snapmirror/relationships?start.uuid=same"));
    const err = await client.findRelationship(dst, signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toContain("repeats");
  });

  it("sends return_timeout=0 on asynchronous calls and returns the job as a handle", async () => {
    server.on("GET", "/api/snapmirror/relationships/r1", { body: relRecord({ uuid: "r1" }) });
    server.on("PATCH", "/api/snapmirror/relationships/r1", job("j-1"));
    const ref = await client.quiesce("r1", signal());
    expect(ref).toEqual({ kind: "job", uuid: "j-1" });
    const [patch] = server.requests("PATCH", "/api/snapmirror/relationships/r1");
    expect(patch!.query.get("return_timeout")).toBe("0");
    expect(patch!.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(patch!.body)).toEqual({ state: "paused" });
  });

  it("treats a 200 without a job as a finished operation", async () => {
    server.on("GET", "/api/snapmirror/relationships/r1", { body: relRecord({ uuid: "r1" }) });
    server.on("PATCH", "/api/snapmirror/relationships/r1", { status: 200, body: {} });
    expect(await client.quiesce("r1", signal())).toEqual(DONE);
  });

  it("classifies an ONTAP error body and keeps its code and status", async () => {
    server.on("POST", "/api/snapmirror/relationships/r1/transfers", ontapError(400, SNAPMIRROR_TRANSFER_IN_PROGRESS, "Another transfer is in progress."));
    const err = await client.update("r1", signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitError);
    expect((err as WaitError).reason).toBe("TransferInProgress");
    expect(ontapCodeOf(err)).toBe(SNAPMIRROR_TRANSFER_IN_PROGRESS);
    expect(httpStatusOf(err)).toBe(400);
    expect((err as Error).message).toBe(
      "update relationship: POST /api/snapmirror/relationships/r1/transfers: HTTP 400, ONTAP error 13303812: Another transfer is in progress.",
    );
  });

  it("turns a 2xx body that is not JSON into a permanent error naming the endpoint", async () => {
    server.on("GET", "/api/snapmirror/relationships", { body: "<html>gateway</html>", headers: { "content-type": "text/html" } });
    const err = await client.findRelationship(dst, signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).reason).toBe("UnexpectedResponse");
    expect((err as Error).message).toMatch(/^find relationship: unexpected ONTAP response to GET \/api\/snapmirror\/relationships: body is not JSON \(text\/html\)/);
  });

  it("turns a record of the wrong shape into a permanent error naming the field and the value", async () => {
    server.on("GET", "/api/snapmirror/relationships", page([{ ...relRecord(), state: "exploding" }]));
    const err = await client.findRelationship(dst, signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toBe(
      'find relationship: unexpected ONTAP response to GET /api/snapmirror/relationships: body/records/0/state must be equal to one of the allowed values (got "exploding")',
    );
  });

  it("names a missing required field", async () => {
    const { source: _drop, ...noSource } = relRecord();
    server.on("GET", "/api/snapmirror/relationships", page([noSource]));
    const err = await client.findRelationship(dst, signal()).catch((e: unknown) => e);
    expect((err as Error).message).toContain('body/records/0 must have property "source"');
  });

  it("maps 401 to InvalidCredentials without quoting the body, the header or the password", async () => {
    const bad = await ScriptedServer.start();
    bad.on("GET", "/api/cluster", { status: 401, body: `<html>401 Unauthorized ${PASSWORD}</html>`, headers: { "content-type": "text/html", "www-authenticate": 'Basic realm="x"' } });
    const c = createOntapClient({ url: bad.url, username: "admin", password: PASSWORD, tls: {} }, { log: logs.log });
    const err = await c.getCluster(signal()).catch((e: unknown) => e);
    c.close();
    await bad.close();
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).reason).toBe("InvalidCredentials");
    const basic = Buffer.from(`admin:${PASSWORD}`).toString("base64");
    for (const text of [JSON.stringify(logs.lines()), (err as Error).message, String((err as Error).cause)]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(basic);
    }
    expect(logs.lines().length).toBeGreaterThan(0);
  });

  it("classifies 5xx as transient, 404 on a getter as absent and a duplicate as a conflict", async () => {
    server.on("GET", "/api/snapmirror/relationships/gone", ontapError(404, 4, "entry doesn't exist", "uuid"));
    server.on("GET", "/api/snapmirror/relationships/boom", ontapError(500, 65562, "Internal error."));
    expect(await client.getRelationship("gone", signal())).toBeUndefined();
    expect(await client.getRelationship("boom", signal()).catch((e: unknown) => e)).toBeInstanceOf(TransientError);
    server.on("GET", "/api/protocols/san/lun-maps", page([]));
    server.on("POST", "/api/protocols/san/lun-maps", ontapError(409, 1, "duplicate entry"));
    const err = await client.mapLun({ svm: "svm2", lun: "/vol/v/l1", igroup: "ig" }, signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
  });

  it("reads the cluster version once per client and observes every call with a bounded operation label", async () => {
    server.on("GET", "/api/snapmirror/relationships", page([relRecord()]));
    await client.findRelationship(dst, signal());
    await client.findRelationship(dst, signal());
    expect(server.requests("GET", "/api/cluster")).toHaveLength(1);
    expect(observed).toEqual([
      { op: "cluster_get", outcome: "ok" },
      { op: "relationship_list", outcome: "ok" },
      { op: "relationship_list", outcome: "ok" },
    ]);
  });

  it("refuses names that the ONTAP query language would read as a pattern", async () => {
    const err = await client.getVolume({ svm: "svm2", name: "vol*" }, signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).reason).toBe("InvalidSpec");
    expect(server.seen).toHaveLength(0);
  });
});
