import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Ajv } from "ajv";
import { renderCrds } from "../../../hack/crd-files.js";
import { toStructural } from "../../../src/api/crd.js";
import { ALL_KINDS } from "../../../src/api/v1alpha1/index.js";
import { REPO_ROOT } from "../../harness/processes.js";
import { failoverRun, protectionGroup, replicationRelationship, site } from "../../fixtures/objects.js";

describe("CRD generation", () => {
  it("crds/ holds exactly what src/api generates (run `make crds` after changing a schema)", () => {
    for (const [name, text] of renderCrds()) {
      expect(readFileSync(join(REPO_ROOT, "crds", name), "utf8"), `crds/${name} drifted`).toBe(text);
    }
  });

  it("drops nullable and additionalProperties-next-to-properties, which the API server rejects", () => {
    const s = toStructural({
      type: "object",
      additionalProperties: false,
      properties: { nullable: { type: "string", nullable: true }, m: { type: "object", additionalProperties: { type: "string" } } },
    });
    expect(s).toEqual({ type: "object", properties: { nullable: { type: "string" }, m: { type: "object", additionalProperties: { type: "string" } } } });
  });

  it("every schema compiles with ajv and accepts the fixtures", () => {
    const ajv = new Ajv({ strict: true, allErrors: true });
    ajv.addVocabulary(["x-kubernetes-validations", "x-kubernetes-list-type", "x-kubernetes-list-map-keys"]);
    ajv.addFormat("date-time", true);
    ajv.addFormat("int64", true);
    const fixtures = [site("s"), replicationRelationship("ns", "r"), protectionGroup("ns", "p"), failoverRun("ns", "f")];
    ALL_KINDS.forEach((k, i) => {
      const validate = ajv.compile(k.spec);
      expect(validate((fixtures[i] as { spec: unknown }).spec), JSON.stringify(validate.errors)).toBe(true);
      ajv.compile(k.status);
    });
  });
});
