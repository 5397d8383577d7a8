import { pino } from "pino";
import type { Logger } from "pino";
import { noExternalMetrics } from "../../src/metrics/external.js";
import { systemClock } from "../../src/util/clock.js";
import { VsphereSession } from "../../src/vsphere/session.js";
import type { VsphereConnectionOptions } from "../../src/vsphere/session.js";
import { VcenterClient } from "../../src/vsphere/vcenter.js";
import type { Lab, SiteId } from "./lab.js";

/** Connection options for a lab site's vCenter, trusting the lab's CA. */
export function vcenterOptions(lab: Lab, site: SiteId, o: Partial<VsphereConnectionOptions> = {}): VsphereConnectionOptions {
  const e = lab.site(site).vcenter;
  return { url: e.url, username: e.username, password: e.password, tls: { caBundle: lab.caPem() }, timeoutMs: 30_000, ...o };
}

/** A logged-in client for a lab site's vCenter. */
export async function vcenterClient(lab: Lab, site: SiteId, log: Logger = pino({ level: "silent" })): Promise<{ session: VsphereSession; client: VcenterClient }> {
  const session = await VsphereSession.open(vcenterOptions(lab, site), { clock: systemClock, metrics: noExternalMetrics, log });
  return { session, client: new VcenterClient(session) };
}
