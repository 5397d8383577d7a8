import type { Site } from "../../api/v1alpha1/index.js";
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
  };
}
