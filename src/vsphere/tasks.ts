import { child, childrenNamed, numberAt, textAt } from "./soap/xml.js";
import type { XNode } from "./soap/xml.js";
import { VimFault } from "./errors.js";
import { readRef } from "./property-collector.js";
import type { ObjectContent } from "./property-collector.js";
import type { MoRef, TaskStateName } from "./types.js";

export const TASK_PROPERTIES = ["info.state", "info.error", "info.result", "info.progress", "info.name", "info.startTime", "info.completeTime"];

/** Where a task stands. `error` is set when state is "error"; `result` is the raw result value. */
export interface TaskState {
  readonly task: MoRef;
  readonly state: TaskStateName;
  readonly progress?: number;
  readonly error?: VimFault;
  readonly result?: XNode;
  readonly startTime?: string;
  readonly completeTime?: string;
}

export const isTerminal = (s: TaskState): boolean => s.state === "success" || s.state === "error";

/** Reads a task's info properties. */
export function readTaskState(c: ObjectContent): TaskState {
  const state = (c.props.get("info.state")?.text ?? "queued") as TaskStateName;
  const errorNode = c.props.get("info.error");
  let error: VimFault | undefined;
  if (errorNode && state === "error") {
    const fault = child(errorNode, "fault");
    const type = fault?.xsiType ?? "RuntimeFault";
    error = new VimFault(type, `${type}: ${textAt(errorNode, "localizedMessage") || "task failed"}`, fault);
  }
  return {
    task: c.obj,
    state,
    progress: c.props.get("info.progress") ? Number(c.props.get("info.progress")?.text) : undefined,
    error,
    result: c.props.get("info.result"),
    startTime: c.props.get("info.startTime")?.text,
    completeTime: c.props.get("info.completeTime")?.text,
  };
}

/** A task result that is a managed object reference (RegisterVM_Task's new VM). */
export function resultRef(s: TaskState): MoRef | undefined {
  return readRef(s.result);
}

/** Files a SearchDatastore(SubFolders)_Task found, as "[datastore] folder/file" paths. */
export function readSearchResults(s: TaskState): string[] {
  return searchResultPaths(s.result);
}

/** The same from a task's raw result value. */
export function searchResultPaths(result: XNode | undefined): string[] {
  const out: string[] = [];
  const results = result?.name === "HostDatastoreBrowserSearchResults" ? [result] : childrenNamed(result, "HostDatastoreBrowserSearchResults");
  for (const r of results.length > 0 ? results : (result?.children ?? [])) {
    const folder = textAt(r, "folderPath") ?? "";
    // vCenter writes "[ds] dir", vcsim "[ds]/dir"; normalise to "[ds] dir/".
    const m = /^\[([^\]]+)\]\s*\/?(.*?)\/?$/.exec(folder);
    if (!m) continue;
    const prefix = m[2] ? `[${m[1]}] ${m[2]}/` : `[${m[1]}] `;
    for (const f of childrenNamed(r, "file")) {
      const p = textAt(f, "path");
      if (p) out.push(prefix + p);
    }
  }
  return out;
}

/** Percentage, when the task reports one. */
export function progressOf(n: XNode | undefined): number | undefined {
  return numberAt(n, "progress");
}
