import { describe, expect, it } from "vitest";
import { parseXml, child, toXml, XmlError } from "../../../src/vsphere/soap/xml.js";
import { decodeFault, classifyVsphereError, VimFault } from "../../../src/vsphere/errors.js";
import { readRetrieveResult, readUpdateSet } from "../../../src/vsphere/property-collector.js";
import { readInventoryObject } from "../../../src/vsphere/inventory.js";
import { readDevices, reconfigSpec, customizationSpec } from "../../../src/vsphere/vm-specs.js";
import { readSearchResults, readTaskState } from "../../../src/vsphere/tasks.js";
import { TransportError } from "../../../src/net/http.js";
import { PermanentError, TransientError, WaitError } from "../../../src/runtime/errors.js";

const env = (body: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`;

describe("SOAP parsing", () => {
  it("resolves xsi:type by namespace URI, whatever the prefix (vcsim writes XMLSchema-instance:type)", () => {
    const root = parseXml(
      env(
        `<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="VirtualMachine">vm-42</obj>` +
          `<propSet><name>name</name><val xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type="xsd:string">HR &amp; Payroll</val></propSet>` +
          `<propSet><name>datastore</name><val xsi:type="ArrayOfManagedObjectReference"><ManagedObjectReference type="Datastore">datastore-1</ManagedObjectReference></val></propSet>` +
          `<propSet><name>runtime.powerState</name><val xsi:type="VirtualMachinePowerState">poweredOn</val></propSet>` +
          `</objects><token>t1</token></returnval></RetrievePropertiesExResponse>`,
      ),
    );
    const rv = child(child(child(root, "Body"), "RetrievePropertiesExResponse"), "returnval");
    const { objects, token } = readRetrieveResult(rv);
    expect(token).toBe("t1");
    expect(objects[0]?.props.get("name")?.xsiType).toBe("string");
    const vm = readInventoryObject(objects[0]!);
    expect(vm).toMatchObject({ kind: "VirtualMachine", info: { name: "HR & Payroll", powerState: "poweredOn", datastores: [{ type: "Datastore", value: "datastore-1" }] } });
  });

  it("does not mistake an unrelated prefix's type attribute for xsi:type", () => {
    const n = parseXml(`<a xmlns:foo="urn:other"><b foo:type="X" type="VirtualMachine">vm-1</b></a>`);
    const b = child(n, "b")!;
    expect(b.xsiType).toBeUndefined();
    expect(b.attrs.type).toBe("VirtualMachine");
  });

  it("decodes character references in text, as vCenter writes apostrophes in fault strings", () => {
    const n = parseXml(`<f><faultstring>The resource &#39;RP5&#39; is in use &#x2014; &amp; busy</faultstring></f>`);
    expect(child(n, "faultstring")?.text).toBe("The resource 'RP5' is in use \u2014 & busy");
  });

  it("rejects malformed XML with a clear error", () => {
    expect(() => parseXml("<a><b></a>")).toThrow(XmlError);
    expect(() => parseXml("not xml at all")).toThrow(/malformed XML/);
  });

  it("decodes a fault's type and fields", () => {
    const root = parseXml(
      env(
        `<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>The attempted operation cannot be performed in the current state (Powered on).</faultstring>` +
          `<detail><InvalidPowerStateFault xmlns="urn:vim25" xsi:type="InvalidPowerState"><requestedState>poweredOn</requestedState><existingState>poweredOn</existingState></InvalidPowerStateFault></detail></soapenv:Fault>`,
      ),
    );
    const f = decodeFault(child(child(root, "Body"), "Fault")!);
    expect(f.faultType).toBe("InvalidPowerState");
    expect(f.field("existingState")).toBe("poweredOn");
    const login = decodeFault(child(child(parseXml(env(`<soapenv:Fault><faultstring>Login failure</faultstring><detail><InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"/></detail></soapenv:Fault>`)), "Body"), "Fault")!);
    expect(login.faultType).toBe("InvalidLogin");
  });

  it("classifies failures per the error taxonomy", () => {
    const c = (e: unknown) => classifyVsphereError(e, "do");
    expect(c(new VimFault("InvalidLogin", "x"))).toBeInstanceOf(PermanentError);
    expect(c(new VimFault("InvalidLogin", "x")).reason).toBe("InvalidCredentials");
    expect(c(new VimFault("TaskInProgress", "x"))).toBeInstanceOf(WaitError);
    expect(c(new VimFault("NotAuthenticated", "x"))).toBeInstanceOf(TransientError);
    expect(c(new VimFault("ManagedObjectNotFound", "x"))).toBeInstanceOf(TransientError);
    expect(c(new TransportError("tls", "bad cert"))).toMatchObject({ reason: "TLSVerificationFailed" });
    expect(c(new TransportError("tls", "bad cert"))).toBeInstanceOf(PermanentError);
    expect(c(new TransportError("timeout", "slow"))).toBeInstanceOf(TransientError);
    expect(c(new TransportError("unreachable", "refused")).reason).toBe("VCenterUnreachable");
  });

  it("merges the several updates of one UpdateSet in order", () => {
    const rv = parseXml(
      `<returnval xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><version>7</version><filterSet><filter type="PropertyFilter">f</filter>` +
        `<objectSet><kind>enter</kind><obj type="Folder">group-1</obj><changeSet><name>name</name><op>assign</op><val xsi:type="xsd:string">HR</val></changeSet></objectSet></filterSet>` +
        `<filterSet><filter type="PropertyFilter">f</filter><objectSet><kind>modify</kind><obj type="Folder">group-1</obj><changeSet><name>name</name><op>assign</op><val xsi:type="xsd:string">HR2</val></changeSet></objectSet></filterSet>` +
        `<truncated>true</truncated></returnval>`,
    );
    const set = readUpdateSet(rv)!;
    expect(set.version).toBe("7");
    expect(set.truncated).toBe(true);
    expect(set.updates.map((u) => `${u.kind} ${u.obj.value} ${u.changes[0]?.val?.text}`)).toEqual(["enter group-1 HR", "modify group-1 HR2"]);
  });

  it("reads task state, errors and datastore search results in both folder path styles", () => {
    const p = (xml: string) => new Map([["info.state", parseXml(`<val>${xml}</val>`)]]);
    expect(readTaskState({ obj: { type: "Task", value: "task-1" }, props: p("running") }).state).toBe("running");
    const err = readTaskState({
      obj: { type: "Task", value: "task-2" },
      props: new Map([
        ["info.state", parseXml("<val>error</val>")],
        ["info.error", parseXml(`<val xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><fault xsi:type="InvalidPowerState"><existingState>poweredOn</existingState></fault><localizedMessage>already on</localizedMessage></val>`)],
      ]),
    });
    expect(err.error?.faultType).toBe("InvalidPowerState");
    expect(err.error?.field("existingState")).toBe("poweredOn");
    const result = parseXml(
      `<val><HostDatastoreBrowserSearchResults><folderPath>[RP1]/HR Database</folderPath><file><path>HR Database.vmx</path></file></HostDatastoreBrowserSearchResults>` +
        `<HostDatastoreBrowserSearchResults><folderPath>[RP1] HR-App1</folderPath><file><path>HR-App1.vmx</path></file></HostDatastoreBrowserSearchResults>` +
        `<HostDatastoreBrowserSearchResults><folderPath>[RP1]</folderPath></HostDatastoreBrowserSearchResults></val>`,
    );
    expect(readSearchResults({ task: { type: "Task", value: "t" }, state: "success", result })).toEqual(["[RP1] HR Database/HR Database.vmx", "[RP1] HR-App1/HR-App1.vmx"]);
  });
});

describe("VM specs", () => {
  const devices = readDevices(
    parseXml(
      `<val xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
        `<VirtualDevice xsi:type="VirtualVmxnet3"><key>4000</key><deviceInfo><label>Network adapter 1</label><summary>Site1-LAN</summary></deviceInfo>` +
        `<backing xsi:type="VirtualEthernetCardNetworkBackingInfo"><deviceName>Site1-LAN</deviceName></backing>` +
        `<connectable><startConnected>true</startConnected><allowGuestControl>true</allowGuestControl><connected>true</connected><status>ok</status></connectable>` +
        `<controllerKey>100</controllerKey><unitNumber>7</unitNumber><addressType>assigned</addressType><macAddress>00:50:56:01:02:03</macAddress></VirtualDevice>` +
        `<VirtualDevice xsi:type="VirtualCdrom"><key>3000</key><deviceInfo><label>CD/DVD drive 1</label><summary>ISO</summary></deviceInfo>` +
        `<backing xsi:type="VirtualCdromIsoBackingInfo"><fileName>[LP1] iso/win.iso</fileName></backing>` +
        `<connectable><startConnected>true</startConnected><allowGuestControl>false</allowGuestControl><connected>false</connected></connectable><controllerKey>200</controllerKey><unitNumber>0</unitNumber></VirtualDevice>` +
        `<VirtualDevice xsi:type="VirtualDisk"><key>2000</key><capacityInKB>1</capacityInKB></VirtualDevice>` +
        `</val>`,
    ),
  );

  it("finds NICs and removable media with their backing and connection state", () => {
    expect(devices.nics).toEqual([
      expect.objectContaining({ key: 4000, deviceType: "VirtualVmxnet3", macAddress: "00:50:56:01:02:03", networkName: "Site1-LAN", connected: true, startConnected: true }),
    ]);
    expect(devices.media).toEqual([{ key: 3000, kind: "cdrom", connected: false, startConnected: true }]);
  });

  it("edits a NIC in place: whole device, new backing, connectable in WSDL order, other fields kept", () => {
    const xml = reconfigSpec(devices, { nics: [{ key: 4000, target: { kind: "standard", name: "Site2-Test-Isolated" }, startConnected: false }], toolsAfterPowerOn: true });
    expect(xml).toContain("<tools><afterPowerOn>true</afterPowerOn></tools><deviceChange><operation>edit</operation>");
    expect(xml).toContain('<device xsi:type="VirtualVmxnet3"><key>4000</key>');
    expect(xml).toContain('<backing xsi:type="VirtualEthernetCardNetworkBackingInfo"><deviceName>Site2-Test-Isolated</deviceName></backing>');
    expect(xml).toContain("<connectable><startConnected>false</startConnected><allowGuestControl>true</allowGuestControl><connected>true</connected><status>ok</status></connectable>");
    expect(xml).toContain("<macAddress>00:50:56:01:02:03</macAddress>");
    expect(xml.indexOf("<backing")).toBeLessThan(xml.indexOf("<connectable>"));
  });

  it("sets advanced settings after the device changes, typed as strings and escaped", () => {
    const xml = reconfigSpec(devices, { nics: [{ key: 4000, connected: false }], toolsAfterPowerOn: false, extraConfig: [{ key: "guestinfo.vmdr.reip", value: '{"ip":"a<b"}' }] });
    expect(xml).toContain("<tools><afterPowerOn>false</afterPowerOn></tools>");
    expect(xml).toContain('<extraConfig><key>guestinfo.vmdr.reip</key><value xsi:type="xsd:string">{&quot;ip&quot;:&quot;a&lt;b&quot;}</value></extraConfig>');
    expect(xml.indexOf("<deviceChange>")).toBeLessThan(xml.indexOf("<extraConfig>"));
    expect(xml.endsWith("</extraConfig></spec>")).toBe(true);
  });

  it("disconnects removable media and points them at no file", () => {
    const xml = reconfigSpec(devices, { disconnectMedia: true });
    expect(xml).toContain('<device xsi:type="VirtualCdrom"><key>3000</key>');
    expect(xml).toContain('<backing xsi:type="VirtualCdromRemotePassthroughBackingInfo">');
    expect(xml).toContain("<startConnected>false</startConnected><allowGuestControl>false</allowGuestControl><connected>false</connected>");
    expect(xml).not.toContain("win.iso");
  });

  it("refuses to edit a NIC the VM does not have", () => {
    expect(() => reconfigSpec(devices, { nics: [{ key: 4999, connected: false }] })).toThrow(/no NIC with key 4999/);
  });

  it("builds a fixed-IP customization with one adapter per NIC and escapes text", () => {
    const xml = customizationSpec({ os: "linux", domain: "dr.example.com", dnsServers: ["30.1.1.5"], nics: [{ ip: "30.1.1.101", subnetMask: "255.255.255.0", gateways: ["30.1.1.1"] }], hostName: "a<b" });
    expect(xml).toContain('<identity xsi:type="CustomizationLinuxPrep"><hostName xsi:type="CustomizationFixedName"><name>a&lt;b</name></hostName><domain>dr.example.com</domain></identity>');
    expect(xml).toContain('<nicSettingMap><adapter><ip xsi:type="CustomizationFixedIp"><ipAddress>30.1.1.101</ipAddress></ip><subnetMask>255.255.255.0</subnetMask><gateway>30.1.1.1</gateway></adapter></nicSettingMap>');
  });

  it("serializes what it parsed back to equivalent XML", () => {
    const n = parseXml(`<d xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="VirtualE1000"><key>1</key><x type="Network">net-1</x></d>`);
    expect(toXml(n)).toBe('<d xsi:type="VirtualE1000"><key>1</key><x type="Network">net-1</x></d>');
  });
});
