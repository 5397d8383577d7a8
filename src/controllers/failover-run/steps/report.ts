import type { CleanupEntry } from "../../../api/v1alpha1/index.js";
import type { RunContext } from "../context.js";

/** Adds an object a cleanup removed to the run's report (once per object and action). */
export function noteRemoved(ctx: RunContext, e: CleanupEntry): void {
  const report = (ctx.store.status.cleanup ??= { removed: [] });
  if (!report.removed.some((x) => x.kind === e.kind && x.name === e.name && x.site === e.site && x.action === e.action)) report.removed.push(e);
}
