package vcenter

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/fabric"
	"vmdr.local/lab/internal/topology"
)

// TestRecoveryProcedure drives the VMbook's recovery at Site 2 over the VIM API: a replicated LUN
// is broken off and rescanned, its VMs are found and registered from their .vmx, answer the
// "moved or copied" question, are re-networked, and go inaccessible when the LUN goes read-only.
func TestRecoveryProcedure(t *testing.T) {
	ctx := context.Background()
	// The VMbook's procedure: its hosts mount VMFS copies by label (LVM.DisallowSnapshotLun=0).
	l := newLab(t, topology.DefaultOptions(), Options{GuestBootTime: 30 * time.Second, MountCopiesByLabel: true})
	site1, site2 := l.vc[topology.Site1], l.vc[topology.Site2]
	src, ok := site1.VM("HR Database")
	if !ok {
		t.Fatal("no HR Database at site 1")
	}
	if src.Datastores[0] != "RP1" || len(src.NICs) != 1 || src.NICs[0].Portgroup != topology.Site1LAN {
		t.Fatalf("site 1 VM: %+v", src)
	}

	// SnapMirror has copied RG1FV1 to RG1FV1_SM, which is still a read-only destination.
	replicate(t, l.fabric, topology.Site1, "RG1FV1", topology.Site2, "RG1FV1_SM")
	c := l.client(t, topology.Site2)
	f := finder(t, c, topology.Site2Datacenter)
	bcdr := []*object.HostSystem{}
	for _, n := range []string{"bcdr1.site2.vmbook.lab", "bcdr2.site2.vmbook.lab"} {
		h, err := f.HostSystem(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		bcdr = append(bcdr, h)
	}
	rescan := func() {
		t.Helper()
		for _, h := range bcdr {
			ss, err := h.ConfigManager().StorageSystem(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := ss.RescanAllHba(ctx); err != nil {
				t.Fatal(err)
			}
			if err := ss.RescanVmfs(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	rescan()
	if _, err := f.Datastore(ctx, "RP1"); err == nil {
		t.Fatal("a read-only replica was mounted")
	}
	naa := l.fabric.device(t, topology.Site2, "RG1FV1_SM").NAA
	if !containsStr(hostTruth(site2, "bcdr1.site2.vmbook.lab").Devices, naa) {
		t.Fatalf("bcdr1 does not see device %s", naa)
	}

	// Break: the replica becomes writable. A rescan mounts it under its VMFS label.
	l.fabric.update(t, topology.Site2, "RG1FV1_SM", func(d *fabric.Device) { d.Writable = true })
	rescan()
	ds, err := f.Datastore(ctx, "RP1")
	if err != nil {
		t.Fatal(err)
	}
	var dsm mo.Datastore
	if err := ds.Properties(ctx, ds.Reference(), []string{"summary", "info", "host"}, &dsm); err != nil {
		t.Fatal(err)
	}
	vmfs, ok := dsm.Info.(*types.VmfsDatastoreInfo)
	if !ok || vmfs.Vmfs.Extent[0].DiskName != naa || dsm.Summary.Type != "VMFS" || len(dsm.Host) != 2 || !dsm.Summary.Accessible {
		t.Fatalf("datastore: %+v info %#v", dsm.Summary, dsm.Info)
	}

	// Find the VMs' configuration files.
	browser, err := ds.Browser(ctx)
	if err != nil {
		t.Fatal(err)
	}
	task, err := browser.SearchDatastoreSubFolders(ctx, "[RP1]", &types.HostDatastoreBrowserSearchSpec{
		MatchPattern: []string{"*.vmx"}, Details: &types.FileQueryFlags{FileType: true, FileSize: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := waitTask(t, task)
	if err != nil {
		t.Fatal(err)
	}
	var vmxs []string
	for _, r := range res.(types.ArrayOfHostDatastoreBrowserSearchResults).HostDatastoreBrowserSearchResults {
		for _, fi := range r.File {
			if _, ok := fi.(*types.VmConfigFileInfo); !ok {
				t.Fatalf("file info %T", fi)
			}
			vmxs = append(vmxs, r.FolderPath+fi.GetFileInfo().Path)
		}
	}
	if !containsStr(vmxs, "[RP1] HR Database/HR Database.vmx") {
		t.Fatalf("search found %v", vmxs)
	}

	// Register into a shadow folder and the BCDR cluster's root pool.
	dcObj, err := f.Datacenter(ctx, topology.Site2Datacenter)
	if err != nil {
		t.Fatal(err)
	}
	folders, err := dcObj.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	shadow, err := folders.VmFolder.CreateFolder(ctx, "Site1-Protection Group 1")
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := f.ClusterComputeResource(ctx, topology.Site2BCDRCluster)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := cluster.ResourcePool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	register := func(path string) *object.VirtualMachine {
		t.Helper()
		task, err := shadow.RegisterVM(ctx, path, "", false, pool, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := waitTask(t, task)
		if err != nil {
			t.Fatal(err)
		}
		return object.NewVirtualMachine(c.Client, res.(types.ManagedObjectReference))
	}
	vm := register("[RP1] HR Database/HR Database.vmx")
	if task, err := shadow.RegisterVM(ctx, "[RP1] HR Database/HR Database.vmx", "", false, pool, nil); err != nil {
		t.Fatal(err)
	} else if _, err := waitTask(t, task); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second registration of the same .vmx: %v", err)
	}
	// The refused repeat changed nothing, and the ground truth counts one registration.
	if n := l.vc[topology.Site2].Mutations()["RegisterVM [RP1] HR Database/HR Database.vmx"]; n != 1 {
		t.Fatalf("registrations of RP1's HR Database counted %d, want 1", n)
	}
	m := vmProps(t, vm, "name", "config", "runtime", "network", "datastore")
	if m.Name != "HR Database" || m.Config.InstanceUuid != src.InstanceUUID || m.Config.Uuid != src.BIOSUUID {
		t.Fatalf("registered VM %s instance %s bios %s; source %+v", m.Name, m.Config.InstanceUuid, m.Config.Uuid, src)
	}
	devs := object.VirtualDeviceList(m.Config.Hardware.Device)
	nics := devs.SelectByType((*types.VirtualEthernetCard)(nil))
	if len(nics) != 1 {
		t.Fatalf("%d NICs", len(nics))
	}
	card := nics[0].(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
	if card.MacAddress != src.NICs[0].MAC {
		t.Fatalf("MAC %s, source %s", card.MacAddress, src.NICs[0].MAC)
	}
	if len(devs.SelectByType((*types.VirtualCdrom)(nil))) != 1 || len(devs.SelectByType((*types.VirtualFloppy)(nil))) != 1 {
		t.Fatal("CD-ROM or floppy missing")
	}
	disks := devs.SelectByType((*types.VirtualDisk)(nil))
	if len(disks) != 1 || disks[0].(*types.VirtualDisk).CapacityInKB != 40*1024*1024 {
		t.Fatalf("disks %v", disks)
	}
	if m.Config.GuestId != "windows9Server64Guest" {
		t.Fatalf("guest id %s", m.Config.GuestId)
	}
	truth, _ := site2.VM("HR Database")
	if truth.NICs[0].Portgroup != topology.Site1LAN || truth.NICs[0].Resolved {
		t.Fatalf("NIC %+v: want the site 1 portgroup, unresolved at site 2", truth.NICs[0])
	}
	if truth.Folder != "Site1-Protection Group 1" || truth.ResourcePool != topology.Site2BCDRCluster {
		t.Fatalf("placement %q %q", truth.Folder, truth.ResourcePool)
	}

	// Power-on asks the moved-or-copied question and waits for the answer.
	powerOnWithAnswer := func(vm *object.VirtualMachine, choice string) {
		t.Helper()
		task, err := vm.PowerOn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var q *types.VirtualMachineQuestionInfo
		eventually(t, "the question", func() bool {
			q = vmProps(t, vm, "runtime.question").Runtime.Question
			return q != nil
		})
		if q.Message[0].Id != "msg.uuid.altered" || len(q.Choice.ChoiceInfo) != 3 {
			t.Fatalf("question %+v", q)
		}
		labels := map[string]string{}
		for _, ci := range q.Choice.ChoiceInfo {
			ed := ci.GetElementDescription()
			labels[ed.Label] = ed.Key
		}
		if labels["button.uuid.cancel"] != "0" || labels["button.uuid.movedTheVM"] != "1" || labels["button.uuid.copiedTheVM"] != "2" {
			t.Fatalf("choices %v", labels)
		}
		var ti mo.Task
		if err := task.Properties(ctx, task.Reference(), []string{"info"}, &ti); err != nil {
			t.Fatal(err)
		}
		if ti.Info.State != types.TaskInfoStateRunning {
			t.Fatalf("power-on task is %s while the question is pending", ti.Info.State)
		}
		if err := vm.Answer(ctx, "no-such-question", choice); err == nil {
			t.Fatal("answer to an unknown question accepted")
		}
		if err := vm.Answer(ctx, q.Id, choice); err != nil {
			t.Fatal(err)
		}
		_, err = waitTask(t, task)
		if choice == AnswerCancel {
			if err == nil {
				t.Fatal("cancelled power-on succeeded")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	powerOnWithAnswer(vm, AnswerMoved)
	m = vmProps(t, vm, "config.uuid", "config.instanceUuid", "runtime")
	if m.Config.Uuid != src.BIOSUUID || m.Config.InstanceUuid != src.InstanceUUID || m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn || m.Runtime.Question != nil {
		t.Fatalf("after 'moved': %+v %+v", m.Config, m.Runtime)
	}

	// The guest comes up (lab clock) with the IP it has configured: the site 1 address.
	l.clock.Advance(31 * time.Second)
	eventually(t, "tools running", func() bool {
		g := vmProps(t, vm, "guest").Guest
		return g.ToolsRunningStatus == "guestToolsRunning" && g.IpAddress == src.GuestIP
	})
	if hb := vmProps(t, vm, "guestHeartbeatStatus").GuestHeartbeatStatus; hb != types.ManagedEntityStatusGreen {
		t.Fatalf("heartbeat %s", hb)
	}

	// A second VM answered "copied" gets new identities; a third one's power-on is cancelled.
	app, _ := site1.VM("HR-App1")
	vm2 := register("[RP1] HR-App1/HR-App1.vmx")
	powerOnWithAnswer(vm2, AnswerCopied)
	m = vmProps(t, vm2, "config.uuid", "config.instanceUuid")
	if m.Config.Uuid == app.BIOSUUID || m.Config.InstanceUuid == app.InstanceUUID {
		t.Fatalf("'copied' kept the identities: %+v", m.Config)
	}
	vm3 := register("[RP1] HR-App3/HR-App3.vmx")
	powerOnWithAnswer(vm3, AnswerCancel)
	if st := vmProps(t, vm3, "runtime").Runtime; st.PowerState != types.VirtualMachinePowerStatePoweredOff || st.Question != nil {
		t.Fatalf("after cancel: %+v", st)
	}

	// Re-network: NIC to the site 2 portgroup, CD-ROM and floppy disconnected, tools scripts off.
	netw, err := f.Network(ctx, topology.Site2LAN)
	if err != nil {
		t.Fatal(err)
	}
	backing, err := netw.EthernetCardBackingInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m = vmProps(t, vm, "config.hardware")
	devs = object.VirtualDeviceList(m.Config.Hardware.Device)
	nic := devs.SelectByType((*types.VirtualEthernetCard)(nil))[0]
	nic.GetVirtualDevice().Backing = backing
	nic.GetVirtualDevice().Connectable = &types.VirtualDeviceConnectInfo{StartConnected: true, Connected: true, AllowGuestControl: true}
	cd := devs.SelectByType((*types.VirtualCdrom)(nil))[0]
	cd.GetVirtualDevice().Connectable = &types.VirtualDeviceConnectInfo{StartConnected: false, Connected: false}
	cd.GetVirtualDevice().Backing = &types.VirtualCdromRemotePassthroughBackingInfo{}
	fl := devs.SelectByType((*types.VirtualFloppy)(nil))[0]
	fl.GetVirtualDevice().Connectable = &types.VirtualDeviceConnectInfo{StartConnected: false, Connected: false}
	spec := types.VirtualMachineConfigSpec{
		Tools: &types.ToolsConfigInfo{AfterPowerOn: types.NewBool(false)},
		DeviceChange: []types.BaseVirtualDeviceConfigSpec{
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: nic},
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: cd},
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: fl},
		},
	}
	task, err = vm.Reconfigure(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitTask(t, task); err != nil {
		t.Fatal(err)
	}
	truth, _ = site2.VM("HR Database")
	if truth.NICs[0].Portgroup != topology.Site2LAN || !truth.NICs[0].Resolved || !truth.NICs[0].Connected || truth.ToolsAfterPowerOn {
		t.Fatalf("after reconfig: %+v", truth)
	}
	for _, md := range truth.Media {
		if md.Connected || md.StartConnected {
			t.Fatalf("media still connected: %+v", md)
		}
	}
	m = vmProps(t, vm, "config.tools", "network", "guest.net")
	if m.Config.Tools.AfterPowerOn == nil || *m.Config.Tools.AfterPowerOn || m.Config.Tools.AfterResume == nil || !*m.Config.Tools.AfterResume {
		t.Fatalf("tools %+v", m.Config.Tools)
	}
	if len(m.Network) != 1 || m.Network[0] != netw.Reference() || m.Guest.Net[0].Network != topology.Site2LAN {
		t.Fatalf("network %v guest %+v", m.Network, m.Guest.Net)
	}
	vmx, err := os.ReadFile(filepath.Join(l.fabric.device(t, topology.Site2, "RG1FV1_SM").Dir, "HR Database", "HR Database.vmx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`ethernet0.networkName = "Site2-LAN"`, `toolScripts.afterPowerOn = "FALSE"`, `floppy0.startConnected = "FALSE"`} {
		if !strings.Contains(string(vmx), want) {
			t.Fatalf(".vmx lacks %s:\n%s", want, vmx)
		}
	}

	// The LUN goes back to being a read-only destination: after a rescan the datastore and its VMs
	// are inaccessible, and VM operations are refused.
	l.fabric.update(t, topology.Site2, "RG1FV1_SM", func(d *fabric.Device) { d.Writable = false })
	rescan()
	if err := ds.Properties(ctx, ds.Reference(), []string{"summary"}, &dsm); err != nil {
		t.Fatal(err)
	}
	if dsm.Summary.Accessible {
		t.Fatal("datastore still accessible")
	}
	if cs := vmProps(t, vm3, "runtime").Runtime.ConnectionState; cs != types.VirtualMachineConnectionStateInaccessible {
		t.Fatalf("VM connection state %s", cs)
	}
	if _, err := vm3.PowerOn(ctx); err == nil || !strings.Contains(err.Error(), "current state") {
		t.Fatalf("power-on of an inaccessible VM: %v", err)
	}

	// Writable again: accessible again.
	l.fabric.update(t, topology.Site2, "RG1FV1_SM", func(d *fabric.Device) { d.Writable = true })
	rescan()
	if cs := vmProps(t, vm3, "runtime").Runtime.ConnectionState; cs != types.VirtualMachineConnectionStateConnected {
		t.Fatalf("VM connection state %s after the LUN came back", cs)
	}

	// Power off and unregister everything; unmapped, the datastore disappears. Files stay.
	for _, x := range []*object.VirtualMachine{vm, vm2} {
		task, err := x.PowerOff(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := waitTask(t, task); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range []*object.VirtualMachine{vm, vm2, vm3} {
		if err := x.Unregister(ctx); err != nil {
			t.Fatal(err)
		}
	}
	l.fabric.update(t, topology.Site2, "RG1FV1_SM", func(d *fabric.Device) { d.Initiators = nil })
	rescan()
	if _, err := f.Datastore(ctx, "RP1"); err == nil {
		t.Fatal("unmapped datastore still present")
	}
	if !fileExists(filepath.Join(l.fabric.device(t, topology.Site2, "RG1FV1_SM").Dir, "HR Database", "HR Database.vmx")) {
		t.Fatal("unregister removed files")
	}
	_ = methods.AnswerVM
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func hostTruth(v *VCenter, name string) HostTruth {
	for _, h := range v.Truth().Hosts {
		if h.Name == name {
			return h
		}
	}
	return HostTruth{}
}

// TestPreRegistrationOnCloneThenFailover follows the VMbook's pre-registration (ch. 11): VMs are
// registered at Site 2 from a FlexClone of the replica; the clone goes away and they stay,
// inaccessible; when the mirror is broken the replica presents the same VMFS volume and they are
// back, ready to power on.
func TestPreRegistrationOnCloneThenFailover(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{GuestBootTime: -1, MountCopiesByLabel: true})
	site2 := l.vc[topology.Site2]
	replicate(t, l.fabric, topology.Site1, "RG1FV1", topology.Site2, "RG1FV1_SM")
	sm := l.fabric.device(t, topology.Site2, "RG1FV1_SM")
	clone := sm
	clone.Volume = "RG1FV1_Clone"
	clone.Writable = true
	clone.Serial = "cloneRG1FV1x"
	clone.NAA = fabric.NAAFromSerial(clone.Serial)
	clone.Dir = filepath.Join(t.TempDir(), "RP1.lun")
	if err := os.CopyFS(clone.Dir, os.DirFS(sm.Dir)); err != nil {
		t.Fatal(err)
	}
	l.fabric.add(clone)

	c := l.client(t, topology.Site2)
	f := finder(t, c, topology.Site2Datacenter)
	h, _ := f.HostSystem(ctx, "bcdr1.site2.vmbook.lab")
	ss, _ := h.ConfigManager().StorageSystem(ctx)
	rescan := func() {
		t.Helper()
		if err := ss.RescanAllHba(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rescan()
	if d := datastoreTruthOf(site2, "RP1"); d.Device != clone.NAA || !d.Accessible {
		t.Fatalf("RP1 from the clone: %+v", d)
	}
	dc, _ := f.Datacenter(ctx, topology.Site2Datacenter)
	folders, _ := dc.Folders(ctx)
	pool, _ := f.ResourcePool(ctx, topology.Site2BCDRCluster+"/Resources")
	task, err := folders.VmFolder.RegisterVM(ctx, "[RP1] HR Database/HR Database.vmx", "", false, pool, h)
	if err != nil {
		t.Fatal(err)
	}
	res, err := waitTask(t, task)
	if err != nil {
		t.Fatal(err)
	}
	vm := object.NewVirtualMachine(c.Client, res.(types.ManagedObjectReference))

	// The clone is destroyed: the registration stays, inaccessible.
	l.fabric.remove(topology.Site2, "RG1FV1_Clone")
	rescan()
	if tr, _ := site2.VM("HR Database"); tr.ConnectionState != "inaccessible" {
		t.Fatalf("after the clone went away: %+v", tr)
	}

	// Failover: the mirror is broken and the replica carries the same volume.
	l.fabric.update(t, topology.Site2, "RG1FV1_SM", func(d *fabric.Device) { d.Writable = true })
	rescan()
	d := datastoreTruthOf(site2, "RP1")
	if d.Device != sm.NAA || !d.Accessible || d.Dir != sm.Dir {
		t.Fatalf("RP1 after the break: %+v", d)
	}
	if tr, _ := site2.VM("HR Database"); tr.ConnectionState != "connected" || len(tr.NICs) != 1 {
		t.Fatalf("after the break: %+v", tr)
	}
	task, err = vm.PowerOn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var q *types.VirtualMachineQuestionInfo
	eventually(t, "the question", func() bool {
		q = vmProps(t, vm, "runtime.question").Runtime.Question
		return q != nil
	})
	if err := vm.Answer(ctx, q.Id, AnswerMoved); err != nil {
		t.Fatal(err)
	}
	if _, err := waitTask(t, task); err != nil {
		t.Fatal(err)
	}
}
