import type { Logger } from "../log/logger.js";
import type { KubeStore } from "../kube/store.js";
import { KubeApiError } from "../kube/errors.js";
import type { Watcher } from "../kube/watch.js";
import type { Site } from "../api/v1alpha1/site.js";
import type { SecretReference } from "../api/v1alpha1/common.js";
import { SECRET_KEYS } from "../api/v1alpha1/meta.js";
import { Informer } from "../runtime/informer.js";
import type { InformerHandlers } from "../runtime/informer.js";
import { messageOf, PermanentError, TransientError, WaitError } from "../runtime/errors.js";
import type { Clock } from "../util/clock.js";
import { secretValue, SecretType } from "./credentials.js";
import type { Secret, SecretLookup } from "./credentials.js";

/** Where the Sites come from (the shared Site informer). */
export interface SiteSource {
  list(): Site[];
  addHandlers(h: InformerHandlers<Site>): void;
  waitForSync(signal: AbortSignal): Promise<void>;
  hasSynced(): boolean;
}

export interface ReferencedSecretsDeps {
  readonly kube: KubeStore;
  readonly watcher: Watcher;
  readonly clock: Clock;
  readonly log: Logger;
  readonly sites: SiteSource;
  /** The only namespaces whose Secrets the operator reads (--secret-namespaces). */
  readonly allowedNamespaces: readonly string[];
  readonly resyncPeriodMs?: number;
}

/** The credentials Secrets a Site names, allowed or not. */
export function secretRefsOf(site: Site): SecretReference[] {
  return [site.spec.vcenter.credentialsSecretRef, ...site.spec.storage.controllers.map((c) => c.credentialsSecretRef)];
}

const keyOfRef = (ref: SecretReference): string => `${ref.namespace}/${ref.name}`;

interface Entry {
  readonly ref: SecretReference;
  readonly informer: Informer<Secret>;
  readonly stop: AbortController;
  /** The last list/watch failure; cleared when a list succeeds. */
  error: unknown;
  /** Resolves once the first list succeeded or failed: the entry's state is known either way. */
  readonly settled: Promise<void>;
  settle: () => void;
  started: boolean;
}

/**
 * The credentials Secrets that Sites name — only those, and only in the allowed namespaces.
 *
 * This is what keeps a Site from turning the operator into a confused deputy: Sites are
 * cluster-scoped and name a Secret anywhere, and the operator sends that Secret's password to the
 * URL the Site names. So:
 *  1. a reference outside `allowedNamespaces` is refused before any request is made
 *     (PermanentError, reason SecretNotAllowed), whatever RBAC would permit;
 *  2. each allowed reference gets its own list+watch restricted to that one name
 *     (fieldSelector metadata.name), so the cache holds exactly the referenced Secrets, and the
 *     requests are ones an RBAC Role limited by resourceNames can grant;
 *  3. only the username and password keys are kept.
 * The set of watches follows the Sites: a Site added or changed starts the watches it needs, and a
 * Secret no Site names any more is dropped from memory.
 */
export class ReferencedSecrets {
  private readonly entries = new Map<string, Entry>();
  private readonly allowed: ReadonlySet<string>;
  private readonly listeners = new Set<(ref: SecretReference) => void>();
  private signal: AbortSignal | undefined;

  constructor(private readonly deps: ReferencedSecretsDeps) {
    this.allowed = new Set(deps.allowedNamespaces);
    const follow = (): void => this.track(deps.sites.list());
    deps.sites.addHandlers({ onAdd: follow, onUpdate: follow, onDelete: follow });
  }

  /** Whether the operator may read Secrets in this namespace at all. */
  isAllowed(namespace: string): boolean {
    return this.allowed.has(namespace);
  }

  /**
   * The Secret from the cache (undefined when it does not exist). Throws PermanentError
   * SecretNotAllowed for a namespace outside the allowed set, PermanentError SecretForbidden when
   * RBAC refuses the read, TransientError SecretUnreadable on other API errors, and WaitError
   * WaitingForSecret until the first read of a newly referenced Secret completes.
   */
  readonly lookup: SecretLookup = (ref) => {
    this.checkAllowed(ref, "");
    const e = this.entries.get(keyOfRef(ref)) ?? this.add(ref);
    if (e.informer.hasSynced()) return e.informer.get(keyOfRef(ref));
    if (isForbidden(e.error)) throw forbidden(ref, "", e.error);
    if (e.error !== undefined) throw new TransientError(`Secret ${keyOfRef(ref)}: ${messageOf(e.error)}`, "SecretUnreadable", { cause: e.error });
    throw new WaitError(`waiting for the first read of Secret ${keyOfRef(ref)}`, "WaitingForSecret", 500);
  };

  /**
   * One key of a Secret that something other than a Site names (a group's TSIG key), read when it
   * is needed and not cached: one list restricted to that name (the Role grants list and watch
   * only). The same rules as `lookup`: SecretNotAllowed outside the allowed namespaces (before any
   * request), SecretForbidden when RBAC refuses, SecretNotFound / SecretInvalid for a missing
   * Secret or key, TransientError SecretUnreadable otherwise. The value never reaches a message.
   */
  async readKey(ref: SecretReference, key: string, what: string, signal: AbortSignal): Promise<string> {
    this.checkAllowed(ref, `${what}: `);
    let secret: Secret | undefined;
    try {
      const list = await this.deps.kube.list(SecretType, { namespace: ref.namespace, fieldSelector: `metadata.name=${ref.name}` }, signal);
      secret = list.items.find((s) => s.metadata.name === ref.name);
    } catch (err) {
      if (isForbidden(err)) throw forbidden(ref, `${what}: `, err);
      throw new TransientError(`${what}: Secret ${keyOfRef(ref)}: ${messageOf(err)}`, "SecretUnreadable", { cause: err });
    }
    return secretValue(secret, ref, key, what);
  }

  /** Refuses, before any request, a Secret outside the allowed namespaces (SecretNotAllowed). */
  private checkAllowed(ref: SecretReference, prefix: string): void {
    if (this.isAllowed(ref.namespace)) return;
    throw new PermanentError(
      `${prefix}Secret ${keyOfRef(ref)} is in namespace "${ref.namespace}", where the operator does not read Secrets ` +
        `(allowed: ${[...this.allowed].join(", ")}; see --secret-namespaces)`,
      "SecretNotAllowed",
    );
  }

  /** Calls l whenever a referenced Secret is created, changed or deleted. Returns an unsubscribe. */
  onChange(l: (ref: SecretReference) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** How many Secrets are being followed (for tests and diagnostics). */
  size(): number {
    return this.entries.size;
  }

  /** Runs the watches until signal aborts (while this replica leads). Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    for (const e of this.entries.values()) this.start(e);
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    for (const key of [...this.entries.keys()]) this.drop(key);
  }

  /** Resolves once the Sites are known and every Secret they name has been read (or failed to be). */
  async waitForSync(signal: AbortSignal): Promise<void> {
    await this.deps.sites.waitForSync(signal);
    await Promise.race([
      Promise.all([...this.entries.values()].map((e) => e.settled)),
      new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(new Error("Secret cache did not sync before shutdown")), { once: true })),
    ]);
  }

  hasSynced(): boolean {
    return this.deps.sites.hasSynced() && [...this.entries.values()].every((e) => e.informer.hasSynced() || e.error !== undefined);
  }

  /** Makes the set of watched Secrets exactly the allowed ones the Sites name. */
  private track(sites: readonly Site[]): void {
    const wanted = new Map<string, SecretReference>();
    for (const s of sites) for (const r of secretRefsOf(s)) if (this.isAllowed(r.namespace)) wanted.set(keyOfRef(r), r);
    for (const [key, ref] of wanted) if (!this.entries.has(key)) this.add(ref);
    for (const key of [...this.entries.keys()]) if (!wanted.has(key)) this.drop(key);
  }

  private add(ref: SecretReference): Entry {
    let settle: () => void = () => {};
    const settled = new Promise<void>((r) => (settle = r));
    const entry: Entry = {
      ref,
      stop: new AbortController(),
      error: undefined,
      settled,
      settle,
      started: false,
      informer: new Informer<Secret>({
        type: SecretType,
        namespace: ref.namespace,
        fieldSelector: `metadata.name=${ref.name}`,
        transform: keepCredentials,
        onError: (err) => {
          entry.error = err;
          entry.settle();
        },
        kube: this.deps.kube,
        watcher: this.deps.watcher,
        clock: this.deps.clock,
        log: this.deps.log,
        resyncPeriodMs: this.deps.resyncPeriodMs,
      }),
    };
    const changed = (): void => {
      entry.error = undefined;
      for (const l of this.listeners) l(ref);
    };
    entry.informer.addHandlers({ onAdd: changed, onUpdate: changed, onDelete: changed });
    this.entries.set(keyOfRef(ref), entry);
    if (this.signal) this.start(entry);
    return entry;
  }

  private start(e: Entry): void {
    if (e.started || !this.signal) return;
    e.started = true;
    const signal = AbortSignal.any([this.signal, e.stop.signal]);
    void e.informer.waitForSync(signal).then(
      () => {
        e.error = undefined;
        e.settle();
        // A Site that asked before the first read finished gets looked at again.
        for (const l of this.listeners) l(e.ref);
      },
      () => e.settle(),
    );
    void e.informer.run(signal);
    this.deps.log.debug({ secret: keyOfRef(e.ref) }, "Started following Secret");
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.stop.abort(new Error("no Site names this Secret"));
    e.settle();
    this.entries.delete(key);
  }
}

const isForbidden = (err: unknown): err is KubeApiError => err instanceof KubeApiError && (err.statusCode === 403 || err.statusCode === 401);

function forbidden(ref: SecretReference, prefix: string, cause: unknown): PermanentError {
  return new PermanentError(
    `${prefix}Secret ${keyOfRef(ref)}: the operator's ServiceAccount may not read it (bind the vmdr-secret-reader Role in namespace ${ref.namespace})`,
    "SecretForbidden",
    { cause },
  );
}

/** Only what readCredentials uses: the cache never holds the rest of a Secret. */
function keepCredentials(s: Secret): Secret {
  const pick = (m: Record<string, string> | undefined): Record<string, string> | undefined => {
    if (!m) return undefined;
    const out: Record<string, string> = {};
    for (const k of [SECRET_KEYS.username, SECRET_KEYS.password]) if (m[k] !== undefined) out[k] = m[k];
    return out;
  };
  const { name, namespace, uid, resourceVersion } = s.metadata;
  return { metadata: { name, namespace, uid, resourceVersion }, type: s.type, data: pick(s.data), stringData: pick(s.stringData) };
}
