import { describe } from "vitest";
import { kubeStoreContract } from "../contract/kube-store.contract.js";
import { FakeKubeStore } from "../fakes/kube-store.js";

describe("FakeKubeStore honours the KubeStore contract", () => {
  let n = 0;
  kubeStoreContract(() => Promise.resolve({ kube: new FakeKubeStore(), namespace: `ns${n++}` }));
});
