import { ConflictError } from "../../runtime/errors.js";
import { isConflict } from "../../kube/errors.js";
import type { KubeStore } from "../../kube/store.js";
import { keyOf } from "../../kube/types.js";
import type { KubeObject, ResourceType } from "../../kube/types.js";

export function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return obj.metadata.finalizers?.includes(finalizer) ?? false;
}

/**
 * Adds `finalizer` to obj if it is missing. Returns true when it wrote (the caller should end the
 * pass: the write re-enqueues the object, and the next pass sees it with the finalizer, which
 * avoids racing an early delete). The patch is conditional on obj's resourceVersion, so a
 * concurrent finalizer change by someone else is not overwritten: that is a ConflictError.
 */
export async function ensureFinalizer<T extends KubeObject>(
  kube: KubeStore,
  type: ResourceType<T>,
  obj: T,
  finalizer: string,
  signal?: AbortSignal,
): Promise<boolean> {
  if (hasFinalizer(obj, finalizer)) return false;
  await patchFinalizers(kube, type, obj, [...(obj.metadata.finalizers ?? []), finalizer], signal);
  return true;
}

/** Removes `finalizer` if present (conditional write, as ensureFinalizer). Returns true when it wrote. */
export async function removeFinalizer<T extends KubeObject>(
  kube: KubeStore,
  type: ResourceType<T>,
  obj: T,
  finalizer: string,
  signal?: AbortSignal,
): Promise<boolean> {
  if (!hasFinalizer(obj, finalizer)) return false;
  await patchFinalizers(kube, type, obj, (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer), signal);
  return true;
}

async function patchFinalizers<T extends KubeObject>(
  kube: KubeStore,
  type: ResourceType<T>,
  obj: T,
  finalizers: string[],
  signal?: AbortSignal,
): Promise<void> {
  try {
    await kube.mergePatch(type, keyOf(obj), { metadata: { resourceVersion: obj.metadata.resourceVersion, finalizers } }, signal);
  } catch (err) {
    if (isConflict(err)) throw new ConflictError(`finalizers of ${type.kind} ${obj.metadata.name} changed since read`, "Conflict", { cause: err });
    throw err;
  }
}
