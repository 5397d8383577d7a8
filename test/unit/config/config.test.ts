import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../src/config/config.js";

describe("loadConfig", () => {
  it("uses controller-runtime's defaults", () => {
    const c = loadConfig([], {});
    expect(c).toMatchObject({
      leaderElect: true,
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      healthProbeBindAddress: ":8081",
      metricsBindAddress: ":8080",
      workers: 4,
      inCluster: false,
    });
  });

  it("takes flags over environment over defaults, in both --flag=v and --flag v forms", () => {
    const c = loadConfig(["--workers=8", "--lease-duration", "30s", "--leader-elect=false"], {
      VMDR_WORKERS: "2",
      VMDR_RENEW_DEADLINE: "20s",
      KUBECONFIG: "/tmp/kc:/tmp/other",
      POD_NAMESPACE: "dr",
    });
    expect(c.workers).toBe(8);
    expect(c.leaseDurationMs).toBe(30_000);
    expect(c.renewDeadlineMs).toBe(20_000);
    expect(c.leaderElect).toBe(false);
    expect(c.kubeconfig).toBe("/tmp/kc");
    expect(c.leaderElectionNamespace).toBe("dr");
  });

  it("names the bad flag and value", () => {
    expect(() => loadConfig(["--workers=lots"], {})).toThrow(/--workers: must be integer \(got "lots"\)/);
    expect(() => loadConfig(["--lease-duration=soon"], {})).toThrow(/--lease-duration: must match pattern/);
    expect(() => loadConfig(["--bogus"], {})).toThrow(/unknown flag --bogus/);
    expect(() => loadConfig(["--log-level=loud"], {})).toThrow(ConfigError);
  });

  it("rejects lease timings that cannot work", () => {
    expect(() => loadConfig(["--lease-duration=5s", "--renew-deadline=10s"], {})).toThrow(/--lease-duration > --renew-deadline > --retry-period/);
  });

  it("reads Secrets only in the operator's own namespace unless --secret-namespaces lists more", () => {
    expect(loadConfig([], {}).secretNamespaces).toEqual(["vmdr-system"]);
    expect(loadConfig([], { POD_NAMESPACE: "dr-operator" }).secretNamespaces).toEqual(["dr-operator"]);
    expect(loadConfig(["--leader-election-namespace=ops"], {}).secretNamespaces).toEqual(["ops"]);
    expect(loadConfig(["--secret-namespaces=vmdr-system,creds,creds"], {}).secretNamespaces).toEqual(["vmdr-system", "creds"]);
    expect(() => loadConfig(["--secret-namespaces=vmdr-system,,x"], {})).toThrow(/--secret-namespaces: must match pattern/);
    expect(() => loadConfig(["--secret-namespaces=*"], {})).toThrow(/--secret-namespaces/);
  });
});
