import { afterEach, describe, expect, it } from "vitest";
import { pino } from "pino";
import { noExternalMetrics } from "../../src/metrics/external.js";
import { systemClock } from "../../src/util/clock.js";
import { SessionCache, VsphereSession } from "../../src/vsphere/session.js";
import { VcenterClient } from "../../src/vsphere/vcenter.js";
import { InventoryWatcher } from "../../src/vsphere/watcher.js";
import type { InventoryEvent } from "../../src/vsphere/watcher.js";
import { refKey } from "../../src/vsphere/types.js";
import { Lab } from "../harness/lab.js";
import { eventually } from "../harness/kube.js";
import { vcenterClient, vcenterOptions } from "../harness/vsphere.js";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

async function watch(lab: Lab): Promise<{ watcher: InventoryWatcher; events: InventoryEvent[] }> {
  const cache = new SessionCache({ clock: systemClock, metrics: noExternalMetrics, log: pino({ level: "silent" }) }, 0);
  const events: InventoryEvent[] = [];
  const watcher = new InventoryWatcher({
    connect: (signal) => cache.get(vcenterOptions(lab, "site1"), signal),
    root: async (session, signal) => (await new VcenterClient(session).findDatacenter("Site 1", signal))!.ref,
    clock: systemClock,
    log: pino({ level: "silent" }),
    onEvent: (e) => events.push(e),
    maxWaitSeconds: 5,
    backoff: { baseMs: 100, maxMs: 500 },
  });
  const stop = new AbortController();
  const running = watcher.run(stop.signal);
  stops.push(async () => {
    stop.abort();
    await running;
    await cache.closeAll();
  });
  await eventually(() => (watcher.hasSynced() ? true : undefined), 30_000, "the first sync");
  return { watcher, events };
}

describe("InventoryWatcher against the lab's vCenter", () => {
  it("delivers the whole inventory once, then each VM created at Site 1", async () => {
    const lab = await Lab.start();
    stops.push(() => lab.stop());
    const { watcher, events } = await watch(lab);
    const initialVms = events.filter((e) => e.type === "added" && e.object.kind === "VirtualMachine").length;
    expect(initialVms).toBe(19);
    await lab.addVm("site1", { name: "HR-App7", folder: "Protection Group 1/Application", datastore: "RP2", resourcePool: "HRServers", portgroup: "Site1-LAN", poweredOn: true });
    const added = await eventually(() => events.find((e) => e.type === "added" && e.object.kind === "VirtualMachine" && e.object.info.name === "HR-App7"), 10_000, "HR-App7");
    expect(added.object.kind === "VirtualMachine" && added.object.info.instanceUuid).toBeTruthy();
    await eventually(() => {
      const vm = watcher.objects().find((o) => o.kind === "VirtualMachine" && o.info.name === "HR-App7");
      return vm?.kind === "VirtualMachine" && vm.info.powerState === "poweredOn" ? true : undefined;
    }, 10_000, "HR-App7 powered on in the cache");
  });

  it("resumes after a vCenter restart without repeating or missing a change", async () => {
    const lab = await Lab.start();
    stops.push(() => lab.stop());
    const { watcher, events } = await watch(lab);
    const before = events.length;
    const { session, client } = await vcenterClient(lab, "site1");
    const desktop = (await client.findByInventoryPath("Site 1/vm/Desktops/Desktop-02"))!;
    await session.close();
    // While vCenter restarts, a VM is provisioned (the lab does it behind the API).
    const restart = lab.restartVcenter("site1", "2s");
    await new Promise((r) => setTimeout(r, 300));
    await lab.addVm("site1", { name: "During-Restart", folder: "Desktops", datastore: "LP2", portgroup: "Site1-LAN" });
    await restart;
    await eventually(() => (watcher.syncs >= 2 ? true : undefined), 30_000, "a second sync after the restart");
    await eventually(() => events.slice(before).find((e) => e.type === "added" && e.object.kind === "VirtualMachine" && e.object.info.name === "During-Restart"), 10_000);
    // Then a change after the restart arrives as one modification.
    const fresh = await vcenterClient(lab, "site1");
    const rename = await fresh.client.rename(desktop, "Desktop-02-renamed");
    await eventually(async () => ((await fresh.client.getTasks([rename.task]))[0]?.state === "success" ? true : undefined));
    await fresh.session.close();
    await eventually(() => events.find((e) => e.type === "modified" && refKey(e.object.info.ref) === refKey(desktop) && e.object.kind === "VirtualMachine" && e.object.info.name === "Desktop-02-renamed"), 10_000);

    const after = events.slice(before);
    const adds = after.filter((e) => e.type === "added").map((e) => e.object.info.name);
    expect(adds).toEqual(["During-Restart"]); // nothing re-announced after the reconnect
    expect(after.filter((e) => e.type === "removed")).toEqual([]);
    const renames = after.filter((e) => e.type === "modified" && refKey(e.object.info.ref) === refKey(desktop));
    expect(renames).toHaveLength(1);
  });

  it("reads a 10,000-VM inventory in pages", async () => {
    const lab = await Lab.start(["--vms-per-group", "5000"]);
    stops.push(() => lab.stop());
    let retrieveCalls = 0;
    const session = await VsphereSession.open(vcenterOptions(lab, "site1"), {
      clock: systemClock,
      log: pino({ level: "silent" }),
      metrics: { observe: (_s, op) => void (op === "RetrieveProperties" && retrieveCalls++) },
    });
    const client = new VcenterClient(session);
    try {
      const dc = (await client.findDatacenter("Site 1"))!;
      retrieveCalls = 0;
      const objs = await client.readInventory(dc.ref, undefined, 1000);
      const vms = objs.filter((o) => o.kind === "VirtualMachine");
      expect(vms).toHaveLength(2 * 5000 + 7);
      expect(new Set(vms.map((o) => o.info.ref.value)).size).toBe(vms.length);
      expect(retrieveCalls).toBeGreaterThanOrEqual(Math.ceil(objs.length / 1000)); // one RetrieveProperties(Ex) per page
    } finally {
      await session.close();
    }
  }, 240_000); // starting a 10,000-VM lab beside the other test files takes 20-60 s on 2 loaded cores
});
