import { createHash } from "node:crypto";
import type { Logger } from "../log/logger.js";
import type { ExternalMetrics } from "../metrics/external.js";
import { PermanentError } from "../runtime/errors.js";
import type { Site, StorageController, TlsSettings } from "../api/v1alpha1/site.js";
import type { EndpointTls } from "../net/http.js";
import { createOntapClient } from "../ontap/rest.js";
import type { OntapClient } from "../ontap/client.js";
import { SessionCache } from "../vsphere/session.js";
import type { VsphereConnectionOptions, VsphereSession } from "../vsphere/session.js";
import { VcenterClient } from "../vsphere/vcenter.js";
import type { VsphereClient } from "../vsphere/client.js";
import { classifyVsphereError } from "../vsphere/errors.js";
import type { Clock } from "../util/clock.js";
import { readCredentials } from "./credentials.js";
import type { SecretLookup } from "./credentials.js";

export interface SiteConnectionsDeps {
  readonly secrets: SecretLookup;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: ExternalMetrics;
  /** Upper bound of one vCenter or ONTAP call. */
  readonly callTimeoutMs?: number;
}

function tlsOf(t: TlsSettings | undefined): EndpointTls {
  return { caBundle: t?.caBundle, insecureSkipVerify: t?.insecureSkipVerify ?? false };
}

/**
 * Clients for a Site's endpoints, built from the Site's spec and its credentials Secrets. vCenter
 * sessions come from one shared SessionCache; ONTAP clients are cached per endpoint, user, password
 * hash and trust, so a changed Secret or CA yields a new client and the old one is closed.
 * Every controller gets its clients here; nothing else constructs them.
 */
export class SiteConnections {
  readonly sessions: SessionCache;
  private readonly ontap = new Map<string, { key: string; client: OntapClient }>();

  constructor(private readonly deps: SiteConnectionsDeps) {
    this.sessions = new SessionCache({ clock: deps.clock, metrics: deps.metrics, log: deps.log });
  }

  /** How to reach the Site's vCenter (credentials read now from the Secret). */
  vcenterOptions(site: Site): VsphereConnectionOptions {
    const v = site.spec.vcenter;
    const creds = readCredentials(this.deps.secrets, v.credentialsSecretRef, `Site ${site.metadata.name} vCenter credentials`);
    return { url: v.url, username: creds.username, password: creds.password, tls: tlsOf(v.tls), timeoutMs: this.deps.callTimeoutMs ?? 60_000 };
  }

  /** A logged-in session with the Site's vCenter (shared, re-used while alive). */
  vcenterSession(site: Site, signal?: AbortSignal): Promise<VsphereSession> {
    return this.sessions.get(this.vcenterOptions(site), signal);
  }

  /** A client for the Site's vCenter; a failure to log in arrives classified (TLS, credentials, unreachable). */
  async vcenter(site: Site, signal?: AbortSignal): Promise<VsphereClient> {
    try {
      return new VcenterClient(await this.vcenterSession(site, signal));
    } catch (err) {
      throw classifyVsphereError(err, `vCenter ${site.spec.vcenter.url}`);
    }
  }

  /** The Site's storage controller by name (the first one when name is undefined). */
  controller(site: Site, name: string | undefined): StorageController {
    const cs = site.spec.storage.controllers;
    const c = name === undefined ? cs[0] : cs.find((x) => x.name === name);
    if (!c) {
      throw new PermanentError(
        `Site ${site.metadata.name} has no storage controller${name ? ` named "${name}"` : ""} (it has: ${cs.map((x) => x.name).join(", ") || "none"})`,
        "InvalidSpec",
      );
    }
    return c;
  }

  /** A client for one of the Site's ONTAP controllers. */
  ontapClient(site: Site, controllerName?: string): OntapClient {
    const c = this.controller(site, controllerName);
    const creds = readCredentials(this.deps.secrets, c.credentialsSecretRef, `Site ${site.metadata.name} controller ${c.name} credentials`);
    const tls = tlsOf(c.tls);
    const key = createHash("sha256")
      .update([c.url, creds.username, creds.password, tls.caBundle ?? "", String(tls.insecureSkipVerify)].join("\u0000"))
      .digest("hex");
    const id = `${site.metadata.name}/${c.name}`;
    const cached = this.ontap.get(id);
    if (cached?.key === key) return cached.client;
    cached?.client.close();
    const client = createOntapClient(
      { url: c.url, username: creds.username, password: creds.password, tls, timeoutMs: this.deps.callTimeoutMs ?? 30_000 },
      { log: this.deps.log, metrics: this.deps.metrics },
    );
    this.ontap.set(id, { key, client });
    return client;
  }

  /** Closes everything held for a Site (on its deletion). */
  async release(site: Site): Promise<void> {
    for (const [id, e] of this.ontap) {
      if (id.startsWith(`${site.metadata.name}/`)) {
        e.client.close();
        this.ontap.delete(id);
      }
    }
    try {
      const o = this.vcenterOptions(site);
      await this.sessions.release(o.url, o.username);
    } catch {
      /* credentials already gone: the session ages out */
    }
  }

  async closeAll(): Promise<void> {
    for (const e of this.ontap.values()) e.client.close();
    this.ontap.clear();
    await this.sessions.closeAll();
  }
}
