import { escapeXml } from "./xml.js";
import type { MoRef } from "../types.js";

/** A fragment of XML we built (branded so raw user text can never be mistaken for markup). */
export type Xml = string & { readonly __xml: true };

const raw = (s: string): Xml => s as Xml;

/** `<name>text</name>`, or nothing when value is undefined. Text is escaped. */
export function text(name: string, value: string | number | boolean | undefined): Xml {
  return value === undefined ? raw("") : raw(`<${name}>${escapeXml(String(value))}</${name}>`);
}

/** `<name xsi:type="xsd:int">5</name>`: a value of an xsd type inside an `anyType` field. */
export function typedText(name: string, xsiType: string, value: string | number | boolean): Xml {
  return raw(`<${name} xsi:type="${escapeXml(xsiType)}">${escapeXml(String(value))}</${name}>`);
}

/** `<name type="T">value</name>`: a managed object reference. */
export function ref(name: string, r: MoRef | undefined): Xml {
  return r === undefined ? raw("") : raw(`<${name} type="${escapeXml(r.type)}">${escapeXml(r.value)}</${name}>`);
}

/** `<name xsi:type="T">children</name>`; children in the order given (which must be WSDL order). */
export function el(name: string, children: readonly (Xml | undefined)[], xsiType?: string): Xml {
  const t = xsiType ? ` xsi:type="${escapeXml(xsiType)}"` : "";
  return raw(`<${name}${t}>${children.filter((c) => c !== undefined).join("")}</${name}>`);
}

/** Repeats `name` for each value (how SOAP spells an array). */
export function each<T>(values: readonly T[] | undefined, f: (v: T) => Xml): Xml {
  return raw((values ?? []).map(f).join(""));
}

/** Marks XML produced elsewhere (e.g. toXml of a node we read) as a fragment. */
export function fragment(s: string): Xml {
  return raw(s);
}

/** The SOAP envelope around one call: `<Method xmlns="urn:vim25"><_this …/>params</Method>`. */
export function envelope(method: string, self: MoRef, params: readonly Xml[]): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ' +
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    `<soapenv:Body><${method} xmlns="urn:vim25">${ref("_this", self)}${params.join("")}</${method}></soapenv:Body></soapenv:Envelope>`
  );
}
