import { describe, expect, it } from "vitest";
import type { FailoverRun, ProtectionGroup, Site, VmRecord } from "../../../src/api/v1alpha1/index.js";
import { makeRoom, measure, sum } from "../../../src/capacity/model.js";
import type { ClusterDemand } from "../../../src/capacity/model.js";
import { planCapacity } from "../../../src/controllers/failover-run/capacity.js";
import type { ShadowRecord } from "../../../src/controllers/protection-group/records.js";
import { InventoryIndex } from "../../../src/sites/inventory-index.js";
import type { InventoryObject, MoRef } from "../../../src/vsphere/types.js";

const ref = (type: string, value: string): MoRef => ({ type, value });
const host = ref("HostSystem", "host-1");
const cluster = ref("ClusterComputeResource", "domain-c1");
const root = ref("ResourcePool", "resgroup-1");
const dev = ref("ResourcePool", "resgroup-2");

/** Site 2's BCDR cluster: one host of 8 cores at 2,600 MHz and 48 GB, two development VMs running in pool Development. */
function site2(vms: { name: string; memoryMB?: number; on?: boolean; pool?: MoRef; reserveMB?: number }[] = []): InventoryIndex {
  const objects: InventoryObject[] = [
    { kind: "ComputeResource", info: { ref: cluster, name: "Site2-BCDR", hosts: [host], resourcePool: root, effectiveCpuMhz: 8 * 2600, totalCpuMhz: 8 * 2600, cpuCores: 8, effectiveMemoryMB: 48 * 1024 } },
    { kind: "HostSystem", info: { ref: host, name: "bcdr1", parent: cluster } },
    { kind: "ResourcePool", info: { ref: root, name: "Resources", parent: cluster, owner: cluster } },
    { kind: "ResourcePool", info: { ref: dev, name: "Development", parent: root, owner: cluster } },
    ...vms.map((v, i): InventoryObject => ({
      kind: "VirtualMachine",
      info: {
        ref: ref("VirtualMachine", `vm-${i + 1}`), name: v.name, datastores: [], networks: [], template: false, host, resourcePool: v.pool ?? root,
        powerState: v.on === false ? "poweredOff" : "poweredOn", instanceUuid: `uuid-${v.name}`, cpus: 2, memoryMB: v.memoryMB ?? 4096,
        ...(v.reserveMB ? { memoryReservationMB: v.reserveMB } : {}),
      },
    })),
  ];
  return new InventoryIndex(objects);
}

const development = [
  { name: "Dev-01", pool: dev },
  { name: "Dev-02", pool: dev },
];

function site(policy?: Site["spec"]["capacityPolicy"]): Site {
  return { metadata: { name: "site2" }, spec: { vcenter: { url: "https://vc2", datacenter: "Site 2", credentialsSecretRef: { namespace: "vmdr-system", name: "s" } }, storage: { controllers: [] }, ...(policy ? { capacityPolicy: policy } : {}) } };
}

const group: ProtectionGroup = {
  metadata: { namespace: "dr", name: "hr" },
  spec: { protectedSiteRef: "site1", recoverySiteRef: "site2", replicationRefs: [], vms: { folder: "PG1" }, shadow: { rootFolder: "DR", resourcePool: "Site1-HR" } },
};

/** A run of `n` VMs of 4 GB (and 2 vCPUs) each. */
function input(n: number, opts: { inv?: InventoryIndex; site?: Site; action?: NonNullable<FailoverRun["spec"]["capacity"]>["action"]; reserveMB?: number } = {}) {
  const vms: VmRecord[] = [];
  const records = new Map<string, ShadowRecord>();
  for (let i = 0; i < n; i++) {
    const uuid = `incoming-${i}`;
    vms.push({ name: `HR-App${i}`, group: "hr", instanceUuid: uuid, vmx: "", folder: "", resourcePool: "", wave: 0, state: "Pending" });
    records.set(uuid, { name: `HR-App${i}`, protectedFolder: "", shadowFolder: "", resourcePool: "", datastores: [], shadowed: true, size: { cpus: 2, memoryMB: 4096, ...(opts.reserveMB ? { memoryReservationMB: opts.reserveMB } : {}) } });
  }
  const inv = opts.inv ?? site2(development);
  return {
    run: { metadata: { namespace: "dr", name: "t" }, spec: { type: "Test" as const, protectionGroups: ["hr"], ...(opts.action ? { capacity: { action: opts.action } } : {}) } },
    groups: [group],
    vms,
    records: new Map([["dr/hr", records]]),
    site: () => opts.site ?? site(),
    inventory: () => inv,
  };
}

describe("the capacity pre-flight of a run at its recovery cluster", () => {
  it("lets a run that fits go with its numbers and nothing to reclaim", () => {
    const r = planCapacity(input(6));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.report.reclaim).toEqual([]);
    expect(r.report.clusters[0]).toMatchObject({ cluster: "Site2-BCDR", vms: 6, runningVms: 2, memory: { need: 6 * 4096, inUse: 2 * 4096, offered: 48 * 1024 } });
    expect(r.report.message).toContain(`memory ${(48 * 1024 - 8 * 4096).toLocaleString("en-US")} MB`);
  });

  it("refuses a run the cluster cannot hold with the numbers, and says what a Suspend of the policy's VMs would do", () => {
    const r = planCapacity(input(11, { site: site({ reclaim: [{ vms: ["Dev-01", "Dev-02"], action: "Suspend" }] }) }));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    // 11 x 4 GB + 2 x 4 GB running = 53,248 MB > 49,152 MB: 4,096 MB short.
    expect(r.message).toContain("Site site2 cluster Site2-BCDR cannot hold the run");
    expect(r.message).toContain("memory: 45,056 MB needed by 11 VM(s) + 8,192 MB in use by 2 VM(s) > 49,152 MB offered");
    expect(r.message).toContain("(4,096 MB short)");
    expect(r.message).toContain("could make room by suspending Dev-01: set spec.capacity.action to Suspend");
  });

  it("says when the Site names nothing that may be reclaimed", () => {
    const r = planCapacity(input(11));
    expect(r.ok === false && r.message).toContain("The Site has no capacityPolicy");
  });

  it("with Suspend allowed, suspends the policy's VMs in order, only as many as the run needs", () => {
    const r = planCapacity(input(11, { action: "Suspend", site: site({ reclaim: [{ vms: ["Dev-02", "Dev-01"], action: "Suspend" }] }) }));
    expect(r.ok && r.report.reclaim).toEqual([{ site: "site2", action: "Suspend", name: "Dev-02", ref: "vm-2", state: "Planned" }]);
    expect(r.ok && r.report.clusters[0]?.memory.reclaimed).toBe(4096);
  });

  it("does not suspend with Throttle allowed only, and refuses if throttling is not enough", () => {
    const r = planCapacity(input(11, { action: "Throttle", site: site({ reclaim: [{ vms: ["Dev-01"], action: "Suspend" }] }) }));
    expect(r.ok).toBe(false);
  });

  it("throttles a pool to the limit that makes room, never below what its VMs reserve", () => {
    const policy = { reclaim: [{ resourcePool: "Development", action: "Throttle" as const }] };
    // The pool's VMs use 8,192 MB and reserve 2,000; the run is 4,096 MB short: the pool is limited to 4,096 MB.
    const light = site2([{ name: "Dev-01", pool: dev, reserveMB: 1000 }, { name: "Dev-02", pool: dev, reserveMB: 1000 }]);
    const r = planCapacity(input(11, { inv: light, action: "Throttle", site: site(policy) }));
    expect(r.ok && r.report.reclaim).toEqual([{ site: "site2", action: "Throttle", name: "Development", ref: "resgroup-2", limits: { cpuMhz: -1, memoryMB: 4096 }, state: "Planned" }]);
    // Reserving 6,000 MB, the pool can be cut to 6,000 MB only, which frees 2,192 MB: not enough.
    const heavy = site2([{ name: "Dev-01", pool: dev, reserveMB: 3000 }, { name: "Dev-02", pool: dev, reserveMB: 3000 }]);
    const refused = planCapacity(input(11, { inv: heavy, action: "Throttle", site: site(policy) }));
    expect(refused.ok === false && refused.message).toContain("Even everything the Site's capacityPolicy names would not make room");
  });

  it("counts reservations against effective capacity even when the overcommit would admit the size", () => {
    const s = site({ reclaim: [], overcommit: { memory: 2 } });
    const r = planCapacity(input(13, { site: s, reserveMB: 4096 }));
    expect(r.ok === false && r.message).toContain("memory reservations: 53,248 MB needed by 13 VM(s) + 0 MB in use by 2 VM(s) > 49,152 MB reservable");
    expect(r.ok === false && r.message).not.toContain("memory: ");
  });

  it("skips the check when the run says Ignore", () => {
    expect(planCapacity(input(100, { action: "Ignore" }))).toMatchObject({ ok: true, report: { checked: false, reclaim: [] } });
  });

  it("counts a VM of unknown size as not counted, and says so", () => {
    const i = input(2);
    (i.records.get("dr/hr") as Map<string, ShadowRecord>).set("incoming-1", { name: "HR-App1", protectedFolder: "", shadowFolder: "", resourcePool: "", datastores: [], shadowed: true });
    const r = planCapacity(i);
    expect(r.ok && r.report.clusters[0]).toMatchObject({ vms: 2, unknownVms: 1 });
    expect(r.ok && r.report.message).toContain("1 VM(s) of unknown size not counted");
  });
});

describe("making room", () => {
  const offer = { site: "s", cluster: "c", effectiveCpuMhz: 10_000, effectiveMemoryMB: 10_000, coreMhz: 1000, overcommit: { cpu: 1, memory: 1 } };
  const vm = (name: string, memoryMB: number) => ({ name, ref: name, use: measure({ cpus: 0, memoryMB }, 1000) });
  const demand = (incomingMB: number, running: number[]): ClusterDemand => ({
    offer, incoming: measure({ cpus: 0, memoryMB: incomingMB }, 1000), incomingVms: 1, unknownVms: 0, inUse: sum(running.map((m) => measure({ cpus: 0, memoryMB: m }, 1000))), runningVms: running.length,
  });

  it("takes nothing when the demand fits", () => {
    expect(makeRoom(demand(5000, [5000]), [{ action: "Suspend", vm: vm("a", 5000) }])).toEqual([]);
  });

  it("passes over a candidate that frees nothing that is short", () => {
    const rs = makeRoom(demand(6000, [5000]), [{ action: "Suspend", vm: vm("empty", 0) }, { action: "Suspend", vm: vm("a", 5000) }]);
    expect(rs?.map((r) => r.name)).toEqual(["a"]);
  });

  it("answers undefined when everything together is not enough", () => {
    expect(makeRoom(demand(12_000, [1000]), [{ action: "Suspend", vm: vm("a", 1000) }])).toBeUndefined();
  });
});
