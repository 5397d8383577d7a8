import { afterAll, beforeAll, describe } from "vitest";
import { kubeStoreContract } from "../contract/kube-store.contract.js";
import { connect } from "../harness/kube.js";
import type { TestKube } from "../harness/kube.js";

describe("RestKubeStore honours the KubeStore contract on a real API server", () => {
  let t: TestKube;
  beforeAll(async () => {
    t = await connect();
  });
  afterAll(() => t.close());
  kubeStoreContract(async () => ({ kube: t.kube, namespace: await t.namespace("contract") }));
});
