import { TransientError } from "../runtime/errors.js";
import type { ExportPolicy, ExportRule, ExportRuleSpec } from "./client.js";
import { DUPLICATE_ENTRY, EXPORT_POLICY_NOT_FOUND, EXPORT_RULE_EXISTS, hasCode, OntapReason, unexpectedResponse } from "./errors.js";
import { DONE } from "./jobs.js";
import type { Done } from "./jobs.js";
import { segment } from "./relationships.js";
import type { OpsContext } from "./relationships.js";
import { exportPolicySchema } from "./schemas.js";
import type { WireExportPolicy } from "./schemas.js";
import { filterValue } from "./transport.js";

/*
 * NFS export policies and rules (ONTAP REST API: /protocols/nfs/export-policies): the OntapClient verbs of the same names,
 * whose contracts client.ts states. Synchronous endpoints; creates observe first.
 */

const POLICIES = "/api/protocols/nfs/export-policies";

function toPolicy(w: WireExportPolicy): ExportPolicy {
  return {
    id: w.id,
    name: w.name,
    svm: w.svm.name,
    rules: (w.rules ?? []).map((r) => ({
      index: r.index,
      clients: (r.clients ?? []).map((c) => c.match),
      roRule: r.ro_rule ?? [],
      rwRule: r.rw_rule ?? [],
      ...(r.superuser ? { superuser: r.superuser } : {}),
      ...(r.protocols ? { protocols: r.protocols } : {}),
    })),
  };
}

export async function getExportPolicy(ctx: OpsContext, svm: string, name: string, signal: AbortSignal, what = "get export policy"): Promise<ExportPolicy | undefined> {
  const query = { "svm.name": filterValue(svm, what), name: filterValue(name, what), fields: "id,name,svm.name,rules" };
  const recs = (await ctx.t.list({ op: "exportpolicy_list", what, path: POLICIES, query, signal }, exportPolicySchema)).filter(
    (p) => p.name === name && p.svm.name === svm,
  );
  if (recs.length > 1) throw unexpectedResponse(what, `GET ${POLICIES}`, `${recs.length} export policies named ${svm}:${name}`);
  return recs[0] && toPolicy(recs[0]);
}

export async function createExportPolicy(ctx: OpsContext, svm: string, name: string, signal: AbortSignal): Promise<ExportPolicy> {
  const what = "create export policy";
  const existing = await getExportPolicy(ctx, svm, name, signal, what);
  if (existing) return existing;
  try {
    await ctx.t.requestSync({ op: "exportpolicy_create", what, path: POLICIES, signal }, "POST", { svm: { name: svm }, name });
    ctx.log?.info({ exportPolicy: `${svm}:${name}` }, "Created NFS export policy");
  } catch (err) {
    // Versions differ on the duplicate code; the read below decides.
    if (!hasCode(err, DUPLICATE_ENTRY) && (await getExportPolicy(ctx, svm, name, signal, what)) === undefined) throw err;
  }
  const now = await getExportPolicy(ctx, svm, name, signal, what);
  if (!now) throw new TransientError(`${what}: ${svm}:${name} not visible after create`, OntapReason.NotFound);
  return now;
}

const sameClients = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

export async function addExportRule(ctx: OpsContext, svm: string, policy: string, rule: ExportRuleSpec, signal: AbortSignal): Promise<ExportRule> {
  const what = "add export rule";
  const find = async (): Promise<{ p: ExportPolicy; r: ExportRule | undefined }> => {
    const p = await getExportPolicy(ctx, svm, policy, signal, what);
    if (!p) throw new TransientError(`${what}: export policy ${svm}:${policy} does not exist`, OntapReason.NotFound);
    return { p, r: p.rules.find((r) => sameClients(r.clients, rule.clients)) };
  };
  const before = await find();
  if (before.r) return before.r;
  const body = {
    clients: rule.clients.map((match) => ({ match })),
    ro_rule: rule.roRule,
    rw_rule: rule.rwRule,
    ...(rule.superuser ? { superuser: rule.superuser } : {}),
    ...(rule.protocols ? { protocols: rule.protocols } : {}),
  };
  try {
    await ctx.t.requestSync({ op: "exportrule_create", what, path: `${POLICIES}/${segment(String(before.p.id), what)}/rules`, signal }, "POST", body);
    ctx.log?.info({ exportPolicy: `${svm}:${policy}`, clients: rule.clients }, "Added NFS export rule");
  } catch (err) {
    if (!hasCode(err, EXPORT_RULE_EXISTS)) throw err;
  }
  const after = await find();
  if (!after.r) throw new TransientError(`${what}: rule for ${rule.clients.join(",")} not visible after create`, OntapReason.NotFound);
  return after.r;
}

/** Deletes an export policy (synchronous). DONE when it does not exist; InUse while a volume still uses it. */
export async function deleteExportPolicy(ctx: OpsContext, svm: string, name: string, signal: AbortSignal): Promise<Done> {
  const what = "delete export policy";
  const p = await getExportPolicy(ctx, svm, name, signal, what);
  if (!p) return DONE;
  try {
    await ctx.t.requestSync({ op: "exportpolicy_delete", what, path: `${POLICIES}/${segment(String(p.id), what)}`, signal }, "DELETE");
    ctx.log?.info({ exportPolicy: `${svm}:${name}` }, "Deleted NFS export policy");
  } catch (err) {
    if (!hasCode(err, EXPORT_POLICY_NOT_FOUND) && (await getExportPolicy(ctx, svm, name, signal, what)) !== undefined) throw err;
  }
  return DONE;
}
