import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe } from "vitest";
import { createOntapClient } from "../../../src/ontap/rest.js";
import { ontapContract, ontapTransportContract } from "../../contract/ontap.contract.js";
import type { OntapContractNames } from "../../contract/ontap.contract.js";
import { FakeOntapWorld } from "../../fakes/ontap.js";
import { generateCerts } from "../../harness/certs.js";
import { clusterReply, ScriptedServer } from "./scripted-server.js";

/** The lab's VMbook names (hack/lab/internal/topology/vmbook.go), so both tiers run the same suite. */
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

describe("FakeOntapWorld honours the OntapClient contract", () => {
  ontapContract(names, () => {
    const w = new FakeOntapWorld()
      .addCluster("site1", names.sourceSvm)
      .addCluster("site2", names.svm)
      .addVolume("site1", names.sourceVolume, { type: "rw", luns: ["RP1.lun"] })
      .addVolume("site2", names.destinationVolume, { type: "dp" })
      .addVolume("site1", names.spareSource, { type: "rw", luns: ["RP99.lun"] })
      .addVolume("site2", names.spareDestination, { type: "dp" })
      .addIgroup("site2", names.igroup)
      .seedRelationship({ cluster: "site1", volume: names.sourceVolume }, { cluster: "site2", volume: names.destinationVolume }, names.policy);
    return Promise.resolve({
      client: w.client("site2"),
      source: w.client("site1"),
      failNextJob: (cluster, f) => Promise.resolve(w.failNextJob(cluster === "source" ? "site1" : "site2", f)),
      tick: () => Promise.resolve(),
    });
  });
});

describe("RestOntapClient honours the transport contract on a loopback HTTPS endpoint", () => {
  let dir: string;
  let ca: string;
  let server: ScriptedServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vmdr-ontap-tls-"));
    const certs = generateCerts(dir);
    ca = readFileSync(certs.caCert, "utf8");
    server = await ScriptedServer.start({ key: readFileSync(certs.servingKey, "utf8"), cert: readFileSync(certs.servingCert, "utf8") });
    const good = `Basic ${Buffer.from("admin:netapp1!").toString("base64")}`;
    // Like ONTAP's web server: a 401 with an HTML page for any other credentials.
    server.on("GET", "/api/cluster", (r) => (r.headers.authorization === good ? clusterReply("9.8.0") : undefined));
    server.on("GET", "/api/cluster", { status: 401, body: "<html><h1>Unauthorized</h1></html>", headers: { "content-type": "text/html", "www-authenticate": 'Basic realm="cluster2"' } });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  ontapTransportContract(() =>
    Promise.resolve({
      options: { url: server.url, username: "admin", password: "netapp1!", tls: { caBundle: ca } },
      connect: (o, log) => createOntapClient(o, { log }),
    }),
  );
});
