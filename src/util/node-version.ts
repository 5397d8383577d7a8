/** The Node.js release lines vmdr supports: the LTS lines 24 and 26, and later ones. */
export const SUPPORTED_NODE = "Node.js 24 or 26";

/**
 * Whether a Node.js version string (process.version, "v26.12.1") is on a supported line. 25 is an
 * odd, short-lived release line and is not supported; 20 and 22 are older than the supported lines.
 */
export function isSupportedNode(version: string): boolean {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  return major === 24 || major >= 26;
}
