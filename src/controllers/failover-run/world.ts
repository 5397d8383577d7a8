import type { ProtectionGroup, Site } from "../../api/v1alpha1/index.js";
import type { DnsClient } from "../../dns/client.js";
import { DEFAULT_SECRET_KEY, resolveDnsConfig } from "../../dns/config.js";
import { createDnsClient } from "../../dns/rfc2136.js";
import { PermanentError } from "../../runtime/errors.js";
import { InventoryIndex } from "../../sites/inventory-index.js";
import type { ControllerDeps } from "../index.js";
import type { RunWorld } from "./context.js";

/** How steps reach the world in the running operator: the Sites' clients and inventory watchers. */
export function runWorld(deps: ControllerDeps, site: (name: string) => Site | undefined): RunWorld {
  return {
    kube: deps.kube,
    clock: deps.clock,
    events: deps.events,
    site,
    vcenter: (s, signal) => deps.connections.vcenter(s, signal),
    ontap: (s, controller) => deps.connections.ontapClient(s, controller),
    inventory: (name) => {
      const w = deps.inventories.get(name);
      return w?.hasSynced() ? new InventoryIndex(w.objects()) : undefined;
    },
    dns: (g, signal) => groupDnsClient(deps, g, signal),
  };
}

/**
 * A client of a group's DNS server, with the TSIG secret read (not cached) from the Secret the
 * group names in its own namespace, under the same namespace rule as the Sites' credentials.
 */
export async function groupDnsClient(deps: Pick<ControllerDeps, "secrets" | "externalMetrics">, g: ProtectionGroup, signal: AbortSignal): Promise<DnsClient> {
  const settings = g.spec.dns;
  if (!settings) throw new PermanentError(`ProtectionGroup ${g.metadata.name} has no spec.dns`, "InvalidDnsConfig");
  const ref = { namespace: g.metadata.namespace ?? "", name: settings.tsig.secretRef.name };
  const secret = await deps.secrets.readKey(ref, settings.tsig.secretRef.key ?? DEFAULT_SECRET_KEY, `TSIG key of ProtectionGroup ${g.metadata.name}`, signal);
  return createDnsClient(resolveDnsConfig(settings, secret.trim()), deps.externalMetrics ? { metrics: deps.externalMetrics } : {});
}
