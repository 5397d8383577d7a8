package vcenter

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/topology"
)

func TestMain(m *testing.M) {
	// The simulator logs every unknown method and object through the standard logger.
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// errorLog records the lab's error-level log records (recovered panics).
type errorLog struct {
	mu      sync.Mutex
	records []string
}

func (e *errorLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (e *errorLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "stack" {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		return true
	})
	e.mu.Lock()
	e.records = append(e.records, b.String())
	e.mu.Unlock()
	return nil
}
func (e *errorLog) WithAttrs([]slog.Attr) slog.Handler { return e }
func (e *errorLog) WithGroup(string) slog.Handler      { return e }

const envelope = `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>%s</soapenv:Body></soapenv:Envelope>`

// rawClient posts SOAP bodies as they are.
type rawClient struct {
	t      testing.TB
	url    string
	hc     *http.Client
	cookie string
}

func (r *rawClient) post(body string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, r.url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", "urn:vim25/8.0.3.0")
	if r.cookie != "" {
		req.Header.Set("Cookie", r.cookie)
	}
	res, err := r.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if c := res.Header.Get("Set-Cookie"); c != "" && r.cookie == "" {
		r.cookie, _, _ = strings.Cut(c, ";")
	}
	return res.StatusCode, b, err
}

func wellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// TestMalformedRequests sends hundreds of malformed, mistyped and misaddressed SOAP requests. Every
// one must be answered with a SOAP response or fault, no handler may panic, and the vCenter must
// keep working afterwards.
func TestMalformedRequests(t *testing.T) {
	ctx := context.Background()
	elog := &errorLog{}
	l := newLab(t, topology.DefaultOptions(), Options{GuestBootTime: -1, Logger: slog.New(elog)})
	v := l.vc[topology.Site1]
	rc := &rawClient{t: t, url: v.URL().String(), hc: &http.Client{Timeout: 15 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: l.pool}}}}
	code, _, err := rc.post(fmt.Sprintf(envelope, `<Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this><userName>`+testUser+`</userName><password>`+testPass+`</password></Login>`))
	if err != nil || code != 200 || rc.cookie == "" {
		t.Fatalf("login: %d %v", code, err)
	}

	targets := fuzzTargets(t, l)
	bodies := staticMalformed()
	rng := rand.New(rand.NewSource(1))
	for _, method := range fuzzMethods {
		for _, params := range fuzzParams(method) {
			picks := []types.ManagedObjectReference{targets[rng.Intn(len(targets))], targets[rng.Intn(len(targets))]}
			if tt, ok := methodTarget[method]; ok {
				for _, tr := range targets {
					if tr.Type == tt {
						picks = append(picks, tr)
						break
					}
				}
			}
			for _, this := range picks {
				bodies = append(bodies, fmt.Sprintf(envelope, fmt.Sprintf(`<%s xmlns="urn:vim25"><_this type="%s">%s</_this>%s</%s>`,
					method, this.Type, this.Value, params, method)))
			}
		}
	}
	t.Logf("%d requests", len(bodies))
	faults := 0
	for i, b := range bodies {
		code, res, err := rc.post(b)
		if err != nil {
			// A hang is a lock cycle in the lab or the simulator: print every goroutine to find it.
			_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
			t.Fatalf("request %d: %v\n%.600s", i, err, b)
		}
		switch code {
		case http.StatusOK:
		case http.StatusInternalServerError:
			faults++
			if !bytes.Contains(res, []byte("<soapenv:Fault>")) || bytes.Contains(res, []byte("<faultstring></faultstring>")) {
				t.Fatalf("request %d: fault without message:\n%s", i, res)
			}
		default:
			t.Fatalf("request %d: HTTP %d\n%.600s", i, code, b)
		}
		if err := wellFormed(res); err != nil {
			t.Fatalf("request %d: malformed response (%v):\n%s", i, err, res)
		}
	}
	t.Logf("%d faults", faults)

	// Whatever the requests started has finished, and nothing panicked.
	time.Sleep(200 * time.Millisecond)
	elog.mu.Lock()
	for _, r := range elog.records {
		t.Errorf("logged: %s", r)
	}
	elog.mu.Unlock()

	// The vCenter still works: a fresh client can read the inventory and power a VM off and on.
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := l.client(t, topology.Site1)
		f := finder(t, c, topology.Site1Datacenter)
		vms, err := f.VirtualMachineList(ctx, "*")
		if err != nil || len(vms) == 0 {
			t.Errorf("listing VMs after the fuzz: %d %v", len(vms), err)
			return
		}
		var on *object.VirtualMachine
		for _, vm := range vms {
			var m mo.VirtualMachine
			if err := vm.Properties(ctx, vm.Reference(), []string{"runtime"}, &m); err == nil &&
				m.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn && m.Runtime.ConnectionState == types.VirtualMachineConnectionStateConnected {
				on = vm
				break
			}
		}
		if on == nil {
			return
		}
		task, err := on.PowerOff(ctx)
		if err == nil {
			_, err = waitTask(t, task)
		}
		if err != nil {
			t.Errorf("power-off after the fuzz: %v", err)
		}
		_ = v.Truth()
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the vCenter is stuck after the fuzz")
	}
}

func staticMalformed() []string {
	deep := strings.Repeat("<a>", 5000) + strings.Repeat("</a>", 5000)
	return []string{
		"",
		"not xml at all",
		"<",
		`<?xml version="1.0"?>`,
		`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"></soapenv:Envelope>`,
		fmt.Sprintf(envelope, ""),
		fmt.Sprintf(envelope, "plain text"),
		fmt.Sprintf(envelope, `<NoSuchMethod xmlns="urn:vim25"><_this type="Folder">group-d1</_this></NoSuchMethod>`),
		fmt.Sprintf(envelope, `<RetrieveServiceContent xmlns="urn:other"><_this type="ServiceInstance">ServiceInstance</_this></RetrieveServiceContent>`),
		fmt.Sprintf(envelope, `<RetrieveServiceContent xmlns="urn:vim25"/>`),
		fmt.Sprintf(envelope, `<ManagedObjectReference xmlns="urn:vim25" type="Folder">group-d1</ManagedObjectReference>`),
		fmt.Sprintf(envelope, `<VirtualMachineConfigSpec xmlns="urn:vim25"><name>x</name></VirtualMachineConfigSpec>`),
		fmt.Sprintf(envelope, `<CurrentTime xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></CurrentTime><CurrentTime xmlns="urn:vim25"/>`),
		fmt.Sprintf(envelope, `<CurrentTime xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this>`),
		fmt.Sprintf(envelope, `<CurrentTime xmlns="urn:vim25"><_this type="ServiceInstance">&bogus;</_this></CurrentTime>`),
		fmt.Sprintf(envelope, "<CurrentTime xmlns=\"urn:vim25\"><_this type=\"ServiceInstance\">\xff\xfe</_this></CurrentTime>"),
		fmt.Sprintf(envelope, `<CurrentTime xmlns="urn:vim25">`+deep+`</CurrentTime>`),
		fmt.Sprintf(envelope, `<CurrentTime xmlns="urn:vim25"><_this type="ServiceInstance">`+strings.Repeat("x", 1<<20)+`</_this></CurrentTime>`),
		`<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>` + fmt.Sprintf(envelope, `<CurrentTime xmlns="urn:vim25"><_this type="ServiceInstance">&lol2;</_this></CurrentTime>`),
		fmt.Sprintf(envelope, `<PowerOnVM_Task xmlns="urn:vim25"><_this>vm-1</_this></PowerOnVM_Task>`),
		fmt.Sprintf(envelope, `<PowerOnVM_Task xmlns="urn:vim25"><_this type="">vm-1</_this></PowerOnVM_Task>`),
		fmt.Sprintf(envelope, `<PowerOnVM_Task xmlns="urn:vim25"><_this type="LabOverride">VirtualMachine</_this></PowerOnVM_Task>`),
		fmt.Sprintf(envelope, `<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this><specSet><propSet><type>LabOverride</type><all>true</all></propSet><objectSet><obj type="LabOverride">VirtualMachine</obj></objectSet></specSet><options/></RetrievePropertiesEx>`),
		fmt.Sprintf(envelope, `<Logout xmlns="urn:vim25"><_this type="Folder">group-d1</_this></Logout>`),
	}
}

// fuzzMethods are the methods the generated requests call, on targets of every type.
var fuzzMethods = []string{
	"PowerOnVM_Task", "PowerOffVM_Task", "ResetVM_Task", "SuspendVM_Task", "ShutdownGuest", "RebootGuest", "StandbyGuest",
	"AnswerVM", "ReconfigVM_Task", "CustomizeVM_Task", "UnregisterVM", "Destroy_Task", "Rename_Task", "RefreshStorageInfo",
	"Reload", "CloneVM_Task", "RelocateVM_Task", "MigrateVM_Task", "CreateSnapshot_Task", "RemoveAllSnapshots_Task",
	"MarkAsTemplate", "MarkAsVirtualMachine", "UpgradeVM_Task", "RegisterVM_Task", "CreateVM_Task", "MoveIntoFolder_Task",
	"CreateFolder", "CreateDatacenter", "CreateClusterEx", "RescanAllHba", "RescanHba", "RescanVmfs", "RefreshStorageSystem",
	"QueryUnresolvedVmfsVolume", "CreateNasDatastore", "CreateLocalDatastore", "RemoveDatastore", "QueryUnresolvedVmfsVolumes",
	"ResignatureUnresolvedVmfsVolume_Task", "SearchDatastore_Task", "SearchDatastoreSubFolders_Task", "QueryOptions",
	"UpdateOptions", "CancelTask", "SetTaskState", "UpdateProgress", "RetrievePropertiesEx", "RetrieveProperties",
	"ContinueRetrievePropertiesEx", "CancelRetrievePropertiesEx", "CreateFilter", "WaitForUpdatesEx", "CheckForUpdates",
	"CancelWaitForUpdates", "DestroyPropertyFilter", "CreateContainerView", "CreateListView", "DestroyView",
	"FindByInventoryPath", "FindByUuid", "FindByDatastorePath", "FindChild", "CreateResourcePool", "UpdateConfig",
	"DestroyChildren", "EnterMaintenanceMode_Task", "ExitMaintenanceMode_Task", "AddPortGroup", "RemovePortGroup",
	"AddDVPortgroup_Task", "ReconfigureDvs_Task", "FetchDVPorts", "QueryEvents", "CreateCollectorForEvents",
	"CreateCollectorForTasks", "SessionIsActive", "TerminateSession", "AcquireCloneTicket", "CloneSession",
	"ImpersonateUser", "Login", "SetLocale", "RefreshDatastore", "DeleteDatastoreFile_Task", "MakeDirectory",
	"CreateVirtualDisk_Task", "DeleteVirtualDisk_Task", "QueryVirtualDiskUuid", "PowerOnMultiVM_Task", "CurrentTime",
	"SetCustomValue", "QueryPerf", "PlaceVm", "AcquireTicket", "AddHost_Task", "ReconfigureComputeResource_Task",
}

// methodTarget is the managed object type each method belongs to, so every method is also called
// on an object of the right type.
var methodTarget = map[string]string{
	"PowerOnVM_Task": "VirtualMachine", "PowerOffVM_Task": "VirtualMachine", "ResetVM_Task": "VirtualMachine",
	"SuspendVM_Task": "VirtualMachine", "ShutdownGuest": "VirtualMachine", "RebootGuest": "VirtualMachine",
	"StandbyGuest": "VirtualMachine", "AnswerVM": "VirtualMachine", "ReconfigVM_Task": "VirtualMachine",
	"CustomizeVM_Task": "VirtualMachine", "UnregisterVM": "VirtualMachine", "Rename_Task": "VirtualMachine",
	"RefreshStorageInfo": "VirtualMachine", "Reload": "VirtualMachine", "CloneVM_Task": "VirtualMachine",
	"RelocateVM_Task": "VirtualMachine", "MigrateVM_Task": "VirtualMachine", "CreateSnapshot_Task": "VirtualMachine",
	"RemoveAllSnapshots_Task": "VirtualMachine", "MarkAsTemplate": "VirtualMachine", "MarkAsVirtualMachine": "VirtualMachine",
	"UpgradeVM_Task": "VirtualMachine", "AcquireTicket": "VirtualMachine", "RegisterVM_Task": "Folder", "CreateVM_Task": "Folder",
	"MoveIntoFolder_Task": "Folder", "CreateFolder": "Folder", "CreateDatacenter": "Folder", "CreateClusterEx": "Folder",
	"RescanAllHba": "HostStorageSystem", "RescanHba": "HostStorageSystem", "RescanVmfs": "HostStorageSystem",
	"RefreshStorageSystem": "HostStorageSystem", "QueryUnresolvedVmfsVolume": "HostStorageSystem",
	"CreateNasDatastore": "HostDatastoreSystem", "CreateLocalDatastore": "HostDatastoreSystem", "RemoveDatastore": "HostDatastoreSystem",
	"QueryUnresolvedVmfsVolumes": "HostDatastoreSystem", "ResignatureUnresolvedVmfsVolume_Task": "HostDatastoreSystem",
	"SearchDatastore_Task": "HostDatastoreBrowser", "SearchDatastoreSubFolders_Task": "HostDatastoreBrowser",
	"QueryOptions": "OptionManager", "UpdateOptions": "OptionManager", "CancelTask": "Task", "SetTaskState": "Task",
	"UpdateProgress": "Task", "RetrievePropertiesEx": "PropertyCollector", "RetrieveProperties": "PropertyCollector",
	"ContinueRetrievePropertiesEx": "PropertyCollector", "CancelRetrievePropertiesEx": "PropertyCollector",
	"CreateFilter": "PropertyCollector", "WaitForUpdatesEx": "PropertyCollector", "CheckForUpdates": "PropertyCollector",
	"CancelWaitForUpdates": "PropertyCollector", "CreateContainerView": "ViewManager", "CreateListView": "ViewManager",
	"FindByInventoryPath": "SearchIndex", "FindByUuid": "SearchIndex", "FindByDatastorePath": "SearchIndex", "FindChild": "SearchIndex",
	"CreateResourcePool": "ResourcePool", "UpdateConfig": "ResourcePool", "DestroyChildren": "ResourcePool",
	"EnterMaintenanceMode_Task": "HostSystem", "ExitMaintenanceMode_Task": "HostSystem", "AddPortGroup": "HostNetworkSystem",
	"RemovePortGroup": "HostNetworkSystem", "AddDVPortgroup_Task": "VmwareDistributedVirtualSwitch",
	"ReconfigureDvs_Task": "VmwareDistributedVirtualSwitch", "FetchDVPorts": "VmwareDistributedVirtualSwitch",
	"QueryEvents": "EventManager", "CreateCollectorForEvents": "EventManager", "CreateCollectorForTasks": "TaskManager",
	"SessionIsActive": "SessionManager", "TerminateSession": "SessionManager", "AcquireCloneTicket": "SessionManager",
	"CloneSession": "SessionManager", "ImpersonateUser": "SessionManager", "Login": "SessionManager", "SetLocale": "SessionManager",
	"RefreshDatastore": "Datastore", "DeleteDatastoreFile_Task": "FileManager", "MakeDirectory": "FileManager",
	"CreateVirtualDisk_Task": "VirtualDiskManager", "DeleteVirtualDisk_Task": "VirtualDiskManager",
	"QueryVirtualDiskUuid": "VirtualDiskManager", "PowerOnMultiVM_Task": "Datacenter", "CurrentTime": "ServiceInstance",
	"SetCustomValue": "VirtualMachine", "QueryPerf": "PerformanceManager", "PlaceVm": "ClusterComputeResource",
	"AddHost_Task": "ClusterComputeResource", "ReconfigureComputeResource_Task": "ClusterComputeResource",
}

// fuzzParams returns parameter sets for a method: none, junk, mistyped, and method-specific
// values near the edges.
func fuzzParams(method string) []string {
	out := []string{
		"",
		`<junk>value</junk><more xsi:type="NoSuchType"><x>1</x></more>`,
		`<spec xsi:type="Folder"><name>x</name></spec><name>` + strings.Repeat("n", 300) + `</name>`,
	}
	switch method {
	case "ReconfigVM_Task":
		out = append(out,
			`<spec><deviceChange><operation>edit</operation><device xsi:type="VirtualVmxnet3"><key>4000</key><backing xsi:type="VirtualEthernetCardNetworkBackingInfo"><deviceName>NoSuchNet</deviceName></backing></device></deviceChange></spec>`,
			`<spec><deviceChange><operation>edit</operation><device xsi:type="VirtualE1000"><key>99999</key></device></deviceChange></spec>`,
			`<spec><deviceChange><operation>add</operation></deviceChange></spec>`,
			`<spec><deviceChange><operation>remove</operation><device xsi:type="VirtualDisk"><key>2000</key></device><fileOperation>destroy</fileOperation></deviceChange></spec>`,
			`<spec><deviceChange><operation>add</operation><device xsi:type="VirtualDisk"><key>-1</key><controllerKey>77</controllerKey><backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName>[nope] x.vmdk</fileName><diskMode>persistent</diskMode></backing><capacityInKB>-5</capacityInKB></device><fileOperation>create</fileOperation></deviceChange></spec>`,
			`<spec><deviceChange><operation>edit</operation><device xsi:type="VirtualCdrom"><key>16000</key><backing xsi:type="VirtualCdromIsoBackingInfo"><fileName>[nope] x.iso</fileName></backing></device></deviceChange></spec>`,
			`<spec><extraConfig><key>SET.runtime.powerState</key><value xsi:type="xsd:string">bogus</value></extraConfig><numCPUs>-3</numCPUs><memoryMB>99999999999</memoryMB></spec>`,
			`<spec><guestId>notAGuest</guestId><uuid>not-a-uuid</uuid><tools><afterPowerOn>true</afterPowerOn></tools></spec>`,
		)
	case "CreateVM_Task":
		out = append(out,
			`<config><name>fz</name><files><vmPathName>[nope]</vmPathName></files></config><pool type="ResourcePool">resgroup-999</pool>`,
			`<config><name>fz</name><files><vmPathName>[RP1] ../../etc</vmPathName></files><guestId>bogus</guestId></config><pool type="ResourcePool">resgroup-999</pool>`,
			`<config><name></name></config>`,
		)
	case "RegisterVM_Task":
		out = append(out,
			`<path>[nope] x/x.vmx</path><asTemplate>false</asTemplate>`,
			`<path>[RP1] HR Database/HR Database.vmx</path><asTemplate>true</asTemplate>`,
			`<path>garbage</path><asTemplate>false</asTemplate><pool type="ResourcePool">nope</pool><host type="HostSystem">nope</host>`,
			`<path>[LP1] ../../../etc/passwd</path><asTemplate>false</asTemplate>`,
		)
	case "CustomizeVM_Task":
		out = append(out,
			`<spec><globalIPSettings/><nicSettingMap><adapter><ip xsi:type="CustomizationFixedIp"><ipAddress>bad</ipAddress></ip></adapter></nicSettingMap></spec>`,
			`<spec><identity xsi:type="CustomizationLinuxPrep"><hostName xsi:type="CustomizationFixedName"><name>x</name></hostName><domain>d</domain></identity><globalIPSettings/></spec>`,
		)
	case "SearchDatastore_Task", "SearchDatastoreSubFolders_Task":
		out = append(out, `<datastorePath>[RP1]</datastorePath>`, `<datastorePath>[nope] x</datastorePath><searchSpec><matchPattern>[</matchPattern></searchSpec>`,
			`<datastorePath>[RP1] ../..</datastorePath>`, `<datastorePath>garbage</datastorePath>`)
	case "UpdateOptions":
		out = append(out,
			`<changedValue><key>config.vmacore.soap.sessionTimeout</key><value xsi:type="xsd:string">bogus</value></changedValue>`,
			`<changedValue><key>LVM.EnableResignature</key><value xsi:type="xsd:boolean">true</value></changedValue>`,
			`<changedValue><key></key></changedValue>`)
	case "QueryOptions":
		out = append(out, `<name>LVM.</name>`, `<name>nothing.here</name>`)
	case "AnswerVM":
		out = append(out, `<questionId>_vmx1</questionId><answerChoice>9</answerChoice>`)
	case "MoveIntoFolder_Task":
		out = append(out, `<list type="VirtualMachine">vm-999999</list>`, `<list type="Folder">group-d1</list>`, `<list type="Datacenter">datacenter-1</list>`)
	case "CreateNasDatastore":
		out = append(out, `<spec><remoteHost>20.1.1.50</remoteHost><remotePath>/nope</remotePath><localPath>x</localPath><accessMode>readWrite</accessMode></spec>`,
			`<spec><remoteHost>20.1.1.50</remoteHost><remotePath>/RG2FV3</remotePath><localPath>../../x</localPath><accessMode>weird</accessMode></spec>`)
	case "CreateLocalDatastore":
		out = append(out, `<name>x</name><path>/nonexistent/dir</path>`)
	case "RemoveDatastore":
		out = append(out, `<datastore type="Datastore">datastore-999</datastore>`)
	case "RetrievePropertiesEx", "RetrieveProperties", "CreateFilter":
		spec := `<specSet><propSet><type>VirtualMachine</type><pathSet>config.hardware.device[4000].nope</pathSet><pathSet>..</pathSet></propSet><objectSet><obj type="Folder">group-d1</obj><selectSet xsi:type="TraversalSpec"><name>a</name><type>Folder</type><path>nope</path><selectSet><name>a</name></selectSet></selectSet></objectSet></specSet><options><maxObjects>-1</maxObjects></options>`
		if method == "CreateFilter" {
			spec = strings.NewReplacer("specSet", "spec", "<options><maxObjects>-1</maxObjects></options>", "<partialUpdates>true</partialUpdates>").Replace(spec)
		}
		out = append(out, spec)
	case "WaitForUpdatesEx":
		out = append(out, `<version>garbage</version><options><maxWaitSeconds>0</maxWaitSeconds><maxObjectUpdates>-1</maxObjectUpdates></options>`)
	case "ContinueRetrievePropertiesEx":
		out = append(out, `<token>nope</token>`)
	case "CreateContainerView":
		out = append(out, `<container type="VirtualMachine">vm-1</container><type>Bogus</type><recursive>true</recursive>`,
			`<container type="Folder">group-d1</container><type>VirtualMachine</type><recursive>true</recursive>`)
	case "FindByInventoryPath":
		out = append(out, `<inventoryPath>/../../..//</inventoryPath>`)
	case "FindByUuid":
		out = append(out, `<uuid>x</uuid><vmSearch>true</vmSearch><instanceUuid>true</instanceUuid>`)
	case "SetTaskState":
		out = append(out, `<state>success</state><result xsi:type="xsd:string">x</result>`, `<state>bogus</state>`)
	case "CreateResourcePool":
		out = append(out, `<name>p</name><spec><cpuAllocation><reservation>-1</reservation></cpuAllocation><memoryAllocation/></spec>`)
	case "TerminateSession":
		out = append(out, `<sessionId>nope</sessionId>`)
	case "RescanHba":
		out = append(out, `<hbaDevice>vmhba99</hbaDevice>`)
	case "Rename_Task":
		out = append(out, `<newName></newName>`, `<newName>`+strings.Repeat("x", 200)+`</newName>`)
	case "PlaceVm":
		out = append(out, `<placementSpec><placementType>relocate</placementType></placementSpec>`)
	case "AddHost_Task":
		out = append(out, `<spec><hostName></hostName></spec><asConnected>true</asConnected>`)
	}
	return out
}

// fuzzTargets lists references of every type the vCenter has, plus references to nothing.
func fuzzTargets(t testing.TB, l *lab) []types.ManagedObjectReference {
	v := l.vc[topology.Site1]
	seen := map[string]bool{}
	var out []types.ManagedObjectReference
	for _, o := range v.reg.AllReference("") {
		ref := o.Reference()
		if ref.Type == overrideType || seen[ref.Type] {
			continue
		}
		seen[ref.Type] = true
		out = append(out, ref)
	}
	out = append(out,
		types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-0"},
		types.ManagedObjectReference{Type: "Bogus", Value: "x"},
		types.ManagedObjectReference{Type: "Folder", Value: ""},
		types.ManagedObjectReference{Type: "PropertyCollector", Value: "propertyCollector"},
		types.ManagedObjectReference{Type: "SessionManager", Value: "SessionManager"},
	)
	sortRefs(out)
	return out
}

func sortRefs(refs []types.ManagedObjectReference) {
	for i := 1; i < len(refs); i++ {
		for j := i; j > 0 && refs[j].Type+refs[j].Value < refs[j-1].Type+refs[j-1].Value; j-- {
			refs[j], refs[j-1] = refs[j-1], refs[j]
		}
	}
}
