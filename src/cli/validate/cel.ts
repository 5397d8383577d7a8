import { isIP } from "node:net";

/**
 * The CEL rules of our CRD schemas (x-kubernetes-validations), as JavaScript: the API server
 * evaluates the CEL; `vmdr validate` works offline and evaluates these twins. Keyed by the exact
 * rule text, so a rule added or changed in src/api without its twin here is caught by
 * test/unit/cli/validate.test.ts. Transition rules (they use oldSelf) only apply to updates and
 * are skipped.
 */
export interface CelTwin {
  readonly check: (self: unknown) => boolean;
  /** For rules with a messageExpression: the message it evaluates to. */
  readonly message?: (self: unknown) => string;
}

type Obj = Record<string, unknown>;
const has = (o: unknown, k: string): boolean => typeof o === "object" && o !== null && (o as Obj)[k] !== undefined;
const field = (o: unknown, k: string): unknown => (typeof o === "object" && o !== null ? (o as Obj)[k] : undefined);
const str = (f: (s: string) => boolean) => (self: unknown): boolean => typeof self !== "string" || f(self);

export function isCidr(s: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return false;
  const family = isIP(m[1] as string);
  const bits = Number(m[2]);
  return (family === 4 && bits <= 32) || (family === 6 && bits <= 128);
}

export function isHttpsUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === "https:" && u.hostname !== "";
  } catch {
    return false;
  }
}

const DISRUPTIVE = ["PlannedMigration", "Disaster", "Failback", "Reprotect"];

export const CEL_TWINS: Readonly<Record<string, CelTwin>> = {
  "isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != ''": { check: str(isHttpsUrl) },
  "isCIDR(self)": { check: str(isCidr) },
  "isIP(self)": { check: str((s) => isIP(s) !== 0) },
  "has(self.resourcePool) != has(self.vms)": { check: (s) => has(s, "resourcePool") !== has(s, "vms") },
  "self.action != 'Throttle' || has(self.resourcePool)": { check: (s) => field(s, "action") !== "Throttle" || has(s, "resourcePool") },
  "!(has(self.schedule) && has(self.updateInterval))": { check: (s) => !(has(s, "schedule") && has(s, "updateInterval")) },
  "!(self.source.siteRef == self.destination.siteRef && self.source.volume == self.destination.volume)": {
    check: (s) => {
      const a = field(s, "source");
      const b = field(s, "destination");
      return !(field(a, "siteRef") === field(b, "siteRef") && field(a, "volume") === field(b, "volume"));
    },
  },
  "has(self.folder) || has(self.namePatterns)": { check: (s) => has(s, "folder") || has(s, "namePatterns") },
  "self.protectedSiteRef != self.recoverySiteRef": { check: (s) => field(s, "protectedSiteRef") !== field(s, "recoverySiteRef") },
  "(self.type == 'CleanupTest' && has(self.testRun)) ? !(has(self.protectionGroups) && has(self.site)) : has(self.protectionGroups) != has(self.site)": {
    check: (s) =>
      field(s, "type") === "CleanupTest" && has(s, "testRun") ? !(has(s, "protectionGroups") && has(s, "site")) : has(s, "protectionGroups") !== has(s, "site"),
  },
  [`!(self.type in [${DISRUPTIVE.map((t) => `'${t}'`).join(", ")}]) || (has(self.confirmation) && self.confirmation == self.type)`]: {
    check: (s) => !DISRUPTIVE.includes(String(field(s, "type"))) || field(s, "confirmation") === field(s, "type"),
    message: (s) => `confirmation: a ${String(field(s, "type"))} run is disruptive; set spec.confirmation to "${String(field(s, "type"))}" to confirm it`,
  },
  "!has(self.testRun) || self.type == 'CleanupTest'": { check: (s) => !has(s, "testRun") || field(s, "type") === "CleanupTest" },
  "!has(self.testLocation) || self.type == 'Test'": { check: (s) => !has(s, "testLocation") || field(s, "type") === "Test" },
  "self.type != 'Test' || !has(self.networkMode) || self.networkMode != 'Mapped'": {
    check: (s) => field(s, "type") !== "Test" || !has(s, "networkMode") || field(s, "networkMode") !== "Mapped",
  },
};

/** Rules that compare with the previous object: they cannot fail on a create. */
export const isTransitionRule = (rule: string): boolean => /\boldSelf\b/.test(rule);
