import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PermanentError, TransientError, WaitError } from "../../../src/runtime/errors.js";
import type { OntapClient } from "../../../src/ontap/client.js";
import { ontapCodeOf } from "../../../src/ontap/errors.js";
import { DONE } from "../../../src/ontap/jobs.js";
import { createOntapClient } from "../../../src/ontap/rest.js";
import { clusterReply, job, ontapError, page, relRecord, ScriptedServer } from "./scripted-server.js";

const signal = (): AbortSignal => AbortSignal.timeout(5_000);
const REL = "/api/snapmirror/relationships";

function start(version: string): { server: () => ScriptedServer; client: () => OntapClient } {
  let server: ScriptedServer;
  let client: OntapClient;
  beforeEach(async () => {
    server = await ScriptedServer.start();
    server.on("GET", "/api/cluster", clusterReply(version));
    client = createOntapClient({ url: server.url, username: "admin", password: "pw", tls: {} });
  });
  afterEach(async () => {
    client.close();
    await server.close();
    expect(server.unexpected).toEqual([]);
  });
  return { server: () => server, client: () => client };
}

describe("SnapMirror verbs on ONTAP 9.8", () => {
  const { server, client } = start("9.8.0");
  const relAt = (state: string, transfer?: string): void => {
    server().on("GET", `${REL}/r1`, { body: relRecord({ uuid: "r1", state, transfer }) });
  };

  it("asks 9.8 for no field it does not have", async () => {
    relAt("snapmirrored");
    await client().getRelationship("r1", signal());
    const fields = server().requests("GET", `${REL}/r1`)[0]!.query.get("fields")!.split(",");
    expect(fields).not.toContain("transfer.end_time");
    expect(fields).not.toContain("last_transfer_type");
  });

  it("reads lag, transfer and health into the domain shape", async () => {
    relAt("snapmirrored", "transferring");
    const r = await client().getRelationship("r1", signal());
    expect(r).toMatchObject({
      uuid: "r1", source: { svm: "svm1", volume: "vol1" }, destination: { svm: "svm2", volume: "vol1_SM" }, state: "snapmirrored",
      healthy: true, lagTimeSeconds: 3723, transfer: { uuid: "t-1", state: "transferring", bytesTransferred: 10 }, policy: { type: "async" },
    });
  });

  it("does not PATCH a relationship that is already in the requested state", async () => {
    relAt("paused");
    expect(await client().quiesce("r1", signal())).toEqual(DONE);
    server().on("GET", `${REL}/r2`, { body: relRecord({ uuid: "r2", state: "broken_off" }) });
    expect(await client().breakOff("r2", signal())).toEqual(DONE);
    server().on("GET", `${REL}/r3`, { body: relRecord({ uuid: "r3", state: "snapmirrored" }) });
    expect(await client().resync("r3", signal())).toEqual(DONE);
    expect(await client().resume("r3", signal())).toEqual(DONE);
    expect(await client().initialize("r3", signal())).toEqual(DONE);
    expect(server().seen.filter((r) => r.method !== "GET")).toEqual([]);
  });

  it("refuses to resume a broken-off relationship, which would resync and discard the destination's writes", async () => {
    relAt("broken_off");
    const err = await client().resume("r1", signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).reason).toBe("InvalidStateTransition");
    expect((err as Error).message).toMatch(/^resume relationship: relationship svm2:vol1_SM is broken_off; .*use resync/);
    expect(server().requests("PATCH", `${REL}/r1`)).toHaveLength(0);
  });

  it("refuses to initialize a relationship that is not uninitialized", async () => {
    relAt("broken_off");
    expect(await client().initialize("r1", signal()).catch((e: unknown) => e)).toBeInstanceOf(PermanentError);
    expect(server().requests("PATCH", `${REL}/r1`)).toHaveLength(0);
  });

  it("waits instead of breaking while a transfer runs", async () => {
    relAt("paused", "transferring");
    const err = await client().breakOff("r1", signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitError);
    expect((err as WaitError).reason).toBe("TransferInProgress");
    expect(server().requests("PATCH", `${REL}/r1`)).toHaveLength(0);
  });

  it("breaks and resyncs with the state the policy type calls for", async () => {
    server().on("GET", `${REL}/s1`, { body: relRecord({ uuid: "s1", state: "broken_off", type: "sync" }) });
    server().on("PATCH", `${REL}/s1`, job("j-sync"));
    expect(await client().resync("s1", signal())).toEqual({ kind: "job", uuid: "j-sync" });
    expect(JSON.parse(server().requests("PATCH", `${REL}/s1`)[0]!.body)).toEqual({ state: "in_sync" });
  });

  it("lets the server's code surface for a transition it refuses", async () => {
    relAt("uninitialized");
    server().on("PATCH", `${REL}/r1`, ontapError(400, 13303818, "Invalid state transition requested.", "state"));
    const err = await client().breakOff("r1", signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(ontapCodeOf(err)).toBe(13303818);
  });

  it("refuses the in-place reverse before 9.9.1 without touching the relationship", async () => {
    const err = await client().reverse("r1", signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).reason).toBe("Unsupported");
    expect((err as Error).message).toContain("ONTAP 9.8.0 cannot reverse a relationship in place (needs 9.9.1)");
    expect(server().seen.filter((r) => r.pathname.startsWith(REL))).toEqual([]);
  });

  it("establishes the reverse relationship the 9.8 way: create, then resync, then done", async () => {
    const spec = { source: { svm: "svm2", volume: "vol1_SM" }, destination: { svm: "svm1", volume: "vol1" }, policy: "MirrorAllSnapshots" };
    let state: string | undefined;
    server().on("GET", REL, () => page(state ? [relRecord({ uuid: "rev", src: "svm2:vol1_SM", dst: "svm1:vol1", state })] : []));
    server().on("POST", REL, () => ((state = "broken_off"), job("j-create")));
    server().on("PATCH", `${REL}/rev`, () => ((state = "snapmirrored"), job("j-resync")));
    expect(await client().establishReverse(spec, signal())).toEqual({ kind: "job", uuid: "j-create" });
    expect(JSON.parse(server().requests("POST", REL)[0]!.body)).toEqual({
      source: { path: "svm2:vol1_SM" }, destination: { path: "svm1:vol1" }, policy: { name: "MirrorAllSnapshots" },
    });
    expect(await client().establishReverse(spec, signal())).toEqual({ kind: "job", uuid: "j-resync" });
    expect(JSON.parse(server().requests("PATCH", `${REL}/rev`)[0]!.body)).toEqual({ state: "snapmirrored" });
    expect(await client().establishReverse(spec, signal())).toEqual(DONE);
    expect(server().requests("POST", REL)).toHaveLength(1);
  });

  it("refuses to create over a destination that replicates from another source", async () => {
    server().on("GET", REL, page([relRecord({ src: "svm9:other" })]));
    const err = await client().createRelationship({ source: { svm: "svm1", volume: "vol1" }, destination: { svm: "svm2", volume: "vol1_SM" } }, signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toBe("create relationship: svm2:vol1_SM already replicates from svm9:other, not svm1:vol1");
  });

  it("treats a duplicate answer to create as success once the same relationship is visible", async () => {
    let calls = 0;
    server().on("GET", REL, () => page(calls++ === 0 ? [] : [relRecord()]));
    server().on("POST", REL, ontapError(409, 6619637, "Relationship with destination already exists"));
    expect(await client().createRelationship({ source: { svm: "svm1", volume: "vol1" }, destination: { svm: "svm2", volume: "vol1_SM" } }, signal())).toEqual(DONE);
  });

  it("deletes with exactly one scope flag and treats a missing relationship as deleted", async () => {
    server().on("DELETE", `${REL}/r1`, job("j-del"));
    server().on("DELETE", `${REL}/gone`, ontapError(404, 4, "entry doesn't exist", "uuid"));
    expect(await client().deleteRelationship("r1", "destination_only", signal())).toEqual({ kind: "job", uuid: "j-del" });
    expect(await client().release("r1", signal())).toEqual({ kind: "job", uuid: "j-del" });
    expect(await client().deleteRelationship("gone", "full", signal())).toEqual(DONE);
    const [a, b, c] = server().requests("DELETE", /^\/api\/snapmirror\/relationships\//).map((r) => Object.fromEntries(r.query));
    expect(a).toEqual({ destination_only: "true", return_timeout: "0" });
    expect(b).toEqual({ source_only: "true", return_timeout: "0" });
    expect(c).toEqual({ return_timeout: "0" });
  });

  it("finds the source cluster's record with list_destinations_only", async () => {
    server().on("GET", REL, (r) => (r.query.get("list_destinations_only") === "true" ? page([relRecord()]) : page([])));
    expect(await client().findRelationship({ svm: "svm2", volume: "vol1_SM" }, signal())).toBeUndefined();
    expect((await client().findRelationshipAtSource({ svm: "svm2", volume: "vol1_SM" }, signal()))?.uuid).toBe("11111111-1111-1111-1111-111111111111");
  });

  it("names the transfer an update started from the Location header", async () => {
    server().on("POST", `${REL}/r1/transfers`, { status: 201, body: {}, headers: { location: `${REL}/r1/transfers/t-9` } });
    expect(await client().update("r1", signal())).toEqual({ kind: "transfer", relationshipUuid: "r1", uuid: "t-9" });
  });

  it("reports a job ONTAP no longer knows as unknown", async () => {
    server().on("GET", "/api/cluster/jobs/old", ontapError(404, 4, "entry doesn't exist", "uuid"));
    expect(await client().getJob({ kind: "job", uuid: "old" }, signal())).toEqual({ uuid: "old", state: "unknown" });
  });
});

describe("SnapMirror verbs on ONTAP 9.9.1", () => {
  const { server, client } = start("9.9.1");

  it("asks for the transfer end time", async () => {
    server().on("GET", `${REL}/r1`, { body: { ...relRecord({ uuid: "r1" }), transfer: { state: "success", end_time: "2026-11-25T06:00:00+00:00", total_duration: "PT28M41S" } } });
    const r = await client().getRelationship("r1", signal());
    expect(server().requests("GET", `${REL}/r1`)[0]!.query.get("fields")).toContain("transfer.end_time");
    expect(r?.transfer).toEqual({ state: "success", endTime: "2026-11-25T06:00:00+00:00", totalDurationSeconds: 1721, bytesTransferred: undefined, uuid: undefined });
  });

  it("reverses in place with swapped paths, then sees it done from the new source side", async () => {
    let reversed = false;
    server().on("GET", REL, (r) => {
      const atSource = r.query.get("list_destinations_only") === "true";
      return page(reversed === atSource ? [relRecord({ uuid: "r1", state: "broken_off" })] : []);
    });
    server().on("PATCH", `${REL}/r1`, () => ((reversed = true), job("j-rev")));
    expect(await client().reverse("r1", signal())).toEqual({ kind: "job", uuid: "j-rev" });
    expect(JSON.parse(server().requests("PATCH", `${REL}/r1`)[0]!.body)).toEqual({
      source: { path: "svm2:vol1_SM" }, destination: { path: "svm1:vol1" }, state: "snapmirrored",
    });
    expect(await client().reverse("r1", signal())).toEqual(DONE);
    expect(server().requests("PATCH", `${REL}/r1`)).toHaveLength(1);
  });
});

describe("volume, clone and SAN verbs", () => {
  const { server, client } = start("9.8.0");
  const volume = (o: Record<string, unknown> = {}): Record<string, unknown> => ({
    uuid: "v-1", name: "vol1_clone", svm: { name: "svm2" }, type: "rw", state: "online", ...o,
  });

  it("sees an existing identical FlexClone as done and a different one as a conflict", async () => {
    const spec = { svm: "svm2", name: "vol1_clone", parentVolume: "vol1_SM", parentSnapshot: "snapmirror.x_1.2026" };
    server().on("GET", "/api/storage/volumes", page([volume({ clone: { is_flexclone: true, parent_volume: { name: "vol1_SM" }, parent_snapshot: { name: "snapmirror.x_1.2026" } } })]));
    expect(await client().createFlexClone(spec, signal())).toEqual(DONE);
    const err = await client().createFlexClone({ ...spec, parentSnapshot: "other" }, signal()).catch((e: unknown) => e);
    expect((err as Error).message).toBe("create flexclone: volume svm2:vol1_clone exists and is a FlexClone of vol1_SM@snapmirror.x_1.2026");
    expect(server().requests("POST", "/api/storage/volumes")).toHaveLength(0);
  });

  it("creates a FlexClone from the named snapshot, with no space guarantee", async () => {
    server().on("GET", "/api/storage/volumes", page([]));
    server().on("POST", "/api/storage/volumes", job("j-clone"));
    const spec = { svm: "svm2", name: "vol1_clone", parentVolume: "vol1_SM", parentSnapshot: "snap", junctionPath: "/vol1_clone" };
    expect(await client().createFlexClone(spec, signal())).toEqual({ kind: "job", uuid: "j-clone" });
    expect(JSON.parse(server().requests("POST", "/api/storage/volumes")[0]!.body)).toEqual({
      name: "vol1_clone", svm: { name: "svm2" }, nas: { path: "/vol1_clone" },
      clone: { is_flexclone: true, parent_volume: { name: "vol1_SM" }, parent_snapshot: { name: "snap" } },
      guarantee: { type: "none" },
    });
  });

  it("refuses to delete a volume that is not a FlexClone through deleteClone", async () => {
    server().on("GET", "/api/storage/volumes", page([volume({ clone: { is_flexclone: false } })]));
    const err = await client().deleteClone({ svm: "svm2", name: "vol1_clone" }, signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(server().requests("DELETE", /storage\/volumes/)).toHaveLength(0);
  });

  it("unmounts a mounted clone before deleting it, one step per call", async () => {
    let mounted = true;
    server().on("GET", "/api/storage/volumes", () => page([volume({ clone: { is_flexclone: true }, nas: mounted ? { path: "/c" } : {} })]));
    server().on("PATCH", "/api/storage/volumes/v-1", () => ((mounted = false), job("j-unmount")));
    server().on("DELETE", "/api/storage/volumes/v-1", job("j-delete"));
    expect(await client().deleteClone({ svm: "svm2", name: "vol1_clone" }, signal())).toEqual({ kind: "job", uuid: "j-unmount" });
    expect(JSON.parse(server().requests("PATCH", "/api/storage/volumes/v-1")[0]!.body)).toEqual({ nas: { path: "" } });
    expect(await client().deleteClone({ svm: "svm2", name: "vol1_clone" }, signal())).toEqual({ kind: "job", uuid: "j-delete" });
  });

  it("picks the newest SnapMirror snapshot by create time", async () => {
    server().on("GET", "/api/storage/volumes", page([volume()]));
    server().on("GET", "/api/storage/volumes/v-1/snapshots", page([
      { uuid: "s2", name: "snapmirror.a_1.2026-11-25_070000", create_time: "2026-11-25T07:00:00+00:00" },
      { uuid: "s3", name: "hourly.2026-11-25_0805", create_time: "2026-11-25T08:05:00+00:00" },
      { uuid: "s1", name: "snapmirror.a_1.2026-11-25_060000", create_time: "2026-11-25T06:00:00+00:00" },
    ]));
    expect((await client().findNewestSnapMirrorSnapshot({ svm: "svm2", name: "vol1_clone" }, signal()))?.uuid).toBe("s2");
  });

  it("treats an already mapped LUN as mapped and a missing map as unmapped", async () => {
    let mapped = false;
    const map = { lun: { uuid: "l-1", name: "/vol/v/l" }, igroup: { uuid: "g-1", name: "ig" }, logical_unit_number: 3 };
    server().on("GET", "/api/protocols/san/lun-maps", () => page(mapped ? [map] : []));
    server().on("POST", "/api/protocols/san/lun-maps", () => ((mapped = true), ontapError(409, 1254207, "The LUN is already mapped to the same initiator group.")));
    server().on("DELETE", "/api/protocols/san/lun-maps/l-1/g-1", ontapError(404, 5374922, "The specified LUN map does not exist."));
    expect(await client().mapLun({ svm: "svm2", lun: "/vol/v/l", igroup: "ig" }, signal())).toEqual({ lunUuid: "l-1", lun: "/vol/v/l", igroupUuid: "g-1", igroup: "ig", logicalUnitNumber: 3 });
    expect(await client().unmapLun("l-1", "g-1", signal())).toEqual(DONE);
  });

  it("switches a LUN with enabled, without return_timeout (synchronous in 9.8)", async () => {
    const lun = { uuid: "l-1", name: "/vol/v/l", svm: { name: "svm2" }, location: { volume: { name: "v" } }, serial_number: "abc", enabled: false };
    server().on("GET", "/api/storage/luns/l-1", { body: lun });
    server().on("PATCH", "/api/storage/luns/l-1", { status: 200, body: {} });
    expect(await client().setLunEnabled("l-1", false, signal())).toEqual(DONE);
    expect(server().requests("PATCH", "/api/storage/luns/l-1")).toHaveLength(0);
    expect(await client().setLunEnabled("l-1", true, signal())).toEqual(DONE);
    const [p] = server().requests("PATCH", "/api/storage/luns/l-1");
    expect(JSON.parse(p!.body)).toEqual({ enabled: true });
    expect(p!.query.has("return_timeout")).toBe(false);
  });

  it("adds only the initiators an igroup lacks", async () => {
    server().on("GET", "/api/protocols/san/igroups", page([{ uuid: "g-1", name: "ig", svm: { name: "svm2" }, os_type: "vmware", initiators: [{ name: "20:00:00:00:00:00:00:01" }] }]));
    server().on("POST", "/api/protocols/san/igroups/g-1/initiators", { status: 201, body: {} });
    await client().addInitiators("svm2", "ig", ["20:00:00:00:00:00:00:01", "20:00:00:00:00:00:00:02"], signal());
    expect(JSON.parse(server().requests("POST", "/api/protocols/san/igroups/g-1/initiators")[0]!.body)).toEqual({ records: [{ name: "20:00:00:00:00:00:00:02" }] });
    expect(await client().addInitiators("svm2", "ig", ["20:00:00:00:00:00:00:01"], signal())).toEqual(DONE);
    expect(server().requests("POST", "/api/protocols/san/igroups/g-1/initiators")).toHaveLength(1);
  });

  it("says a volume that does not exist yet is a prerequisite to wait for", async () => {
    server().on("GET", "/api/storage/volumes", page([]));
    const err = await client().mountVolume({ svm: "svm2", name: "vol1_clone" }, "/c", signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitError);
    expect(await client().listSnapshots({ svm: "svm2", name: "vol1_clone" }, signal()).catch((e: unknown) => e)).toBeInstanceOf(TransientError);
  });
});
