import { describe, expect, it } from "vitest";
import { pino } from "pino";
import type { Site } from "../../../src/api/v1alpha1/index.js";
import { KubeApiError } from "../../../src/kube/errors.js";
import type { KubeStore, ListOptions } from "../../../src/kube/store.js";
import type { KubeList, KubeObject, ResourceType } from "../../../src/kube/types.js";
import type { Watcher } from "../../../src/kube/watch.js";
import type { InformerHandlers } from "../../../src/runtime/informer.js";
import { OperatorError } from "../../../src/runtime/errors.js";
import { readCredentials, SecretType } from "../../../src/sites/credentials.js";
import { ReferencedSecrets } from "../../../src/sites/secrets.js";
import type { SiteSource } from "../../../src/sites/secrets.js";
import { FakeClock, flushPromises } from "../../fakes/clock.js";
import { FakeKubeStore } from "../../fakes/kube-store.js";
import { site } from "../../fixtures/objects.js";

/** Records every list the informers make, and can refuse them the way RBAC does. */
class RecordingStore extends FakeKubeStore {
  readonly lists: { plural: string; namespace?: string; fieldSelector?: string }[] = [];
  forbidden = new Set<string>();
  override list<T extends KubeObject>(type: ResourceType<T>, o: ListOptions = {}): Promise<KubeList<T>> {
    this.lists.push({ plural: type.plural, namespace: o.namespace, fieldSelector: o.fieldSelector });
    if (o.namespace && this.forbidden.has(o.namespace)) {
      return Promise.reject(new KubeApiError(403, `secrets is forbidden: cannot list resource "secrets" in the namespace "${o.namespace}"`, { reason: "Forbidden", code: 403 }));
    }
    return super.list(type, o);
  }
}

/** A watch that stays open and delivers nothing (the tests change Secrets through relists). */
const idleWatcher: Watcher = {
  watch: (_p, _q, _e, signal) => new Promise((_res, rej) => signal.addEventListener("abort", () => rej(new Error("aborted")), { once: true })),
};

class FakeSites implements SiteSource {
  items: Site[] = [];
  private readonly handlers: InformerHandlers<Site>[] = [];
  list = (): Site[] => this.items;
  addHandlers(h: InformerHandlers<Site>): void {
    this.handlers.push(h);
  }
  waitForSync = (): Promise<void> => Promise.resolve();
  hasSynced = (): boolean => true;
  set(...sites: Site[]): void {
    this.items = sites;
    for (const h of this.handlers) for (const s of sites) h.onAdd?.(s);
    if (sites.length === 0) for (const h of this.handlers) h.onDelete?.(site("gone"));
  }
}

function siteWith(name: string, vcenter: { namespace: string; name: string }, ontap = { namespace: "vmdr-system", name: "ontap" }): Site {
  const s = site(name);
  s.spec.vcenter.credentialsSecretRef = vcenter;
  s.spec.storage.controllers[0]!.credentialsSecretRef = ontap;
  return s;
}

async function secret(kube: KubeStore, namespace: string, name: string, data: Record<string, string>): Promise<void> {
  await kube.create(SecretType, { metadata: { namespace, name }, stringData: data });
}

function setup(allowed = ["vmdr-system"]) {
  const kube = new RecordingStore();
  const sites = new FakeSites();
  const secrets = new ReferencedSecrets({ kube, watcher: idleWatcher, clock: new FakeClock(), log: pino({ level: "silent" }), sites, allowedNamespaces: allowed, resyncPeriodMs: 0 });
  const stop = new AbortController();
  const run = secrets.run(stop.signal);
  return { kube, sites, secrets, stop: async () => { stop.abort(); await run; } };
}

const reasonOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return err instanceof OperatorError ? err.reason : String(err);
  }
  return undefined;
};

describe("ReferencedSecrets (the Secret scope)", () => {
  it("refuses a Secret outside the allowed namespaces with SecretNotAllowed and never asks the API server for it", async () => {
    const t = setup();
    await secret(t.kube, "tenant", "stolen", { username: "u", password: "tenant-password" });
    t.sites.set(siteWith("s", { namespace: "tenant", name: "stolen" }));
    await flushPromises();
    let err: unknown;
    try {
      readCredentials(t.secrets.lookup, { namespace: "tenant", name: "stolen" }, "Site s vCenter credentials");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OperatorError);
    expect((err as OperatorError).reason).toBe("SecretNotAllowed");
    expect((err as OperatorError).message).toMatch(/^Site s vCenter credentials: Secret tenant\/stolen is in namespace "tenant".*--secret-namespaces/);
    expect((err as OperatorError).message).not.toContain("tenant-password");
    expect(t.kube.lists.filter((l) => l.namespace === "tenant")).toEqual([]);
    expect(t.kube.lists.every((l) => l.namespace !== undefined)).toBe(true);
    await t.stop();
  });

  it("follows only the Secrets that Sites name, each by name, and forgets one no Site names any more", async () => {
    const t = setup();
    await secret(t.kube, "vmdr-system", "vc", { username: "admin", password: "pw" });
    await secret(t.kube, "vmdr-system", "ontap", { username: "o", password: "opw" });
    await secret(t.kube, "vmdr-system", "unrelated", { username: "x", password: "y" });
    t.sites.set(siteWith("s", { namespace: "vmdr-system", name: "vc" }));
    await flushPromises();
    expect(t.kube.lists.map((l) => `${l.namespace} ${l.fieldSelector}`).sort()).toEqual(["vmdr-system metadata.name=ontap", "vmdr-system metadata.name=vc"]);
    expect(readCredentials(t.secrets.lookup, { namespace: "vmdr-system", name: "vc" }, "vc")).toEqual({ username: "admin", password: "pw" });
    expect(t.secrets.size()).toBe(2);

    t.sites.set(siteWith("s", { namespace: "vmdr-system", name: "ontap" }));
    expect(t.secrets.size()).toBe(1);
    await t.stop();
  });

  it("keeps only the username and password keys of a Secret in memory", async () => {
    const t = setup();
    await secret(t.kube, "vmdr-system", "vc", { username: "admin", password: "pw", "tls.key": "-----BEGIN PRIVATE KEY-----" });
    t.sites.set(siteWith("s", { namespace: "vmdr-system", name: "vc" }));
    await flushPromises();
    const cached = t.secrets.lookup({ namespace: "vmdr-system", name: "vc" });
    expect(Object.keys(cached?.stringData ?? {}).sort()).toEqual(["password", "username"]);
    await t.stop();
  });

  it("says WaitingForSecret until the first read completes, then tells listeners so the Site is looked at again", async () => {
    const t = setup();
    const told: string[] = [];
    t.secrets.onChange((r) => told.push(`${r.namespace}/${r.name}`));
    t.sites.set(siteWith("s", { namespace: "vmdr-system", name: "missing" }, { namespace: "vmdr-system", name: "missing" }));
    expect(reasonOf(() => t.secrets.lookup({ namespace: "vmdr-system", name: "missing" }))).toBe("WaitingForSecret");
    await flushPromises();
    expect(t.secrets.lookup({ namespace: "vmdr-system", name: "missing" })).toBeUndefined();
    expect(reasonOf(() => readCredentials(t.secrets.lookup, { namespace: "vmdr-system", name: "missing" }, "x"))).toBe("SecretNotFound");
    expect(told).toContain("vmdr-system/missing");
    await t.stop();
  });

  it("says SecretForbidden when an allowed namespace has no RoleBinding, and does not hold up the cache's sync", async () => {
    const t = setup(["vmdr-system", "creds"]);
    t.kube.forbidden.add("creds");
    t.sites.set(siteWith("s", { namespace: "creds", name: "vc" }));
    await t.secrets.waitForSync(new AbortController().signal);
    expect(t.secrets.hasSynced()).toBe(true);
    expect(reasonOf(() => t.secrets.lookup({ namespace: "creds", name: "vc" }))).toBe("SecretForbidden");
    await t.stop();
  });
});

describe("ReferencedSecrets.readKey (a group's TSIG key)", () => {
  const ref = { namespace: "vmdr-system", name: "dns-key" };
  const reasonOfAsync = async (p: Promise<unknown>): Promise<string | undefined> => p.then(() => undefined, (err: unknown) => (err instanceof OperatorError ? err.reason : String(err)));

  it("reads one key of a Secret by name with one list restricted to it, and caches nothing", async () => {
    const t = setup();
    await secret(t.kube, "vmdr-system", "dns-key", { secret: "c2VjcmV0LXRzaWcta2V5", other: "x" });
    const before = t.kube.lists.length;
    expect(await t.secrets.readKey(ref, "secret", "TSIG key", new AbortController().signal)).toBe("c2VjcmV0LXRzaWcta2V5");
    expect(t.kube.lists.slice(before)).toEqual([{ plural: "secrets", namespace: "vmdr-system", fieldSelector: "metadata.name=dns-key" }]);
    expect(t.secrets.size()).toBe(0);
    await t.stop();
  });

  it("refuses a namespace outside the allowed ones before any request, and names a missing Secret or key without its value", async () => {
    const t = setup();
    await secret(t.kube, "tenant", "dns-key", { secret: "tenant-secret" });
    const before = t.kube.lists.length;
    expect(await reasonOfAsync(t.secrets.readKey({ namespace: "tenant", name: "dns-key" }, "secret", "TSIG key", new AbortController().signal))).toBe("SecretNotAllowed");
    expect(t.kube.lists.length).toBe(before);
    expect(await reasonOfAsync(t.secrets.readKey(ref, "secret", "TSIG key", new AbortController().signal))).toBe("SecretNotFound");
    await secret(t.kube, "vmdr-system", "dns-key", { key: "value-not-to-show" });
    const err = await t.secrets.readKey(ref, "secret", "TSIG key", new AbortController().signal).catch((e: unknown) => e as OperatorError);
    expect(err).toMatchObject({ reason: "SecretInvalid" });
    expect((err as OperatorError).message).toMatch(/^TSIG key: Secret vmdr-system\/dns-key has no "secret" key$/);
    await t.stop();
  });

  it("says SecretForbidden when RBAC refuses the read", async () => {
    const t = setup(["vmdr-system", "creds"]);
    t.kube.forbidden.add("creds");
    expect(await reasonOfAsync(t.secrets.readKey({ namespace: "creds", name: "k" }, "secret", "TSIG key", new AbortController().signal))).toBe("SecretForbidden");
    await t.stop();
  });
});
