import { XMLParser } from "fast-xml-parser";

export const XSI_NS = "http://www.w3.org/2001/XMLSchema-instance";
export const SOAPENV_NS = "http://schemas.xmlsoap.org/soap/envelope/";
export const VIM_NS = "urn:vim25";

/**
 * One XML element, namespace-resolved where it matters: `xsiType` comes from the attribute whose
 * namespace URI is XMLSchema-instance, whatever prefix the server used (vcsim writes
 * `XMLSchema-instance:type`, vCenter `xsi:type`). Element names are local names (no prefix).
 */
export interface XNode {
  readonly name: string;
  readonly xsiType: string | undefined;
  /** Attributes without a namespace prefix (e.g. a moref's `type`). */
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly XNode[];
  /** Concatenated character data of this element (not of its children). */
  readonly text: string;
}

type Raw = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  preserveOrder: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

export class XmlError extends Error {}

/** Parses a document into its root element. Throws XmlError on malformed XML. */
export function parseXml(text: string): XNode {
  let raw: unknown;
  try {
    raw = parser.parse(text, true);
  } catch (err) {
    throw new XmlError(`malformed XML: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
  }
  const roots = (raw as Raw[]).map((r) => convert(r, new Map())).filter((n): n is XNode => n !== undefined);
  const root = roots[0];
  if (!root) throw new XmlError("malformed XML: no root element");
  return root;
}

/**
 * A copy of `s` that does not share memory with the response it was cut from. V8 represents a
 * substring of 13 or more characters as a slice that keeps the whole parent string alive, so one
 * property value kept in the inventory cache would pin its entire (often megabytes) SOAP response.
 */
function own(s: string): string {
  return s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);
}

/** XML character references ("&#39;", "&#x27;"), which the parser leaves as they are. */
function decodeCharRefs(s: string): string {
  if (!s.includes("&#")) return s;
  return s.replace(/&#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}));/g, (m, hex: string | undefined, dec: string | undefined) => {
    const cp = hex !== undefined ? parseInt(hex, 16) : Number(dec);
    return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
  });
}

function localName(qname: string): string {
  const i = qname.indexOf(":");
  return i < 0 ? qname : qname.slice(i + 1);
}

function convert(raw: Raw, scope: ReadonlyMap<string, string>): XNode | undefined {
  let tag: string | undefined;
  for (const k of Object.keys(raw)) {
    if (k !== ":@" && k !== "#text") tag = k;
  }
  if (tag === undefined) return undefined;
  const rawAttrs = (raw[":@"] ?? {}) as Record<string, string>;
  let local: Map<string, string> | undefined;
  for (const [k, v] of Object.entries(rawAttrs)) {
    if (k.startsWith("xmlns:")) (local ??= new Map(scope)).set(k.slice(6), v);
  }
  const ns = local ?? scope;
  const attrs: Record<string, string> = {};
  let xsiType: string | undefined;
  for (const [k, v] of Object.entries(rawAttrs)) {
    const i = k.indexOf(":");
    if (i < 0) {
      if (k !== "xmlns") attrs[k] = own(v);
    } else if (k.slice(0, i) !== "xmlns" && ns.get(k.slice(0, i)) === XSI_NS && k.slice(i + 1) === "type") {
      xsiType = localName(v);
    }
  }
  const children: XNode[] = [];
  let text = "";
  for (const c of (raw[tag] ?? []) as Raw[]) {
    if (Object.hasOwn(c, "#text")) text += String(c["#text"]);
    else {
      const n = convert(c, ns);
      if (n) children.push(n);
    }
  }
  return { name: localName(tag), xsiType, attrs, children, text: own(decodeCharRefs(text)) };
}

// ---- reading helpers: arrays of one and absent elements are the caller's everyday case ----

export function child(n: XNode | undefined, name: string): XNode | undefined {
  return n?.children.find((c) => c.name === name);
}

export function childrenNamed(n: XNode | undefined, name: string): XNode[] {
  return n ? n.children.filter((c) => c.name === name) : [];
}

/** The text of a descendant reached by a dotted path ("runtime.powerState"), or undefined. */
export function textAt(n: XNode | undefined, path: string): string | undefined {
  let cur = n;
  for (const p of path.split(".")) cur = child(cur, p);
  return cur?.text;
}

export function boolAt(n: XNode | undefined, path: string): boolean | undefined {
  const t = textAt(n, path);
  return t === undefined ? undefined : t === "true" || t === "1";
}

export function numberAt(n: XNode | undefined, path: string): number | undefined {
  const t = textAt(n, path);
  if (t === undefined || t === "") return undefined;
  const v = Number(t);
  return Number.isFinite(v) ? v : undefined;
}

// ---- writing ----

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c] ?? c);
}

/** Serializes a node back to XML (xsi:type kept), e.g. to send back a device we read, edited. */
export function toXml(n: XNode, nameOverride?: string): string {
  const name = nameOverride ?? n.name;
  let attrs = "";
  if (n.xsiType) attrs += ` xsi:type="${escapeXml(n.xsiType)}"`;
  for (const [k, v] of Object.entries(n.attrs)) attrs += ` ${k}="${escapeXml(v)}"`;
  if (n.children.length === 0) return `<${name}${attrs}>${escapeXml(n.text)}</${name}>`;
  return `<${name}${attrs}>${n.children.map((c) => toXml(c)).join("")}</${name}>`;
}

/** A new node (for editing what we read before sending it back). */
export function node(name: string, children: XNode[] = [], o: { xsiType?: string; text?: string; attrs?: Record<string, string> } = {}): XNode {
  return { name, xsiType: o.xsiType, attrs: o.attrs ?? {}, children, text: o.text ?? "" };
}

/** Replaces (or appends, at `after`'s position order) the named child. */
export function withChild(n: XNode, c: XNode): XNode {
  const i = n.children.findIndex((x) => x.name === c.name);
  const children = [...n.children];
  if (i >= 0) children[i] = c;
  else children.push(c);
  return { ...n, children };
}
