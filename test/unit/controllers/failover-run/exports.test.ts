import { describe, expect, it } from "vitest";
import type { VolumeRecord } from "../../../../src/api/v1alpha1/index.js";
import { junctionFor } from "../../../../src/controllers/failover-run/names.js";
import { restoreOf } from "../../../../src/controllers/failover-run/steps/exports.js";
import type { Volume } from "../../../../src/ontap/client.js";

const replica = (nasBefore: VolumeRecord["nasBefore"]): VolumeRecord => ({
  group: "finance", relationship: "rg2fv3", svm: "svm2", volume: "RG2FV3_SM", copy: "RG2FV3_SM", protocol: "NFS", datastore: "RP5", ...(nasBefore ? { nasBefore } : {}),
});
const now = (exportPolicy: string | undefined, nasPath: string | undefined): Volume => ({
  uuid: "u", name: "RG2FV3_SM", svm: "svm2", type: "dp", state: "online", ...(exportPolicy ? { exportPolicy } : {}), ...(nasPath ? { nasPath } : {}),
});

describe("a failover mounts an NFS volume where it already was", () => {
  it("keeps the junction the volume had, and mounts one that had none at /<volume>", () => {
    expect(junctionFor(replica({ exportPolicy: "default", junctionPath: "/finance_dr" }), "1a2b3c4d")).toBe("/finance_dr");
    expect(junctionFor(replica({ exportPolicy: "site2_esx_nfs" }), "1a2b3c4d")).toBe("/RG2FV3_SM");
    expect(junctionFor({ volume: "RG2FV3_SM", clone: "RG2FV3_Clone_1a2b3c4d" }, "1a2b3c4d")).toBe("/RG2FV3_Clone_1a2b3c4d");
  });
});

describe("a Reprotect restores a replica's NFS export as the failover found it", () => {
  it("puts its own policy back where the run's replaced it, and the SVM's default where it had none", () => {
    expect(restoreOf(replica({ exportPolicy: "dr_hosts", junctionPath: "/finance_dr" }), now("vmdr_1a2b3c4d", "/finance_dr"))).toEqual({ policy: "dr_hosts" });
    expect(restoreOf(replica({ junctionPath: "/finance_dr" }), now("vmdr_1a2b3c4d", "/finance_dr"))).toEqual({ policy: "default" });
  });

  it("unmounts a replica that was not mounted before and is still where the run mounted it", () => {
    expect(restoreOf(replica({ exportPolicy: "site2_esx_nfs" }), now("site2_esx_nfs", "/RG2FV3_SM"))).toEqual({ unmount: true });
    expect(restoreOf(replica({ exportPolicy: "dr_hosts" }), now("vmdr_1a2b3c4d", "/RG2FV3_SM"))).toEqual({ policy: "dr_hosts", unmount: true });
  });

  it("leaves what someone else changed since: another policy, another junction", () => {
    expect(restoreOf(replica({ exportPolicy: "dr_hosts" }), now("audit_hosts", "/elsewhere"))).toEqual({});
  });

  it("has nothing to do once restored", () => {
    expect(restoreOf(replica({ exportPolicy: "default", junctionPath: "/finance_dr" }), now("default", "/finance_dr"))).toEqual({});
    expect(restoreOf(replica({ exportPolicy: "site2_esx_nfs" }), now("site2_esx_nfs", undefined))).toEqual({});
  });
});
