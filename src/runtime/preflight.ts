import type { Logger } from "../log/logger.js";
import type { Clock } from "../util/clock.js";
import { sleep } from "../util/clock.js";
import { backoffDelay } from "../util/backoff.js";
import { KubeApiError } from "../kube/errors.js";
import type { KubeRest } from "../kube/rest.js";

export class PreflightError extends Error {}

/**
 * Checks, before anything starts, that the API server answers, accepts our credentials and serves
 * our API group (the CRDs are installed). Retries unreachable servers and a missing group until
 * `timeoutMs`; fails at once on rejected credentials. Throws PreflightError with a message a human
 * can act on.
 */
export async function preflight(
  rest: KubeRest,
  groupVersion: string,
  probePlural: string,
  o: { timeoutMs: number; clock: Clock; log: Logger },
): Promise<void> {
  const server = rest.server.origin;
  const deadline = o.clock.monotonic() + o.timeoutMs;
  let lastProblem: string;
  for (let attempt = 0; ; attempt++) {
    try {
      // Listing one cluster-scoped object needs the group served (CRDs installed) and RBAC for it;
      // discovery alone is open to every authenticated user and would prove neither.
      await rest.request("GET", `/apis/${groupVersion}/${probePlural}`, { query: { limit: 1 }, timeoutMs: Math.min(10_000, o.timeoutMs) });
      return;
    } catch (err) {
      if (!(err instanceof KubeApiError)) throw err;
      if (err.statusCode === 401) throw new PreflightError(`the Kubernetes API server at ${server} rejected our credentials (401 Unauthorized)`);
      if (err.statusCode === 403) {
        throw new PreflightError(`the Kubernetes API server at ${server} does not let us list ${probePlural}.${groupVersion} (403 Forbidden); check the operator's RBAC`);
      }
      lastProblem =
        err.statusCode === 404
          ? `the API server at ${server} does not serve ${groupVersion}: install the CRDs (kubectl apply -k crds/)`
          : err.statusCode === 0
            ? `cannot reach the Kubernetes API server at ${server}: ${err.message.replace(/^GET \S+: /, "")}`
            : `the Kubernetes API server at ${server} answered HTTP ${err.statusCode}: ${err.message}`;
    }
    const remaining = deadline - o.clock.monotonic();
    if (remaining <= 0) throw new PreflightError(`${lastProblem} (gave up after ${Math.round(o.timeoutMs / 1000)}s)`);
    o.log.warn({ problem: lastProblem }, "Kubernetes API not ready; retrying");
    await sleep(o.clock, Math.min(remaining, backoffDelay(attempt, { baseMs: 500, maxMs: 5_000 })));
  }
}
