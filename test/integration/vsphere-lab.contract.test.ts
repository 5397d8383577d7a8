import { afterEach, describe } from "vitest";
import { pino } from "pino";
import { naaOfSerial } from "../../src/controllers/protection-group/datastores.js";
import type { OntapClient } from "../../src/ontap/client.js";
import { isJobRef } from "../../src/ontap/jobs.js";
import type { Done, JobRef } from "../../src/ontap/jobs.js";
import { createOntapClient } from "../../src/ontap/rest.js";
import { VMBOOK_SITE2, vsphereContract } from "../contract/vsphere.contract.js";
import { eventually } from "../harness/kube.js";
import { Lab } from "../harness/lab.js";
import { vcenterClient } from "../harness/vsphere.js";

const names = VMBOOK_SITE2;

/** Site 2's SVM, its data LIF, the BCDR hosts' igroup and export policy, and the replicas the copies come from. */
const SVM = "svm2";
const DATA_LIF = "30.1.1.50";
const IGROUP = "site2_bcdr";
const EXPORT_POLICY = "site2_esx_nfs";
const SAN_REPLICA = "RG1FV1_SM"; // RP1
const NFS_REPLICA = "RG2FV3_SM"; // RP5

/** What a test opened, closed last-opened first (the session before its lab). */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

const log = pino({ level: "silent" });
const sig = (): AbortSignal => AbortSignal.timeout(30_000);

async function job(ontap: OntapClient, r: JobRef | Done): Promise<void> {
  if (!isJobRef(r)) return;
  const s = await eventually(async () => {
    const j = await ontap.getJob(r, sig());
    return j.state === "success" || j.state === "failure" ? j : undefined;
  }, 30_000, `ONTAP job ${r.uuid}`);
  if (s.state !== "success") throw new Error(`ONTAP job ${r.uuid} failed: ${s.message ?? ""}`);
}

describe("VcenterClient honours the VsphereClient contract against the lab's vCenter", () => {
  vsphereContract(names, async () => {
    const lab = await Lab.start();
    cleanups.push(() => lab.stop());
    const vc = await vcenterClient(lab, "site2", log);
    cleanups.push(() => vc.session.close());
    const e = lab.site("site2").ontap;
    const o = createOntapClient({ url: e.url, username: e.username, password: e.password, tls: { caBundle: lab.caPem() } }, { log });
    cleanups.push(() => o.close());
    let clones = 0;
    /** A FlexClone of a replica from its newest SnapMirror snapshot, as a DR test makes one. */
    const clone = async (parent: string, junctionPath?: string): Promise<string> => {
      const name = `vmdr_contract_${++clones}`;
      const snap = await o.findNewestSnapMirrorSnapshot({ svm: SVM, name: parent }, sig());
      if (!snap) throw new Error(`${parent} has no SnapMirror snapshot`);
      await job(o, await o.createFlexClone({ svm: SVM, name, parentVolume: parent, parentSnapshot: snap.name, ...(junctionPath ? { junctionPath } : {}) }, sig()));
      return name;
    };
    const held = new Set<string>();
    const taskDuration = (method: string, duration: string) => lab.control("POST", "/sites/site2/vcenter/task-duration", { method, duration });
    return {
      client: vc.client,
      // The clone's LUN mapped to the BCDR hosts' igroup: they see it at their next rescan.
      presentCopy: async () => {
        const vol = await clone(SAN_REPLICA);
        const [lun] = await o.listLuns({ svm: SVM, name: vol }, sig());
        if (!lun) throw new Error(`${vol} has no LUN`);
        await o.mapLun({ svm: SVM, lun: lun.name, igroup: IGROUP }, sig());
        return naaOfSerial(lun.serialNumber);
      },
      // The clone mounted at its junction with the policy that admits the BCDR hosts.
      nfsExport: async () => {
        const remotePath = `/vmdr_contract_nfs${clones + 1}`;
        const vol = await clone(NFS_REPLICA, remotePath);
        await job(o, await o.setExportPolicy({ svm: SVM, name: vol }, EXPORT_POLICY, sig()));
        return { remoteHost: DATA_LIF, remotePath };
      },
      failNextTask: async (method, fault) => {
        await lab.failNextTask("site2", method, fault);
      },
      holdTasks: async (method) => {
        held.add(method);
        await taskDuration(method, "1h");
      },
      releaseTasks: async () => {
        for (const m of held) await taskDuration(m, "0s");
        held.clear();
        await lab.advance("1h");
      },
      setReachable: async (reachable) => {
        await lab.vcenterDown("site2", reachable ? "up" : "reset");
      },
      tick: async () => {
        await lab.advance("1s");
      },
    };
  });
});
