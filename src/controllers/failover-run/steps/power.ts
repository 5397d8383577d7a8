import type { VmRecord } from "../../../api/v1alpha1/index.js";
import type { PriorityGroup } from "../../../api/v1alpha1/protection-group.js";
import { completed, started } from "../../../engine/types.js";
import type { ActResult, BatchStep, ItemObservation } from "../../../engine/types.js";
import { PermanentError } from "../../../runtime/errors.js";
import { parseDuration } from "../../../util/duration.js";
import { moref } from "../../../vsphere/types.js";
import type { VmInfo, VmQuestion } from "../../../vsphere/types.js";
import type { RunContext } from "../context.js";
import { notReady } from "../readiness.js";
import { verifyVmNics } from "../../../reip/plan.js";
import { reipPlanOf } from "../reip.js";
import { observedNics } from "../../common/guest-nics.js";
import { byGuestScript, disarmGuestScript, seenDisarmed } from "./guest-script.js";
import { networkModeOf } from "./isolate.js";

/**
 * The questions this process answered, by VM (Site/ref → question id), until the VM is through:
 * the inventory shows an answered question for a moment longer, and a second answer would be
 * refused (the question id is no longer pending).
 */
const answered = new Map<string, string>();
const answerKey = (ctx: RunContext, vm: VmRecord, ref: string): string => `${ctx.recoverySite(vm.group).metadata.name}/${ref}`;

/** How long after power-on a guest may still report other addresses than its re-IP before the VM fails. */
export const ADDRESS_SETTLE_MS = 120_000;

const settled = (v: VmRecord): boolean => v.state === "Ready" || v.state === "Failed" || v.state === "Skipped";

/** The recovery site's view of a recovered VM. */
export function vmAtRecovery(ctx: RunContext, vm: VmRecord): VmInfo | undefined {
  const inv = ctx.inventory(ctx.recoverySite(vm.group).metadata.name);
  return (vm.registeredAs ? inv.vm(vm.registeredAs) : undefined) ?? inv.vmByInstanceUuid(vm.instanceUuid);
}

function priorityGroup(ctx: RunContext, vm: VmRecord): PriorityGroup | undefined {
  return ctx.group(vm.group).spec.powerOn?.priorityGroups?.find((p) => p.name === vm.priorityGroup);
}

/**
 * The "moved or copied" question's answer by its meaning, never by a fixed key: "I moved it" keeps
 * the BIOS and instance UUIDs and MAC addresses (on current vSphere the key 2 of the VMbook's
 * script means "I copied it", which would change all of them).
 */
export function movedChoice(q: VmQuestion): string | undefined {
  return q.choices.find((c) => /moved/i.test(c.label))?.key;
}

/** Why a VM must wait, be skipped, or undefined when its wave and dependencies allow it to start. */
function gate(ctx: RunContext, vm: VmRecord): { wait?: string; skip?: string } {
  // What the run's records say is looked up once per look, not once per VM (a run has thousands).
  const earlier = ctx.memo("power:open-wave", () => {
    let first: VmRecord | undefined;
    for (const v of ctx.vms) if (!settled(v) && (first === undefined || v.wave < first.wave)) first = v;
    return first;
  });
  if (earlier && earlier.wave < vm.wave) return { wait: `waiting for wave ${earlier.wave + 1} (${earlier.name})` };
  for (const dep of priorityGroup(ctx, vm)?.dependsOn ?? []) {
    const { bad, pending } = ctx.memo(`power:group:${vm.group}/${dep}`, () => {
      const theirs = ctx.vms.filter((v) => v.group === vm.group && v.priorityGroup === dep);
      return { bad: theirs.find((v) => v.state === "Failed" || v.state === "Skipped"), pending: theirs.find((v) => v.state !== "Ready") };
    });
    if (bad) return { skip: `priority group ${dep}, which ${vm.priorityGroup ?? "its group"} depends on, did not recover (${bad.name}: ${bad.state})` };
    if (pending) return { wait: `waiting for priority group ${dep} (${pending.name})` };
  }
  return {};
}

/**
 * PowerOnVms: by priority waves (a wave starts when every VM of the earlier ones is ready or has
 * failed) and the dependencies of priority groups (a group whose dependency did not recover is
 * skipped), at most `powerOn.concurrency` operations at once, each VM with its own timeout. The
 * "moved or copied" question is answered for this run's VMs only. A VM is done once it is ready
 * (readiness.ts); a VM that fails does not hold back unrelated ones.
 */
export const powerOnVms: BatchStep<RunContext, VmRecord> = {
  kind: "batch",
  name: "PowerOnVms",
  idempotent: true,
  stream: true,
  maxAttempts: 4,
  failWhenItemsFail: false,
  items: (ctx) => ctx.vms.filter((v) => v.state !== "Failed" && v.state !== "Skipped"),
  label: (v) => v.name,
  concurrency: (ctx) => ctx.run.spec.powerOn?.concurrency ?? 10,
  itemTimeoutMs: (ctx, vm) => parseDuration(priorityGroup(ctx, vm)?.timeout ?? ctx.run.spec.powerOn?.vmTimeout ?? "10m"),
  async observeItem(ctx, vm, op): Promise<ItemObservation> {
    const info = vmAtRecovery(ctx, vm);
    if (!info) return { kind: "Failed", message: `no longer registered at Site ${ctx.recoverySite(vm.group).metadata.name}` };
    const key = answerKey(ctx, vm, info.ref.value);
    if (info.question && answered.get(key) !== info.question.id) return { kind: "NeedsAct" };
    if (info.powerState === "poweredOn") {
      if (vm.state !== "PoweredOn" && vm.state !== "Ready") {
        vm.state = "PoweredOn";
        vm.poweredOnAt = new Date(ctx.now()).toISOString();
      }
      const g = ctx.group(vm.group);
      const missing = await notReady(info, priorityGroup(ctx, vm)?.readiness ?? g.spec.powerOn?.defaultReadiness, ctx.signal);
      if (missing) return { kind: "InProgress", pollAfterMs: 1_000, message: missing };
      if (vm.reip) {
        const v = verifyVmNics(reipPlanOf(vm), observedNics(info));
        if (!v.ok) {
          // Tools may report the old address for a moment while the customization runs.
          const up = vm.poweredOnAt ? ctx.now() - Date.parse(vm.poweredOnAt) : 0;
          if (up < ADDRESS_SETTLE_MS) return { kind: "InProgress", pollAfterMs: 1_000, message: `re-IP not applied yet: ${v.message}` };
          return { kind: "Failed", message: `re-IP: ${v.message}` };
        }
        vm.addresses = v.nics.flatMap((n) => n.observed);
        // Re-addressed by its own script with its NICs disconnected: connected now, scripts off.
        // (A Test with networkMode Disconnected keeps them disconnected.)
        if (byGuestScript(ctx, vm)) {
          if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 500, message: "connecting its NICs, re-IP script off" };
          const connect = networkModeOf(ctx) !== "Disconnected";
          const off = info.toolsAfterPowerOn === false && (!connect || (info.guestNics ?? []).every((n) => n.connected));
          if (!off && !seenDisarmed(ctx, info.ref, connect)) return { kind: "NeedsAct" };
        }
      }
      vm.state = "Ready";
      vm.readyAt = new Date(ctx.now()).toISOString();
      answered.delete(key);
      return { kind: "Done" };
    }
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 500 };
    const g = gate(ctx, vm);
    if (g.skip) return { kind: "Skipped", message: g.skip };
    if (g.wait) return { kind: "Waiting", message: g.wait, pollAfterMs: 1_000 };
    return { kind: "NeedsAct" };
  },
  async actItem(ctx, vm): Promise<ActResult> {
    const info = vmAtRecovery(ctx, vm);
    const site = ctx.recoverySite(vm.group);
    const client = await ctx.vcenter(site);
    const ref = info?.ref ?? moref("VirtualMachine", vm.registeredAs ?? "");
    if (info?.question && answered.get(answerKey(ctx, vm, info.ref.value)) === info.question.id) return completed; // answered a moment ago
    if (info?.question) {
      const key = movedChoice(info.question);
      if (key === undefined) throw new PermanentError(`the question on ${vm.name} has no "moved" choice: ${info.question.text}`, "UnexpectedQuestion");
      await client.answerQuestion(ref, info.question.id, key, ctx.signal);
      answered.set(answerKey(ctx, vm, ref.value), info.question.id);
      vm.questionAnswered = "moved";
      ctx.log.info({ vm: vm.name }, "Answered the moved-or-copied question with moved");
      return completed;
    }
    if (info?.powerState === "poweredOn" && vm.reip && byGuestScript(ctx, vm)) return disarmGuestScript(ctx, vm, info.ref, networkModeOf(ctx) !== "Disconnected");
    const t = await client.powerOn(ref, ctx.signal);
    if (t === "Done") return completed;
    return started({ system: "vsphere", endpoint: site.metadata.name, kind: "task", id: t.task.value, startedAt: new Date(ctx.now()).toISOString() });
  },
  failItem: (ctx, vm, message, outcome) => {
    if (vm.registeredAs) answered.delete(answerKey(ctx, vm, vm.registeredAs));
    vm.state = outcome;
    vm.message = `power on: ${message}`.slice(0, 1024);
  },
};

/** PowerOffVms (cleanup): every VM the run registered or reused is powered off (a test VM holds no state worth a shutdown). */
export const powerOffVms: BatchStep<RunContext, VmRecord> = {
  kind: "batch",
  name: "PowerOffVms",
  idempotent: true,
  stream: true,
  failWhenItemsFail: true,
  items: (ctx) => ctx.vms.filter((v) => v.registeredAs !== undefined || v.placeholder === true),
  label: (v) => v.name,
  concurrency: (ctx) => ctx.run.spec.powerOn?.concurrency ?? 10,
  observeItem(ctx, vm, op): ItemObservation {
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 500 };
    const info = vmAtRecovery(ctx, vm);
    return !info || info.powerState !== "poweredOn" ? { kind: "Done" } : { kind: "NeedsAct" };
  },
  async actItem(ctx, vm) {
    const site = ctx.recoverySite(vm.group);
    const info = vmAtRecovery(ctx, vm);
    if (!info) return completed;
    const t = await (await ctx.vcenter(site)).powerOff(info.ref, ctx.signal);
    return t === "Done" ? completed : started({ system: "vsphere", endpoint: site.metadata.name, kind: "task", id: t.task.value, startedAt: new Date(ctx.now()).toISOString() });
  },
  failItem() {
    /* the step fails: the cleanup cannot unmount under a running VM */
  },
};
