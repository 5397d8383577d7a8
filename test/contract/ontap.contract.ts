import http from "node:http";
import https from "node:https";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { expect, it } from "vitest";
import type { Logger } from "../../src/log/logger.js";
import { OperatorError, PermanentError, TransientError } from "../../src/runtime/errors.js";
import type { JobRef, JobStatus, OntapClient, OntapConnectionOptions, SnapMirrorRelationship, VolumePath } from "../../src/ontap/client.js";
import { classify, ontapCodeOf, OntapApiError, SNAPMIRROR_BREAK_FAILED, SNAPMIRROR_INVALID_STATE, SNAPMIRROR_INVALID_STATE_TRANSITION, SNAPMIRROR_STATE_CHANGE_NOT_POSSIBLE, SNAPMIRROR_TRANSFER_IN_PROGRESS } from "../../src/ontap/errors.js";
import { DONE, isJobRef } from "../../src/ontap/jobs.js";
import type { Done } from "../../src/ontap/jobs.js";
import { capturingLogger } from "../harness/logs.js";

/** The objects the suite works on, as the backend's topology names them. */
export interface OntapContractNames {
  /** The destination (recovery) cluster's SVM and the source cluster's SVM. */
  readonly svm: string;
  readonly sourceSvm: string;
  /** An initialized, snapmirrored relationship sourceVolume → destinationVolume whose volumes hold one LUN or more. */
  readonly sourceVolume: string;
  readonly destinationVolume: string;
  /** A replicable pair with no relationship: RW source, DP destination. */
  readonly spareSource: string;
  readonly spareDestination: string;
  /** An igroup on the destination cluster. */
  readonly igroup: string;
  /** The policy of the relationships. */
  readonly policy: string;
}

/** One fresh two-cluster world per test. */
export interface OntapContractWorld {
  /** Talks to the destination cluster. */
  readonly client: OntapClient;
  /** Talks to the source cluster. */
  readonly source: OntapClient;
  /** Makes the next job on that cluster whose "<METHOD> <path>" matches fail with code and message (`*` matches any run). */
  failNextJob(cluster: "source" | "destination", f: { method: "POST" | "PATCH" | "DELETE"; path: string; code: number; message: string }): Promise<void>;
  /** Lets backend time pass between two polls (a no-op for an in-memory fake). */
  tick(): Promise<void>;
}

const MAX_POLLS = 600;
const signal = (): AbortSignal => AbortSignal.timeout(30_000);

/** Polls a job to its end; fails the test when it never ends. */
export async function settle(w: OntapContractWorld, c: OntapClient, ref: JobRef | Done): Promise<JobStatus | Done> {
  if (!isJobRef(ref)) return ref;
  for (let i = 0; i < MAX_POLLS; i++) {
    const s = await c.getJob(ref, signal());
    if (s.state === "success" || s.state === "failure") return s;
    expect(s.state).not.toBe("unknown");
    await w.tick();
  }
  throw new Error(`job ${ref.uuid} did not finish`);
}

async function succeed(w: OntapContractWorld, c: OntapClient, ref: JobRef | Done): Promise<void> {
  const s = await settle(w, c, ref);
  if ("kind" in s) return;
  if (s.state !== "success") throw new Error(`job failed: ${s.error?.message ?? "?"}`);
}

/** Repeats a one-step-per-call verb (waiting out each job) until it answers DONE. */
async function converge(w: OntapContractWorld, c: OntapClient, step: () => Promise<JobRef | Done>): Promise<number> {
  for (let i = 0; i < 20; i++) {
    let ref: JobRef | Done;
    try {
      ref = await step();
    } catch (err) {
      if (err instanceof OperatorError && err.class === "Wait") {
        await w.tick();
        continue;
      }
      throw err;
    }
    if (!isJobRef(ref)) return i;
    await succeed(w, c, ref);
  }
  throw new Error("did not converge");
}

async function until(w: OntapContractWorld, probe: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < MAX_POLLS; i++) {
    if (await probe()) return;
    await w.tick();
  }
  throw new Error("condition never held");
}

const idle = (r: SnapMirrorRelationship | undefined): boolean => r !== undefined && r.transfer?.state !== "transferring" && r.transfer?.state !== "queued";

/** An action's classified error, whether ONTAP refused the request or accepted it and failed the job. */
async function failureOf(w: OntapContractWorld, c: OntapClient, act: () => Promise<JobRef | Done>): Promise<OperatorError> {
  let ref: JobRef | Done;
  try {
    ref = await act();
  } catch (err) {
    expect(err).toBeInstanceOf(OperatorError);
    return err as OperatorError;
  }
  const s = await settle(w, c, ref);
  expect((s as JobStatus).state).toBe("failure");
  return (s as JobStatus).error!;
}

/**
 * What every OntapClient must do for the controllers, run against the in-memory fake (unit tier)
 * and against the lab's ONTAP simulators through the REST client (integration tier), so the fake
 * cannot drift from the real behaviour.
 */
export function ontapContract(n: OntapContractNames, setup: () => Promise<OntapContractWorld>): void {
  const dst: VolumePath = { svm: n.svm, volume: n.destinationVolume };
  const src: VolumePath = { svm: n.sourceSvm, volume: n.sourceVolume };
  const dstVol = { svm: n.svm, name: n.destinationVolume };

  async function mirrored(w: OntapContractWorld): Promise<SnapMirrorRelationship> {
    const r = await w.client.findRelationship(dst, signal());
    expect(r).toBeDefined();
    return r!;
  }

  async function broken(w: OntapContractWorld): Promise<SnapMirrorRelationship> {
    const r = await mirrored(w);
    await converge(w, w.client, () => w.client.quiesce(r.uuid, signal()));
    await converge(w, w.client, () => w.client.breakOff(r.uuid, signal()));
    return r;
  }

  it("finds a relationship by its destination path, and nothing for another path", async () => {
    const w = await setup();
    const r = await mirrored(w);
    expect(r.source).toEqual(src);
    expect(r.destination).toEqual(dst);
    expect(r.state).toBe("snapmirrored");
    expect(r.healthy).toBe(true);
    expect(r.exportedSnapshot).toMatch(/^snapmirror\./);
    expect((await w.client.getRelationship(r.uuid, signal()))?.uuid).toBe(r.uuid);
    expect(await w.client.findRelationship({ svm: n.svm, volume: "no_such_volume" }, signal())).toBeUndefined();
    expect((await w.source.findRelationshipAtSource(dst, signal()))?.source).toEqual(src);
  });

  it("quiesces to paused with one job, after which quiesce is done without one", async () => {
    const w = await setup();
    const r = await mirrored(w);
    const ref = await w.client.quiesce(r.uuid, signal());
    expect(isJobRef(ref)).toBe(true);
    await succeed(w, w.client, ref);
    expect((await w.client.getRelationship(r.uuid, signal()))?.state).toBe("paused");
    expect(await w.client.quiesce(r.uuid, signal())).toEqual(DONE);
  });

  it("breaks off: the destination volume becomes writable, and a second break is done", async () => {
    const w = await setup();
    expect((await w.client.getVolume(dstVol, signal()))?.type).toBe("dp");
    const r = await broken(w);
    expect((await w.client.getRelationship(r.uuid, signal()))?.state).toBe("broken_off");
    expect((await w.client.getVolume(dstVol, signal()))?.type).toBe("rw");
    expect(await w.client.breakOff(r.uuid, signal())).toEqual(DONE);
  });

  it("refuses to resume a broken-off relationship and leaves it broken off", async () => {
    const w = await setup();
    const r = await broken(w);
    const err = await w.client.resume(r.uuid, signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).reason).toBe("InvalidStateTransition");
    expect((await w.client.getRelationship(r.uuid, signal()))?.state).toBe("broken_off");
  });

  it("resyncs a broken-off relationship back to snapmirrored and the destination back to DP", async () => {
    const w = await setup();
    const r = await broken(w);
    await converge(w, w.client, () => w.client.resync(r.uuid, signal()));
    await until(w, async () => {
      const now = await w.client.getRelationship(r.uuid, signal());
      return now?.state === "snapmirrored" && idle(now);
    });
    expect((await w.client.getVolume(dstVol, signal()))?.type).toBe("dp");
  });

  it("re-establishes replication in the reverse direction on the old source, the way its version supports", async () => {
    const w = await setup();
    const r = await broken(w);
    const caps = await w.client.getCapabilities(signal());
    if (caps.reverseInPlace) {
      await converge(w, w.client, () => w.client.reverse(r.uuid, signal()));
    } else {
      const err = await w.client.reverse(r.uuid, signal()).catch((e: unknown) => e);
      expect((err as PermanentError).reason).toBe("Unsupported");
    }
    const spec = { source: dst, destination: src, policy: n.policy };
    await converge(w, w.source, () => w.source.establishReverse(spec, signal()));
    await until(w, async () => {
      const back = await w.source.findRelationship(src, signal());
      return back?.state === "snapmirrored" && idle(back);
    });
    expect((await w.source.findRelationship(src, signal()))?.source).toEqual(dst);
    expect((await w.source.getVolume({ svm: n.sourceSvm, name: n.sourceVolume }, signal()))?.type).toBe("dp");
    expect(await w.source.establishReverse(spec, signal())).toEqual(DONE);
  });

  it("creates a relationship once, uninitialized, and refuses to break it with a documented code", async () => {
    const w = await setup();
    const spec = { source: { svm: n.sourceSvm, volume: n.spareSource }, destination: { svm: n.svm, volume: n.spareDestination }, policy: n.policy };
    await converge(w, w.client, () => w.client.createRelationship(spec, signal()));
    const r = await w.client.findRelationship(spec.destination, signal());
    expect(r?.state).toBe("uninitialized");
    expect(await w.client.createRelationship(spec, signal())).toEqual(DONE);
    const err = await failureOf(w, w.client, () => w.client.breakOff(r!.uuid, signal()));
    const code = ontapCodeOf(err);
    expect([SNAPMIRROR_INVALID_STATE_TRANSITION, SNAPMIRROR_INVALID_STATE, SNAPMIRROR_STATE_CHANGE_NOT_POSSIBLE, SNAPMIRROR_BREAK_FAILED]).toContain(code);
    expect(err.class).toBe(classify(new OntapApiError({ statusCode: 400, code, message: "", request: "" }), "x").class);
    expect((await w.client.getRelationship(r!.uuid, signal()))?.state).toBe("uninitialized");
    await converge(w, w.client, () => w.client.deleteRelationship(r!.uuid, "full", signal()));
    expect(await w.client.findRelationship(spec.destination, signal())).toBeUndefined();
  });

  it("surfaces a failed job with its code as a classified error and leaves the relationship as it was", async () => {
    const w = await setup();
    const r = await mirrored(w);
    await w.failNextJob("destination", { method: "PATCH", path: "/api/snapmirror/relationships/*", code: SNAPMIRROR_TRANSFER_IN_PROGRESS, message: "Another transfer is in progress." });
    const s = (await settle(w, w.client, await w.client.quiesce(r.uuid, signal()))) as JobStatus;
    expect(s.state).toBe("failure");
    expect(s.code).toBe(SNAPMIRROR_TRANSFER_IN_PROGRESS);
    expect(s.error?.class).toBe("Wait");
    expect(s.error?.reason).toBe("TransferInProgress");
    expect(ontapCodeOf(s.error)).toBe(SNAPMIRROR_TRANSFER_IN_PROGRESS);
    expect((await w.client.getRelationship(r.uuid, signal()))?.state).toBe("snapmirrored");
    expect((await w.client.getJob({ kind: "job", uuid: "00000000-0000-0000-0000-00000000dead" }, signal())).state).toBe("unknown");
  });

  it("clones the newest SnapMirror snapshot: LUNs online, unmapped, with new serials; production untouched", async () => {
    const w = await setup();
    const snap = await w.client.findNewestSnapMirrorSnapshot(dstVol, signal());
    expect(snap?.name).toMatch(/^snapmirror\./);
    const clone = { svm: n.svm, name: `${n.destinationVolume}_contract_clone` };
    const spec = { ...clone, parentVolume: n.destinationVolume, parentSnapshot: snap!.name };
    await converge(w, w.client, () => w.client.createFlexClone(spec, signal()));
    const vol = await w.client.getVolume(clone, signal());
    expect(vol?.type).toBe("rw");
    expect(vol?.clone).toMatchObject({ parentVolume: n.destinationVolume, parentSnapshot: snap!.name });
    const parentLuns = await w.client.listLuns(dstVol, signal());
    const luns = await w.client.listLuns(clone, signal());
    expect(luns.length).toBe(parentLuns.length);
    expect(luns.length).toBeGreaterThan(0);
    for (const l of luns) {
      expect(l.enabled).toBe(true);
      expect(l.maps).toEqual([]);
      expect(parentLuns.map((p) => p.serialNumber)).not.toContain(l.serialNumber);
    }
    expect(await w.client.createFlexClone(spec, signal())).toEqual(DONE);
    expect((await w.client.findRelationship(dst, signal()))?.state).toBe("snapmirrored");
    await converge(w, w.client, () => w.client.deleteClone(clone, signal()));
    expect(await w.client.getVolume(clone, signal())).toBeUndefined();
    const refused = await w.client.deleteClone(dstVol, signal()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PermanentError);
  });

  it("maps and unmaps a LUN idempotently", async () => {
    const w = await setup();
    const snap = await w.client.findNewestSnapMirrorSnapshot(dstVol, signal());
    const clone = { svm: n.svm, name: `${n.destinationVolume}_contract_map` };
    await converge(w, w.client, () => w.client.createFlexClone({ ...clone, parentVolume: n.destinationVolume, parentSnapshot: snap!.name }, signal()));
    const [lun] = await w.client.listLuns(clone, signal());
    const first = await w.client.mapLun({ svm: n.svm, lun: lun!.name, igroup: n.igroup }, signal());
    const again = await w.client.mapLun({ svm: n.svm, lun: lun!.name, igroup: n.igroup }, signal());
    expect(again).toEqual(first);
    expect(first.lunUuid).toBe(lun!.uuid);
    expect((await w.client.listLuns(clone, signal()))[0]?.maps).toEqual([{ igroup: n.igroup, igroupUuid: first.igroupUuid, logicalUnitNumber: first.logicalUnitNumber }]);
    expect(await w.client.unmapLun(first.lunUuid, first.igroupUuid, signal())).toEqual(DONE);
    expect(await w.client.unmapLun(first.lunUuid, first.igroupUuid, signal())).toEqual(DONE);
    expect((await w.client.listLuns(clone, signal()))[0]?.maps).toEqual([]);
    expect(await w.client.setLunEnabled(lun!.uuid, true, signal())).toEqual(DONE);
    await converge(w, w.client, () => w.client.setLunEnabled(lun!.uuid, false, signal()));
    expect((await w.client.listLuns(clone, signal()))[0]?.enabled).toBe(false);
  });

  it("deletes at the destination only, then releases at the source", async () => {
    const w = await setup();
    const r = await mirrored(w);
    const atSource = await w.source.findRelationshipAtSource(dst, signal());
    expect(atSource).toBeDefined();
    await converge(w, w.client, () => w.client.deleteRelationship(r.uuid, "destination_only", signal()));
    expect(await w.client.findRelationship(dst, signal())).toBeUndefined();
    expect(await w.client.deleteRelationship(r.uuid, "destination_only", signal())).toEqual(DONE);
    expect(await w.source.findRelationshipAtSource(dst, signal())).toBeDefined();
    await converge(w, w.source, () => w.source.release(atSource!.uuid, signal()));
    expect(await w.source.findRelationshipAtSource(dst, signal())).toBeUndefined();
  });
}

/** A reachable endpoint for the transport contract, with the CA that signs its certificate. */
export interface OntapEndpointFixture {
  /** Options that work: the right credentials and the CA bundle. */
  readonly options: OntapConnectionOptions;
  connect(o: OntapConnectionOptions, log: Logger): OntapClient;
}

/**
 * What the REST client must do at the transport level against a real HTTPS endpoint (a loopback
 * server in the unit tier, the lab in the integration tier).
 */
export function ontapTransportContract(setup: () => Promise<OntapEndpointFixture>): void {
  it("answers with the right credentials and the site's CA", async () => {
    const f = await setup();
    const c = f.connect(f.options, capturingLogger().log);
    try {
      const info = await c.getCluster(signal());
      expect(info.version.generation).toBeGreaterThanOrEqual(9);
    } finally {
      c.close();
    }
  });

  it("reports a wrong password as InvalidCredentials, with nothing secret in the error or the logs", async () => {
    const f = await setup();
    const logs = capturingLogger();
    const password = "wr0ng-Secret-Pw";
    const c = f.connect({ ...f.options, password }, logs.log);
    const err = await c.getCluster(signal()).catch((e: unknown) => e);
    c.close();
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).reason).toBe("InvalidCredentials");
    const basic = Buffer.from(`${f.options.username}:${password}`).toString("base64");
    const text = [JSON.stringify(logs.lines()), (err as Error).message, String((err as Error).cause)].join("\n");
    for (const secret of [password, basic, f.options.password]) expect(text).not.toContain(secret);
    expect(logs.lines().length).toBeGreaterThan(0);
  });

  it("refuses a certificate from an unknown CA unless this connection skips verification", async () => {
    const f = await setup();
    const strict = f.connect({ ...f.options, tls: {} }, capturingLogger().log);
    const err = await strict.getCluster(signal()).catch((e: unknown) => e);
    strict.close();
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).reason).toBe("TLSVerificationFailed");
    const lax = f.connect({ ...f.options, tls: { insecureSkipVerify: true } }, capturingLogger().log);
    expect((await lax.getCluster(signal())).name).toBeTruthy();
    lax.close();
  });

  it("reports an endpoint that never answers as transient, within the connection's timeout", async () => {
    const f = await setup();
    // Reads (so it notices the client hanging up) but never answers, not even the TLS handshake.
    const silent = net.createServer((sock) => sock.resume());
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const url = `https://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const c = f.connect({ ...f.options, url, timeoutMs: 300 }, capturingLogger().log);
    const started = performance.now();
    const err = await c.getCluster(signal()).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    c.close();
    await new Promise<void>((r) => silent.close(() => r()));
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).reason).toBe("OntapUnreachable");
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3_000);
  });

  it("reports a refused connection as transient", async () => {
    const f = await setup();
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const c = f.connect({ ...f.options, url: `https://127.0.0.1:${port}` }, capturingLogger().log);
    const err = await c.getCluster(signal()).catch((e: unknown) => e);
    c.close();
    expect(err).toBeInstanceOf(TransientError);
  });

  it("turns a malformed JSON answer into a permanent error that names the endpoint", async () => {
    const f = await setup();
    const proxy = await truncatingProxy(f.options);
    const c = f.connect({ ...f.options, url: proxy.url, tls: {} }, capturingLogger().log);
    const err = await c.getCluster(signal()).catch((e: unknown) => e);
    c.close();
    await proxy.close();
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).reason).toBe("UnexpectedResponse");
    expect((err as Error).message).toMatch(/^get cluster: unexpected ONTAP response to GET \/api\/cluster: body is not JSON/);
  });
}

/**
 * A plain-HTTP loopback proxy in front of the endpoint that forwards each request and cuts the
 * answer's body in half: whatever sits where ONTAP should be, the client must not trust it.
 */
async function truncatingProxy(o: OntapConnectionOptions): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(o.url);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const up = https.request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host }, ca: o.tls.caBundle, rejectUnauthorized: !o.tls.insecureSkipVerify },
        (upRes) => {
          const body: Buffer[] = [];
          upRes.on("data", (c: Buffer) => body.push(c));
          upRes.on("end", () => {
            const whole = Buffer.concat(body);
            res.writeHead(upRes.statusCode ?? 502, { "content-type": upRes.headers["content-type"] ?? "application/json" });
            res.end(whole.subarray(0, Math.floor(whole.length / 2)));
          });
        },
      );
      up.on("error", () => res.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
