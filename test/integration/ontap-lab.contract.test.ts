import { afterEach, describe } from "vitest";
import { pino } from "pino";
import { createOntapClient } from "../../src/ontap/rest.js";
import { ontapContract, ontapTransportContract } from "../contract/ontap.contract.js";
import type { OntapContractNames } from "../contract/ontap.contract.js";
import { Lab } from "../harness/lab.js";

/** The lab's VMbook names (hack/lab/internal/topology/vmbook.go); the unit tier runs the fake with the same. */
const names: OntapContractNames = {
  svm: "svm2",
  sourceSvm: "svm1",
  sourceVolume: "RG1FV1",
  destinationVolume: "RG1FV1_SM",
  spareSource: "RG9FV1",
  spareDestination: "RG9FV1_SM",
  igroup: "site2_bcdr",
  policy: "MirrorAllSnapshots",
};

const labs: Lab[] = [];
afterEach(async () => {
  await Promise.all(labs.splice(0).map((l) => l.stop()));
});

async function freshLab(): Promise<Lab> {
  const lab = await Lab.start();
  labs.push(lab);
  return lab;
}

const log = pino({ level: "silent" });

describe("RestOntapClient honours the OntapClient contract against the lab's ONTAP clusters", () => {
  ontapContract(names, async () => {
    const lab = await freshLab();
    const connect = (site: "site1" | "site2") => {
      const e = lab.site(site).ontap;
      return createOntapClient({ url: e.url, username: e.username, password: e.password, tls: { caBundle: lab.caPem() } }, { log });
    };
    return {
      client: connect("site2"),
      source: connect("site1"),
      failNextJob: async (cluster, f) => {
        await lab.failNextJob(cluster === "source" ? "site1" : "site2", f);
      },
      tick: async () => {
        await lab.advance("2s");
      },
    };
  });
});

describe("RestOntapClient honours the transport contract against the lab", () => {
  ontapTransportContract(async () => {
    const lab = await freshLab();
    const e = lab.site("site2").ontap;
    return {
      options: { url: e.url, username: e.username, password: e.password, tls: { caBundle: lab.caPem() } },
      connect: (o, l) => createOntapClient(o, { log: l }),
    };
  });
});
