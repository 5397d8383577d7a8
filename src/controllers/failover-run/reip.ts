import type { FailoverRun, VmReip } from "../../api/v1alpha1/failover-run.js";
import type { ProtectionGroup } from "../../api/v1alpha1/protection-group.js";
import type { Site } from "../../api/v1alpha1/site.js";
import { PermanentError } from "../../runtime/errors.js";
import { planVmNics } from "../../reip/plan.js";
import type { VmReipPlan } from "../../reip/plan.js";
import { compileIpCustomization } from "../../reip/rules.js";
import type { CompiledReip, ReipDirection } from "../../reip/rules.js";
import type { GuestRecord } from "../common/guest-nics.js";

/** Whether a run re-addresses its VMs: `spec.reIp`, by default on for the runs that move production, off for a Test. */
export function reipOn(run: FailoverRun): boolean {
  return run.spec.reIp ?? (run.spec.type !== "Test" && run.spec.type !== "CleanupTest");
}

/**
 * A group's rules for one direction, with the networks of the Site its VMs move to; undefined
 * when the group has no rules or overrides; a message when they are invalid (the run is refused
 * before anything is touched).
 */
export function groupReip(g: ProtectionGroup, direction: ReipDirection, target: Site | undefined): CompiledReip | string | undefined {
  const spec = g.spec.ipCustomization;
  if (!spec?.rules?.length && !spec?.overrides?.length) return undefined;
  try {
    return compileIpCustomization(spec, direction, target?.spec.networks ?? []);
  } catch (e) {
    if (e instanceof PermanentError) return `ProtectionGroup ${g.metadata.name}: ${e.message}`;
    throw e;
  }
}

/**
 * A VM's re-IP from what its guest last reported at the site it leaves; undefined when no NIC
 * changes (every NIC kept: DHCP, no matching rule, already there) or the guest never reported.
 */
export function vmReip(c: CompiledReip | undefined, vm: string, guest: GuestRecord | undefined, recorded?: VmReipPlan): VmReip | undefined {
  if (!c) return undefined;
  const p = planVmNics(c, vm, guest?.nics ?? [], recorded);
  if (!p.nics.some((n) => n.action === "reassign")) return undefined;
  return { os: guest?.os ?? "linux", ...(guest?.hostName ? { hostName: guest.hostName } : {}), direction: p.direction, nics: p.nics.map((n) => ({ ...n })) };
}

/**
 * A failback's re-IP: from what the guest reports at the recovery site now, back to what it had at
 * home (the failover's plan, recomputed with the group's `forward` rules from the shadow record,
 * gives each NIC its old gateway and DNS servers); the inverse rules where the record does not say.
 */
export function failbackReip(back: CompiledReip | undefined, forward: CompiledReip | undefined, vm: string, now: GuestRecord | undefined, before: GuestRecord | undefined): VmReip | undefined {
  if (!back || !now) return undefined;
  const recorded = before && forward ? planVmNics(forward, vm, before.nics) : undefined;
  return vmReip(back, vm, now, recorded);
}

/** A run's VM record's re-IP as the pure planner's type. */
export const reipPlanOf = (vm: { name: string; reip?: VmReip }): VmReipPlan => ({ vm: vm.name, direction: vm.reip?.direction ?? "failover", nics: vm.reip?.nics ?? [] });
