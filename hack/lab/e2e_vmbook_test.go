package main

// The VMbook's manual procedures (chapter 11), run against the whole program over its real
// APIs: ONTAP REST for the arrays, the VIM API for the vCenters, the control API for the clock.
// Between them is the real storage fabric: what a rescan finds is what the array presents.

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/topology"
)

const (
	smPath   = "svm2:RG1FV1_SM" // the HR group's first replica (datastore RP1)
	rg1Path  = "svm1:RG1FV1"
	smPath2  = "svm2:RG1FV2_SM" // the HR group's second replica (datastore RP2)
	hrFolder = topology.HRFolder
)

// failedOver is the state after the VMbook's failover of datastore RP1 to Site 2.
type failedOver struct {
	s1, s2 *site
	bcdr   []*object.HostSystem
	ds     *object.Datastore      // RP1 at Site 2
	vm     *object.VirtualMachine // the recovered VM, powered on at Site 2
	src    mo.VirtualMachine      // the same VM as Site 1 has it
	folder *object.Folder
	pool   *object.ResourcePool
}

// failover runs the VMbook's recovery of RP1 at Site 2 and checks every step: quiesce and break
// RG1FV1_SM, rescan the BCDR hosts, find the VM folders and their .vmx files, register one VM into
// a folder and pool like Site 1's, check its devices and identities, power it on, answer the
// "moved or copied" question with "moved", and wait (on the lab clock) for its guest to boot.
// The lab must run with --guest-boot 1m.
func failover(e *labEnv, name string) *failedOver {
	t := e.t
	t.Helper()
	fo := &failedOver{s1: e.site(topology.Site1), s2: e.site(topology.Site2)}
	fo.bcdr = fo.s2.hosts(topology.Site2BCDRCluster)
	tv := topologyVM(t, name)
	fo.src = fo.s1.vmProps(fo.s1.vm(tv.Folder+"/"+tv.Name), "config")

	// A mirror destination is read-only: the BCDR hosts see its LUN but mount nothing.
	fo.s2.rescan(fo.bcdr)
	if fo.s2.datastore("RP1") != nil {
		t.Fatal("RP1 is mounted at Site 2 while RG1FV1_SM is a mirror destination")
	}

	// Quiesce, then break the relationship at Site 2: the replica becomes a writable volume.
	e.settle(topology.Site2, smPath)
	e.setState(topology.Site2, smPath, "paused")
	if s := str(e.relationship(topology.Site2, smPath), "state"); s != "paused" {
		t.Fatalf("state %q after quiesce", s)
	}
	e.setState(topology.Site2, smPath, "broken_off")
	if s := str(e.relationship(topology.Site2, smPath), "state"); s != "broken_off" {
		t.Fatalf("state %q after break", s)
	}
	if typ := str(e.volume(topology.Site2, "RG1FV1_SM", "type"), "type"); typ != "rw" {
		t.Fatalf("RG1FV1_SM is %q after the break", typ)
	}

	// The rescan finds the LUN writable: an unresolved VMFS copy (its signature names Site 1's
	// LUN), force-mounted keeping its signature, under the label it has at Site 1.
	fo.s2.rescan(fo.bcdr)
	if fo.s2.datastore("RP1") != nil {
		t.Fatal("the copy was mounted by the rescan alone")
	}
	fo.s2.resolveCopies(fo.bcdr)
	fo.ds = fo.s2.datastore("RP1")
	if fo.ds == nil {
		t.Fatal("no RP1 at Site 2 after break and rescan")
	}
	dm := fo.s2.datastoreProps(fo.ds)
	if !dm.Summary.Accessible || dm.Summary.Type != "VMFS" || len(dm.Host) != len(fo.bcdr) {
		t.Fatalf("RP1 at Site 2: %+v mounted on %d hosts", dm.Summary, len(dm.Host))
	}
	var mountedOn []string
	for _, m := range dm.Host {
		mountedOn = append(mountedOn, m.Key.Value)
	}
	for _, h := range fo.bcdr {
		if !slices.Contains(mountedOn, h.Reference().Value) {
			t.Fatalf("RP1 not mounted on %s", h.Name())
		}
	}

	// It holds the folders of the VMs Site 1 keeps on RP1, each with its .vmx.
	var folders, vmxs []string
	for _, n := range vmsOn("RP1") {
		folders = append(folders, "[RP1] "+n)
		vmxs = append(vmxs, fmt.Sprintf("[RP1] %s/%s.vmx", n, n))
	}
	if got := fo.s2.search(fo.ds, false); !sameStrings(got, folders) {
		t.Fatalf("RP1 at Site 2 holds %v, want the VM folders %v", got, folders)
	}
	if got := fo.s2.search(fo.ds, true, "*.vmx"); !sameStrings(got, vmxs) {
		t.Fatalf("search for *.vmx found %v, want %v", got, vmxs)
	}

	// Register the VM into a folder and resource pool shaped like Site 1's.
	fo.folder = fo.s2.folder(tv.Folder)
	fo.pool = fo.s2.pool(topology.Site2BCDRCluster, tv.ResourcePool)
	fo.vm = fo.s2.register(fmt.Sprintf("[RP1] %s/%s.vmx", name, name), fo.folder, fo.pool)
	m := fo.s2.vmProps(fo.vm, "name", "config", "runtime", "parent", "resourcePool", "network")
	if m.Name != name || m.Parent.Value != fo.folder.Reference().Value || m.ResourcePool.Value != fo.pool.Reference().Value {
		t.Fatalf("registered %q in %v / %v, want %s in %v / %v", m.Name, m.Parent, m.ResourcePool, name, fo.folder.Reference(), fo.pool.Reference())
	}
	if m.Config.Uuid != fo.src.Config.Uuid || m.Config.InstanceUuid != fo.src.Config.InstanceUuid {
		t.Fatalf("UUIDs at Site 2 %s / %s, at Site 1 %s / %s", m.Config.Uuid, m.Config.InstanceUuid, fo.src.Config.Uuid, fo.src.Config.InstanceUuid)
	}
	if m.Config.GuestId != fo.src.Config.GuestId || m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
		t.Fatalf("guest %s power %s", m.Config.GuestId, m.Runtime.PowerState)
	}
	// Its NICs are Site 1's: same MAC, same backing, attached to nothing at Site 2.
	got, want := nicsOf(m), nicsOf(fo.src)
	if len(got) == 0 || len(got) != len(want) || len(m.Network) != 0 {
		t.Fatalf("%d NICs at Site 2 (networks %v), %d at Site 1", len(got), m.Network, len(want))
	}
	for i := range got {
		if got[i].MacAddress != want[i].MacAddress {
			t.Fatalf("NIC %d: MAC %s at Site 2, %s at Site 1", i, got[i].MacAddress, want[i].MacAddress)
		}
		switch b := got[i].Backing.(type) {
		case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
			wb, ok := want[i].Backing.(*types.VirtualEthernetCardDistributedVirtualPortBackingInfo)
			if !ok || b.Port.SwitchUuid != wb.Port.SwitchUuid || b.Port.PortgroupKey != wb.Port.PortgroupKey {
				t.Fatalf("NIC %d backing %+v, at Site 1 %+v", i, b.Port, want[i].Backing)
			}
		case *types.VirtualEthernetCardNetworkBackingInfo:
			if b.DeviceName != topology.Site1LAN || b.Network != nil {
				t.Fatalf("NIC %d backing %q %v, want Site 1's portgroup, unattached", i, b.DeviceName, b.Network)
			}
		default:
			t.Fatalf("NIC %d backing %T", i, got[i].Backing)
		}
	}
	// The lab's ground truth names the portgroup either way.
	truth := e.control("GET", "/truth/sites/site2/vcenter/vms/"+url.PathEscape(name), nil).must(t, http.StatusOK).body
	nics, _ := truth["nics"].([]any)
	if len(nics) == 0 || str(nics[0].(map[string]any), "portgroup") != topology.Site1LAN || nics[0].(map[string]any)["resolved"] != false {
		t.Fatalf("ground truth NICs %v", truth["nics"])
	}

	// Power-on asks whether the VM was moved or copied; "moved" keeps its identities.
	fo.s2.powerOnAnswering(fo.vm, "1")
	m = fo.s2.vmProps(fo.vm, "config.uuid", "config.instanceUuid", "runtime", "guest")
	if m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn || m.Runtime.Question != nil {
		t.Fatalf("after the answer: %s, question %+v", m.Runtime.PowerState, m.Runtime.Question)
	}
	if m.Config.Uuid != fo.src.Config.Uuid || m.Config.InstanceUuid != fo.src.Config.InstanceUuid {
		t.Fatalf("'moved' changed the UUIDs to %s / %s", m.Config.Uuid, m.Config.InstanceUuid)
	}
	if m.Guest.ToolsRunningStatus == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) {
		t.Fatal("tools run before the guest has booted")
	}

	// Once the boot time has passed on the lab clock, tools run and report the guest's address.
	e.advance(61 * time.Second)
	eventually(t, "tools running in "+name, func() bool {
		g := fo.s2.vmProps(fo.vm, "guest").Guest
		return g.ToolsRunningStatus == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) && g.IpAddress == tv.IP
	})
	if hb := fo.s2.vmProps(fo.vm, "guestHeartbeatStatus").GuestHeartbeatStatus; hb != types.ManagedEntityStatusGreen {
		t.Fatalf("heartbeat %s", hb)
	}
	return fo
}

func TestFailoverRecoversAVMAtSite2WithItsDevicesAndIdentity(t *testing.T) {
	e := startLab(t, "--guest-boot", "1m")
	fo := failover(e, "HR Database")
	// Distributed portgroups (the default): the NIC keeps Site 1's switch and portgroup key.
	if b, ok := nicsOf(fo.s2.vmProps(fo.vm, "config"))[0].Backing.(*types.VirtualEthernetCardDistributedVirtualPortBackingInfo); !ok {
		t.Fatalf("NIC backing %T, want a distributed port", b)
	}
}

func TestFailoverWithStandardPortgroupsKeepsSite1PortgroupNames(t *testing.T) {
	e := startLab(t, "--guest-boot", "1m", "--standard-portgroups")
	fo := failover(e, "HR-App1")
	if b, ok := nicsOf(fo.s2.vmProps(fo.vm, "config"))[0].Backing.(*types.VirtualEthernetCardNetworkBackingInfo); !ok || b.DeviceName != topology.Site1LAN {
		t.Fatalf("NIC backing %#v, want the standard portgroup %s", b, topology.Site1LAN)
	}
}

func TestResyncAtSite2TakesTheDatastoreAwayFromTheBCDRHosts(t *testing.T) {
	e := startLab(t, "--guest-boot", "1m")
	fo := failover(e, "HR Database")
	fo.s2.powerOff(fo.vm)

	e.setState(topology.Site2, smPath, "snapmirrored")
	rel := e.settle(topology.Site2, smPath)
	if str(rel, "state") != "snapmirrored" || rel["healthy"] != true || str(rel, "transfer.state") != "success" {
		t.Fatalf("after resync: %v", rel)
	}
	if typ := str(e.volume(topology.Site2, "RG1FV1_SM", "type"), "type"); typ != "dp" {
		t.Fatalf("RG1FV1_SM is %q after the resync", typ)
	}

	// The VM is still registered: the datastore stays, inaccessible, and so does the VM.
	fo.s2.rescan(fo.bcdr)
	if dm := fo.s2.datastoreProps(fo.ds); dm.Summary.Accessible {
		t.Fatal("RP1 still accessible at Site 2 after the resync")
	}
	if cs := fo.s2.vmProps(fo.vm, "runtime").Runtime.ConnectionState; cs != types.VirtualMachineConnectionStateInaccessible {
		t.Fatalf("VM on the resynced datastore is %s", cs)
	}
	if _, err := fo.vm.PowerOn(e.ctx); !isFault[types.InvalidState](err) {
		t.Fatalf("power-on of an inaccessible VM: %v", err)
	}

	// Unregistered, the next rescan removes the datastore altogether.
	if err := fo.vm.Unregister(e.ctx); err != nil {
		t.Fatal(err)
	}
	fo.s2.rescan(fo.bcdr)
	if fo.s2.datastore("RP1") != nil {
		t.Fatal("RP1 is still in Site 2's inventory after unregister and rescan")
	}
}

// The VMbook's failback (chapter 11, "Failback Site 2 to Site 1"): HR-App3 runs at Site 2 on the
// broken-off RG1FV1_SM and is changed there; reverse resync at Site 1, power down at Site 2,
// update, break at Site 1, resync at Site 2; Site 1 then has the changes.
func TestFailbackLeavesSite1WithTheDataWrittenAtSite2(t *testing.T) {
	e := startLab(t, "--guest-boot", "1m")
	s1 := e.site(topology.Site1)
	site1Hosts := s1.hosts(topology.Site1Cluster)

	// Planned migration: RP1's VMs stop at Site 1 and a last update carries their state.
	for _, n := range vmsOn("RP1") {
		tv := topologyVM(t, n)
		s1.powerOff(s1.vm(tv.Folder + "/" + n))
	}
	e.update(topology.Site2, smPath)
	fo := failover(e, "HR-App3")
	app3Site1 := s1.vm(hrFolder + "/Application/HR-App3")

	// Production at Site 2 writes to RP1: a VM created there.
	task, err := fo.folder.CreateVM(e.ctx, types.VirtualMachineConfigSpec{
		Name: "Site2-Created", GuestId: "otherLinux64Guest", NumCPUs: 1, MemoryMB: 1024,
		Files: &types.VirtualMachineFileInfo{VmPathName: "[RP1]"},
	}, fo.pool, fo.bcdr[0])
	if err != nil {
		t.Fatal(err)
	}
	fo.s2.waitTask(task)

	// 1. Reverse resync, the ONTAP 9.8 way: at Site 1, a relationship RG1FV1_SM → RG1FV1 over
	// the RW volume (created broken off), then resynced.
	e.jobOK(topology.Site1, "POST", "/api/snapmirror/relationships", map[string]any{
		"source":      map[string]any{"path": smPath},
		"destination": map[string]any{"path": rg1Path},
		"policy":      map[string]any{"name": "MirrorAllSnapshots"},
	})
	if s := str(e.relationship(topology.Site1, rg1Path), "state"); s != "broken_off" {
		t.Fatalf("reverse relationship created %q", s)
	}
	e.setState(topology.Site1, rg1Path, "snapmirrored")
	if rel := e.settle(topology.Site1, rg1Path); str(rel, "state") != "snapmirrored" || str(rel, "transfer.state") != "success" {
		t.Fatalf("reverse resync: %v", rel)
	}
	// RG1FV1 is a destination now: Site 1's hosts lose RP1 and its VMs at their next rescan.
	s1.rescan(site1Hosts)
	rp1Site1 := s1.datastore("RP1")
	if rp1Site1 == nil || s1.datastoreProps(rp1Site1).Summary.Accessible {
		t.Fatal("RP1 at Site 1 should be in the inventory but inaccessible while RG1FV1 is a destination")
	}
	if cs := s1.vmProps(app3Site1, "runtime").Runtime.ConnectionState; cs != types.VirtualMachineConnectionStateInaccessible {
		t.Fatalf("HR-App3 at Site 1 is %s while its datastore is a destination", cs)
	}

	// 2. Power down at Site 2; the last change (more memory) goes out with a final update.
	fo.s2.powerOff(fo.vm)
	task, err = fo.vm.Reconfigure(e.ctx, types.VirtualMachineConfigSpec{MemoryMB: 8192})
	if err != nil {
		t.Fatal(err)
	}
	fo.s2.waitTask(task)
	if rel := e.update(topology.Site1, rg1Path); str(rel, "transfer.state") != "success" {
		t.Fatalf("final update: %v", rel)
	}

	// 3. Break at Site 1: RG1FV1 is writable again.
	e.setState(topology.Site1, rg1Path, "paused")
	e.setState(topology.Site1, rg1Path, "broken_off")
	if typ := str(e.volume(topology.Site1, "RG1FV1", "type"), "type"); typ != "rw" {
		t.Fatalf("RG1FV1 is %q after the break at Site 1", typ)
	}

	// 4. Resync at Site 2: the original direction again.
	e.setState(topology.Site2, smPath, "snapmirrored")
	if rel := e.settle(topology.Site2, smPath); str(rel, "state") != "snapmirrored" || rel["healthy"] != true {
		t.Fatalf("resync at Site 2: %v", rel)
	}

	// Site 1 has what Site 2 wrote: HR-App3 comes back with Site 2's change, the VM created at
	// Site 2 is on RP1, and HR-App3 powers on at Site 1 keeping its identity.
	s1.rescan(site1Hosts)
	if !s1.datastoreProps(rp1Site1).Summary.Accessible {
		t.Fatal("RP1 at Site 1 inaccessible after the failback")
	}
	m := s1.vmProps(app3Site1, "runtime", "config")
	if m.Runtime.ConnectionState != types.VirtualMachineConnectionStateConnected || m.Config.Hardware.MemoryMB != 8192 {
		t.Fatalf("HR-App3 at Site 1: %s with %d MB, want connected with Site 2's 8192 MB", m.Runtime.ConnectionState, m.Config.Hardware.MemoryMB)
	}
	if got := s1.search(rp1Site1, true, "*.vmx"); !slices.Contains(got, "[RP1] Site2-Created/Site2-Created.vmx") {
		t.Fatalf("RP1 at Site 1 lacks the VM created at Site 2: %v", got)
	}
	created := s1.register("[RP1] Site2-Created/Site2-Created.vmx", s1.folder(hrFolder+"/Application"), s1.pool(topology.Site1Cluster, topology.HRPool))
	if n := s1.vmProps(created, "name").Name; n != "Site2-Created" {
		t.Fatalf("registered %q", n)
	}
	s1.powerOnAnswering(app3Site1, "1")
	if m := s1.vmProps(app3Site1, "config.uuid"); m.Config.Uuid != fo.src.Config.Uuid {
		t.Fatalf("HR-App3's UUID at Site 1 after failback %s, originally %s", m.Config.Uuid, fo.src.Config.Uuid)
	}
}

// The VMbook's test failover (chapter 11, "Planned Failover Testing"): a FlexClone of the replica
// from its newest SnapMirror snapshot, mapped to the BCDR hosts, becomes a datastore, while the
// production relationship keeps transferring.
func TestFlexCloneOfTheReplicaMountsWhileReplicationContinues(t *testing.T) {
	e := startLab(t)
	// A VM created at Site 1 after the last transfer, carried by the next update.
	e.control("POST", "/sites/site1/vcenter/vms", map[string]any{
		"name": "HR-Clone-Probe", "folder": hrFolder + "/Application", "datastore": "RP1",
		"resourcePool": topology.HRPool, "portgroup": topology.Site1LAN, "ip": "20.1.1.201", "poweredOn": false,
	}).must(t, http.StatusOK)
	rel := e.update(topology.Site2, smPath)
	exported := str(rel, "exported_snapshot")

	// The newest SnapMirror snapshot of the replica is the one the relationship exports.
	volUUID := str(e.volume(topology.Site2, "RG1FV1_SM", "uuid"), "uuid")
	snaps := e.ontap(topology.Site2, "GET", "/api/storage/volumes/"+volUUID+"/snapshots?fields=name,create_time&order_by=create_time%20desc", nil).must(t, http.StatusOK).records()
	if len(snaps) == 0 || !strings.HasPrefix(str(snaps[0], "name"), "snapmirror.") || str(snaps[0], "name") != exported {
		t.Fatalf("snapshots %v, exported %q", snaps, exported)
	}

	e.jobOK(topology.Site2, "POST", "/api/storage/volumes", map[string]any{
		"name": "RG1FV1_Clone", "svm": map[string]any{"name": topology.Site2SVM},
		"clone": map[string]any{"is_flexclone": true, "parent_volume": map[string]any{"name": "RG1FV1_SM"},
			"parent_snapshot": map[string]any{"name": exported}},
	})
	luns := e.ontap(topology.Site2, "GET", "/api/storage/luns?name=/vol/RG1FV1_Clone/*&fields=status.state,status.mapped,serial_number", nil).must(t, http.StatusOK).records()
	if len(luns) != 1 || str(luns[0], "status.state") != "online" {
		t.Fatalf("clone LUNs %v", luns)
	}
	lunName, serial := str(luns[0], "name"), str(luns[0], "serial_number")

	s2 := e.site(topology.Site2)
	bcdr := s2.hosts(topology.Site2BCDRCluster)
	s2.rescan(bcdr)
	if s2.datastore("RP1") != nil {
		t.Fatal("the clone's datastore appeared before its LUN was mapped")
	}
	e.ontap(topology.Site2, "POST", "/api/protocols/san/lun-maps", map[string]any{
		"svm": map[string]any{"name": topology.Site2SVM}, "lun": map[string]any{"name": lunName},
		"igroup": map[string]any{"name": topology.Site2BCDRIgroup},
	}).must(t, http.StatusCreated)
	s2.rescan(bcdr)
	s2.resolveCopies(bcdr)
	ds := s2.datastore("RP1")
	if ds == nil {
		t.Fatal("no datastore from the mapped clone")
	}
	dm := s2.datastoreProps(ds)
	info, ok := dm.Info.(*types.VmfsDatastoreInfo)
	if !ok || !dm.Summary.Accessible || len(info.Vmfs.Extent) != 1 || info.Vmfs.Extent[0].DiskName != fmt.Sprintf("naa.600a0980%x", serial) {
		t.Fatalf("clone datastore %+v %#v, want it on the clone LUN (serial %s)", dm.Summary, dm.Info, serial)
	}
	if got := s2.search(ds, true, "*.vmx"); !slices.Contains(got, "[RP1] HR-Clone-Probe/HR-Clone-Probe.vmx") {
		t.Fatalf("the clone lacks the VM of the newest snapshot: %v", got)
	}

	// Production replication is untouched: the hourly schedule still transfers, and so does an
	// update on request.
	e.advance(time.Hour + time.Minute)
	rel = e.awaitTransfer(topology.Site2, smPath, exported)
	if str(rel, "state") != "snapmirrored" || rel["healthy"] != true || str(rel, "transfer.state") != "success" || str(rel, "exported_snapshot") == exported {
		t.Fatalf("after the hourly schedule: %v (exported before: %s)", rel, exported)
	}
	if rel = e.update(topology.Site2, smPath); str(rel, "transfer.state") != "success" || rel["healthy"] != true {
		t.Fatalf("update with the clone mounted: %v", rel)
	}
	s2.rescan(bcdr)
	if !s2.datastoreProps(ds).Summary.Accessible {
		t.Fatal("the clone's datastore went away while replication ran")
	}
}

func TestVMAddedAtSite1ReachesTheReplicaWithTheNextUpdate(t *testing.T) {
	e := startLab(t)
	ref := e.control("POST", "/sites/site1/vcenter/vms", map[string]any{
		"name": "HR-App-Added", "folder": hrFolder + "/Application", "datastore": "RP2",
		"resourcePool": topology.HRPool, "portgroup": topology.Site1LAN, "ip": "20.1.1.202", "poweredOn": true,
	}).must(t, http.StatusOK)
	if str(ref.body, "ref") == "" {
		t.Fatalf("no ref in %s", ref.raw)
	}

	// Site 1's vCenter has it, running, on RP2.
	s1 := e.site(topology.Site1)
	vm := s1.vm(hrFolder + "/Application/HR-App-Added")
	m := s1.vmProps(vm, "runtime", "datastore", "config.files")
	if m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn || len(m.Datastore) != 1 ||
		m.Config.Files.VmPathName != "[RP2] HR-App-Added/HR-App-Added.vmx" || str(ref.body, "ref") != vm.Reference().Value {
		t.Fatalf("added VM %s %v %s (ref %s)", m.Runtime.PowerState, m.Datastore, m.Config.Files.VmPathName, ref.raw)
	}

	// The replica gets it with the next transfer, not before.
	replica := e.control("GET", "/truth/sites/site2/ontap/volumes/RG1FV2_SM", nil).must(t, http.StatusOK).body
	vmx := filepath.Join(str(replica, "dir"), "RP2.lun", "HR-App-Added", "HR-App-Added.vmx")
	if _, err := os.Stat(vmx); err == nil {
		t.Fatal("the replica has the VM before any transfer")
	}
	before := str(e.relationship(topology.Site2, smPath2), "exported_snapshot")
	rel := e.update(topology.Site2, smPath2)
	if str(rel, "transfer.state") != "success" || str(rel, "exported_snapshot") == before {
		t.Fatalf("update: %v", rel)
	}
	if _, err := os.Stat(vmx); err != nil {
		t.Fatalf("the replica lacks the VM after the update: %v", err)
	}
}
