import { OperatorError, PermanentError, withMessage } from "../runtime/errors.js";
import type { KubeObject, ResourceType } from "../kube/types.js";
import type { SecretReference } from "../api/v1alpha1/common.js";
import { SECRET_KEYS } from "../api/v1alpha1/meta.js";

export type Secret = KubeObject & { data?: Record<string, string>; stringData?: Record<string, string>; type?: string };

export const SecretType: ResourceType<Secret> = { group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true };

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/**
 * Reads a Secret from wherever the caller keeps them (ReferencedSecrets' cache): undefined when it
 * does not exist; throws an OperatorError when it may not or cannot be read (yet).
 */
export type SecretLookup = (ref: SecretReference) => Secret | undefined;

/**
 * The username and password in a credentials Secret. A missing Secret or key is Permanent (a
 * human must create or fix it; the Secret's watch re-triggers the reconcile). The message names
 * the Secret and the key, never a value.
 */
export function readCredentials(lookup: SecretLookup, ref: SecretReference, what: string): Credentials {
  let secret: Secret | undefined;
  try {
    secret = lookup(ref);
  } catch (err) {
    throw err instanceof OperatorError ? withMessage(err, `${what}: ${err.message}`) : err;
  }
  return { username: secretValue(secret, ref, SECRET_KEYS.username, what), password: secretValue(secret, ref, SECRET_KEYS.password, what) };
}

/**
 * One key of a Secret (`data`, base64, or `stringData`), decoded. A missing Secret or an empty or
 * missing key is Permanent (SecretNotFound, SecretInvalid); the message names them, never a value.
 */
export function secretValue(secret: Secret | undefined, ref: SecretReference, key: string, what: string): string {
  if (!secret) throw new PermanentError(`${what}: Secret ${ref.namespace}/${ref.name} does not exist`, "SecretNotFound");
  const b64 = secret.data?.[key];
  const v = b64 !== undefined ? Buffer.from(b64, "base64").toString("utf8") : secret.stringData?.[key];
  if (!v) throw new PermanentError(`${what}: Secret ${ref.namespace}/${ref.name} has no "${key}" key`, "SecretInvalid");
  return v;
}
