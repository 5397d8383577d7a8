import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LeaseType } from "../../src/runtime/leader-election.js";
import { connect, eventually } from "../harness/kube.js";
import { ControlPlane } from "../harness/control-plane.js";
import type { TestKube } from "../harness/kube.js";
import { freePort } from "../harness/processes.js";
import { OperatorProcess } from "../harness/operator.js";

const LEASE_MS = 4_000;
// Operators run their controllers, so they get a control plane of their own.
let cp: ControlPlane;
let t: TestKube;
let running: OperatorProcess[] = [];
beforeAll(async () => {
  cp = await ControlPlane.start();
  t = await connect(cp.kubeconfigPath);
});
afterEach(async () => {
  await Promise.all(running.map((p) => p.kill()));
  running = [];
});
afterAll(async () => {
  t.close();
  await cp.stop();
});

async function startOperator(identity: string, ns: string): Promise<{ p: OperatorProcess; health: string; metrics: string }> {
  const [hp, mp] = [await freePort(), await freePort()];
  const p = new OperatorProcess(identity, [
    `--kubeconfig=${cp.kubeconfigPath}`,
    `--identity=${identity}`,
    `--leader-election-namespace=${ns}`,
    "--leader-election-id=vmdr-test",
    `--lease-duration=${LEASE_MS}ms`,
    "--renew-deadline=3s",
    "--retry-period=500ms",
    `--health-probe-bind-address=127.0.0.1:${hp}`,
    `--metrics-bind-address=127.0.0.1:${mp}`,
  ]);
  running.push(p);
  return { p, health: `http://127.0.0.1:${hp}`, metrics: `http://127.0.0.1:${mp}` };
}

async function holder(ns: string): Promise<string | undefined> {
  const lease = await t.kube.get(LeaseType, { namespace: ns, name: "vmdr-test" });
  return lease?.spec?.holderIdentity || undefined;
}

async function lease(ns: string) {
  return t.kube.get(LeaseType, { namespace: ns, name: "vmdr-test" });
}

/** A Lease MicroTime ("2026-12-02T16:40:00.123456Z") in epoch milliseconds, with the fraction. */
function micro(t: string): number {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(t);
  return Date.parse(`${m?.[1] ?? t}Z`) + Number(`0.${m?.[2] ?? "0"}`) * 1000;
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  return { status: res.status, body: await res.text() };
}

describe("leader election between two operator processes", () => {
  it("elects one leader; when it is killed the other leads within the lease duration", async () => {
    const ns = await t.namespace("le");
    const a = await startOperator("op-a", ns);
    const b = await startOperator("op-b", ns);
    const first = await eventually(() => holder(ns), 30_000, "a leader");
    const [leader, standby] = first === "op-a" ? [a, b] : [b, a];
    await eventually(() => (leader.p.hasLogged("Acquired leader lease") ? true : undefined));
    await eventually(() => (standby.p.hasLogged("Attempting to acquire leader lease") ? true : undefined)); // its servers are up
    expect(standby.p.hasLogged("Acquired leader lease")).toBe(false);

    expect(await get(`${leader.health}/healthz`)).toEqual({ status: 200, body: "ok\n" });
    // The leader is ready once its caches have synced (on a loaded machine, after the lease).
    await eventually(() => (leader.p.hasLogged("Caches synced; starting controllers") ? true : undefined), 30_000, "leader caches synced");
    expect((await get(`${leader.health}/readyz`)).status).toBe(200);
    expect((await get(`${standby.health}/readyz`)).status).toBe(200);
    expect((await get(`${leader.metrics}/metrics`)).body).toMatch(/^vmdr_leader 1$/m);
    expect((await get(`${standby.metrics}/metrics`)).body).toMatch(/^vmdr_leader 0$/m);

    await leader.p.kill();
    // The lease as the killed leader last renewed it: nobody writes it until the standby takes over.
    const last = (await lease(ns))!.spec!;
    expect(last.holderIdentity).toBe(first);
    const next = await eventually(async () => {
      const l = await lease(ns);
      return l?.spec?.holderIdentity && l.spec.holderIdentity !== first ? l.spec : undefined;
    }, 30_000, "a new leader");
    expect(next.holderIdentity).toBe(first === "op-a" ? "op-b" : "op-a");
    // The standby took over only once the lease had gone unrenewed for its whole duration, by the
    // times the two replicas recorded in the Lease itself (not by how long this test waited).
    expect(micro(next.acquireTime!) - micro(last.renewTime!)).toBeGreaterThanOrEqual(LEASE_MS);
    expect(next.leaseTransitions).toBe((last.leaseTransitions ?? 0) + 1);
  });

  it("hands the lease over at once on a graceful stop", async () => {
    const ns = await t.namespace("le");
    const a = await startOperator("op-a", ns);
    await eventually(() => holder(ns), 30_000, "a leader");
    const b = await startOperator("op-b", ns);
    await eventually(() => (b.p.hasLogged("Attempting to acquire leader lease") ? true : undefined));
    const before = (await lease(ns))!.spec!;
    await a.p.stop();
    expect(await a.p.waitExit()).toBe(0);
    const next = await eventually(async () => {
      const l = await lease(ns);
      return l?.spec?.holderIdentity === "op-b" ? l.spec : undefined;
    }, 30_000, "op-b to lead");
    expect(a.p.hasLogged("Released leader lease")).toBe(true);
    // op-b did not wait for the lease to expire: it acquired it before op-a's last renewal would
    // have run out, which only a release makes possible.
    expect(micro(next.acquireTime!)).toBeLessThan(micro(before.renewTime!) + LEASE_MS);
  });

  it("stops and exits 1 as soon as it can no longer renew its lease", async () => {
    const ns = await t.namespace("le");
    const a = await startOperator("op-a", ns);
    await eventually(async () => ((await holder(ns)) === "op-a" ? true : undefined), 30_000, "op-a to lead");
    // Another party takes the lease for a long time; op-a's renewals now fail.
    const held = (await lease(ns))!;
    await t.kube.replace(LeaseType, {
      ...held,
      spec: { ...held.spec, holderIdentity: "intruder", leaseDurationSeconds: 600, renewTime: new Date().toISOString().replace("Z", "000Z") },
    });
    const code = await Promise.race([a.p.waitExit(), new Promise<"hung">((r) => setTimeout(() => r("hung"), 30_000))]);
    expect(code).toBe(1);
    // Its last words are the loss and the exit: nothing was reconciled after it stopped leading.
    const msgs = a.p.logLines().map((l) => String(l.msg));
    const lost = msgs.indexOf("Lost leader lease");
    expect(lost).toBeGreaterThanOrEqual(0);
    expect(msgs.slice(lost + 1).filter((m) => m !== "Leader lease lost; exiting")).toEqual([]);
    expect((await lease(ns))?.spec?.holderIdentity).toBe("intruder");
  });
});
