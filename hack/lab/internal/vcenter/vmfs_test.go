package vcenter

import (
	"context"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/fabric"
	"vmdr.local/lab/internal/topology"
)

// site2Hosts returns the BCDR hosts' storage and datastore systems.
func site2Hosts(t *testing.T, l *lab) (*vcClient, []*object.HostStorageSystem, []*object.HostDatastoreSystem, []*object.HostSystem) {
	t.Helper()
	ctx := context.Background()
	c := l.client(t, topology.Site2)
	f := finder(t, c, topology.Site2Datacenter)
	var ss []*object.HostStorageSystem
	var dss []*object.HostDatastoreSystem
	var hosts []*object.HostSystem
	for _, n := range []string{"bcdr1.site2.vmbook.lab", "bcdr2.site2.vmbook.lab"} {
		h, err := f.HostSystem(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := h.ConfigManager().StorageSystem(ctx)
		d, _ := h.ConfigManager().DatastoreSystem(ctx)
		ss, dss, hosts = append(ss, s), append(dss, d), append(hosts, h)
	}
	return &vcClient{c: c, f: f}, ss, dss, hosts
}

func resolveOne(t *testing.T, vc *vcClient, ss *object.HostStorageSystem, device, mode string) types.HostUnresolvedVmfsResolutionResult {
	t.Helper()
	res, err := methods.ResolveMultipleUnresolvedVmfsVolumes(context.Background(), vc.c.Client, &types.ResolveMultipleUnresolvedVmfsVolumes{
		This: ss.Reference(), ResolutionSpec: []types.HostUnresolvedVmfsResolutionSpec{{
			ExtentDevicePath: []string{"/vmfs/devices/disks/" + device + ":1"}, UuidResolution: mode,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Returnval[0]
}

func mustRescan(t *testing.T, ss ...*object.HostStorageSystem) {
	t.Helper()
	for _, s := range ss {
		if err := s.RescanAllHba(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func hostMount(d DatastoreTruth, host string) (MountTruth, bool) {
	for _, m := range d.Mounts {
		if m.Host == host {
			return m, true
		}
	}
	return MountTruth{}, false
}

// On ESXi 7/8 a replica or a clone is an unresolved VMFS copy: listed, not mounted, until it is
// force-mounted (per host, remembered across rescans; refused while another copy is mounted at the
// site) or resignatured (a new UUID and a snap- label, mounted by every host that sees it).
func TestVMFSCopiesAreUnresolvedUntilForceMountedOrResignatured(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{GuestBootTime: -1})
	site2 := l.vc[topology.Site2]
	replicate(t, l.fabric, topology.Site1, "RG1FV1", topology.Site2, "RG1FV1_SM")
	vc, ss, dss, _ := site2Hosts(t, l)
	mustRescan(t, ss[0])
	if vols, _ := ss[0].QueryUnresolvedVmfsVolumes(ctx); len(vols) != 0 {
		t.Fatalf("a read-only replica is listed: %+v", vols)
	}

	// Break: the replica is writable, and a copy.
	sm := l.fabric.update(t, topology.Site2, "RG1FV1_SM", func(d *fabric.Device) { d.Writable = true })
	mustRescan(t, ss[0])
	if d := datastoreTruthOf(site2, "RP1"); d.Name != "" {
		t.Fatalf("a copy was mounted at a rescan: %+v", d)
	}
	vols, err := ss[0].QueryUnresolvedVmfsVolumes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srcUUID := topology.UUIDFor("vmfs", "site1/RG1FV1")
	if len(vols) != 1 || vols[0].VmfsLabel != "RP1" || vols[0].VmfsUuid != srcUUID || vols[0].Extent[0].Device.DiskName != sm.NAA ||
		vols[0].Extent[0].Reason != "diskIdMismatch" || !vols[0].ResolveStatus.Resolvable {
		t.Fatalf("unresolved volumes %+v", vols)
	}

	// Force-mount on bcdr1: the same VMFS (UUID), kept across rescans; bcdr2 resolves its own.
	r := resolveOne(t, vc, ss[0], sm.NAA, "forceMount")
	if r.Fault != nil || r.Vmfs == nil || r.Vmfs.Uuid != srcUUID {
		t.Fatalf("force-mount %+v", r)
	}
	mustRescan(t, ss...)
	d := datastoreTruthOf(site2, "RP1")
	if d.VMFSUUID != srcUUID || d.Device != sm.NAA || !d.Accessible || len(d.Mounts) != 1 {
		t.Fatalf("RP1 after force-mount and rescans: %+v", d)
	}
	if h := hostTruth(site2, "bcdr2.site2.vmbook.lab"); !containsStr(h.Unresolved, sm.NAA) {
		t.Fatalf("bcdr2 does not list the copy: %+v", h)
	}
	if r := resolveOne(t, vc, ss[1], sm.NAA, "forceMount"); r.Fault != nil {
		t.Fatalf("force-mount on bcdr2: %+v", r.Fault)
	}

	// A second copy (a clone) of the same VMFS while the replica is mounted: uuidConflict, and
	// force-mounting it is refused.
	clone := sm
	clone.Volume, clone.Serial = "RG1FV1_Clone", "cloneRG1FV1x"
	clone.NAA = fabric.NAAFromSerial(clone.Serial)
	clone.Dir = filepath.Join(t.TempDir(), "RP1.lun")
	if err := os.CopyFS(clone.Dir, os.DirFS(sm.Dir)); err != nil {
		t.Fatal(err)
	}
	l.fabric.add(clone)
	mustRescan(t, ss...)
	vols, _ = ss[0].QueryUnresolvedVmfsVolumes(ctx)
	if len(vols) != 1 || vols[0].Extent[0].Device.DiskName != clone.NAA || vols[0].Extent[0].Reason != "uuidConflict" {
		t.Fatalf("unresolved with the replica mounted: %+v", vols)
	}
	r = resolveOne(t, vc, ss[0], clone.NAA, "forceMount")
	if _, ok := r.Fault.Fault.(*types.VmfsAlreadyMounted); !ok {
		t.Fatalf("force-mount of a second copy: %+v", r.Fault)
	}

	// Resignature: a new UUID and label on the device, mounted on both hosts.
	task, err := dss[0].ResignatureUnresolvedVmfsVolumes(ctx, []string{"/vmfs/devices/disks/" + clone.NAA + ":1"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := waitTask(t, task)
	if err != nil {
		t.Fatal(err)
	}
	rr := res.(types.HostResignatureRescanResult)
	hdr, _ := fabric.ReadHeader(clone.Dir)
	if hdr.UUID == srcUUID || hdr.Device != clone.NAA || !strings.HasPrefix(hdr.Label, "snap-") || !strings.HasSuffix(hdr.Label, "-RP1") || len(rr.Rescan) != 2 {
		t.Fatalf("after resignature: header %+v, result %+v", hdr, rr)
	}
	snap := datastoreTruthOf(site2, hdr.Label)
	if snap.Ref != rr.Result.Value || snap.VMFSUUID != hdr.UUID || len(snap.Mounts) != 2 || !snap.Accessible {
		t.Fatalf("resignatured datastore %+v", snap)
	}

	// Renamed back (the group option after a resignature), the label follows on the device.
	ds := object.NewDatastore(vc.c.Client, rr.Result)
	if _, err := waitTask(t, mustTask(t)(ds.Rename(ctx, "RP1"))); !fault.Is(err, &types.DuplicateName{}) {
		t.Fatalf("rename onto an existing name: %v", err)
	}
	if _, err := waitTask(t, mustTask(t)(ds.Rename(ctx, "RP1-copy"))); err != nil {
		t.Fatal(err)
	}
	if hdr, _ := fabric.ReadHeader(clone.Dir); hdr.Label != "RP1-copy" || datastoreTruthOf(site2, "RP1-copy").Ref != rr.Result.Value {
		t.Fatalf("after rename: header %+v", hdr)
	}
}

func mustTask(t *testing.T) func(*object.Task, error) *object.Task {
	return func(task *object.Task, err error) *object.Task {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return task
	}
}

// The safe way to take a LUN away: unmount the VMFS (refused while VMs are registered on it),
// detach the device (refused while a volume on it is mounted), then unmap. Done so, nothing is
// lost; the host remembers the unmount and the detach across rescans until it is told otherwise.
func TestUnmountDetachThenUnmapLeavesNothingBehind(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{GuestBootTime: -1})
	site2 := l.vc[topology.Site2]
	replicate(t, l.fabric, topology.Site1, "RG1FV1", topology.Site2, "RG1FV1_SM")
	sm := l.fabric.update(t, topology.Site2, "RG1FV1_SM", func(d *fabric.Device) { d.Writable = true })
	vc, ss, _, hosts := site2Hosts(t, l)
	mustRescan(t, ss...)
	for _, s := range ss {
		resolveOne(t, vc, s, sm.NAA, "forceMount")
	}
	uuid := topology.UUIDFor("vmfs", "site1/RG1FV1")
	lunUUID := scsiLunUUID(sm.NAA)

	// A registered VM holds the volume on its host.
	dc, _ := vc.f.Datacenter(ctx, topology.Site2Datacenter)
	folders, _ := dc.Folders(ctx)
	pool, _ := vc.f.ResourcePool(ctx, topology.Site2BCDRCluster+"/Resources")
	res, err := waitTask(t, mustTask(t)(folders.VmFolder.RegisterVM(ctx, "[RP1] HR Database/HR Database.vmx", "", false, pool, hosts[0])))
	if err != nil {
		t.Fatal(err)
	}
	vm := object.NewVirtualMachine(vc.c.Client, res.(types.ManagedObjectReference))
	if err := ss[0].UnmountVmfsVolume(ctx, uuid); !fault.Is(err, &types.ResourceInUse{}) {
		t.Fatalf("unmount with a VM registered: %v", err)
	}
	if err := detach(ctx, vc, ss[1], lunUUID); !fault.Is(err, &types.ResourceInUse{}) {
		t.Fatalf("detach under a mounted volume: %v", err)
	}
	if err := vm.Unregister(ctx); err != nil {
		t.Fatal(err)
	}

	for _, s := range ss {
		if err := s.UnmountVmfsVolume(ctx, uuid); err != nil {
			t.Fatal(err)
		}
	}
	if err := ss[0].UnmountVmfsVolume(ctx, uuid); !fault.Is(err, &types.InvalidState{}) {
		t.Fatalf("second unmount: %v", err)
	}
	mustRescan(t, ss...)
	d := datastoreTruthOf(site2, "RP1")
	if m, ok := hostMount(d, "bcdr1.site2.vmbook.lab"); !ok || m.Mounted || d.Accessible {
		t.Fatalf("after unmount and a rescan: %+v", d)
	}
	// Mounted again and unmounted again: MountVmfsVolume undoes an unmount.
	if _, err := methods.MountVmfsVolume(ctx, vc.c.Client, &types.MountVmfsVolume{This: ss[0].Reference(), VmfsUuid: uuid}); err != nil {
		t.Fatal(err)
	}
	if m, _ := hostMount(datastoreTruthOf(site2, "RP1"), "bcdr1.site2.vmbook.lab"); !m.Mounted || !m.Accessible {
		t.Fatalf("after MountVmfsVolume: %+v", m)
	}
	if err := ss[0].UnmountVmfsVolume(ctx, uuid); err != nil {
		t.Fatal(err)
	}

	for _, s := range ss {
		if err := detach(ctx, vc, s, lunUUID); err != nil {
			t.Fatal(err)
		}
	}
	if err := detach(ctx, vc, ss[0], lunUUID); !fault.Is(err, &types.InvalidState{}) {
		t.Fatalf("second detach: %v", err)
	}
	mustRescan(t, ss...)
	if st := hostTruth(site2, "bcdr1.site2.vmbook.lab").DeviceStates[sm.NAA]; st != "off" {
		t.Fatalf("detached device state %q", st)
	}
	l.fabric.update(t, topology.Site2, "RG1FV1_SM", func(d *fabric.Device) { d.Initiators = nil })
	mustRescan(t, ss...)
	if d := datastoreTruthOf(site2, "RP1"); d.Name != "" {
		t.Fatalf("the datastore is still there: %+v", d)
	}
	if f := site2.StorageFaults(); len(f) != 0 {
		t.Fatalf("storage faults after a safe removal: %+v", f)
	}
}

func detach(ctx context.Context, vc *vcClient, ss *object.HostStorageSystem, lun string) error {
	_, err := methods.DetachScsiLun(ctx, vc.c.Client, &types.DetachScsiLun{This: ss.Reference(), LunUuid: lun})
	return err
}

// Taking a LUN away under a mounted datastore is a permanent device loss: the heartbeat makes the
// datastore and its VMs inaccessible at once (no rescan), the device stays listed as
// lostCommunication while a running VM uses it, and the fault is recorded. A LUN turned read-only
// under running VMs (a reverse resync) is caught the same way. Once nothing runs on it, a rescan
// removes the lost device (Disk.AutoremoveOnPDL); the registration stays, inaccessible, and comes
// back when another copy of the volume is mounted.
func TestStorageLostUnderAMountedDatastoreMakesItInaccessible(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{GuestBootTime: -1})
	site2 := l.vc[topology.Site2]
	replicate(t, l.fabric, topology.Site1, "RG1FV1", topology.Site2, "RG1FV1_SM")
	sm := l.fabric.update(t, topology.Site2, "RG1FV1_SM", func(d *fabric.Device) { d.Writable = true })
	vc, ss, _, hosts := site2Hosts(t, l)
	mustRescan(t, ss[0])
	// Answer the "moved or copied" question in the .vmx, as an administrator may.
	vmx, _ := os.ReadFile(filepath.Join(sm.Dir, "HR Database", "HR Database.vmx"))
	if err := os.WriteFile(filepath.Join(sm.Dir, "HR Database", "HR Database.vmx"), append(vmx, []byte("uuid.action = \"keep\"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	resolveOne(t, vc, ss[0], sm.NAA, "forceMount")
	dc, _ := vc.f.Datacenter(ctx, topology.Site2Datacenter)
	folders, _ := dc.Folders(ctx)
	pool, _ := vc.f.ResourcePool(ctx, topology.Site2BCDRCluster+"/Resources")
	res, err := waitTask(t, mustTask(t)(folders.VmFolder.RegisterVM(ctx, "[RP1] HR Database/HR Database.vmx", "", false, pool, hosts[0])))
	if err != nil {
		t.Fatal(err)
	}
	vm := object.NewVirtualMachine(vc.c.Client, res.(types.ManagedObjectReference))
	if _, err := waitTask(t, mustTask(t)(vm.PowerOn(ctx))); err != nil {
		t.Fatal(err)
	}

	// The LUN turns read-only under the running VM: no rescan needed to notice.
	l.fabric.update(t, topology.Site2, "RG1FV1_SM", func(d *fabric.Device) { d.Writable = false })
	eventually(t, "the datastore going inaccessible", func() bool { return !datastoreTruthOf(site2, "RP1").Accessible })
	if tr, _ := site2.VM("HR Database"); tr.ConnectionState != "inaccessible" || tr.PowerState != "poweredOn" {
		t.Fatalf("VM under a read-only LUN: %+v", tr)
	}
	faults := site2.StorageFaults()
	if len(faults) != 1 || faults[0].Kind != "ReadOnly" || !containsStr(faults[0].Running, "HR Database") {
		t.Fatalf("faults %+v", faults)
	}
	l.fabric.update(t, topology.Site2, "RG1FV1_SM", func(d *fabric.Device) { d.Writable = true })
	mustRescan(t, ss[0])
	if tr, _ := site2.VM("HR Database"); !datastoreTruthOf(site2, "RP1").Accessible || tr.ConnectionState != "connected" {
		t.Fatalf("after the LUN is writable again and a rescan: %+v", tr)
	}

	// Unmapped under the running VM: permanent device loss, kept while the VM runs.
	l.fabric.update(t, topology.Site2, "RG1FV1_SM", func(d *fabric.Device) { d.Initiators = nil })
	eventually(t, "the device loss", func() bool {
		m, _ := hostMount(datastoreTruthOf(site2, "RP1"), "bcdr1.site2.vmbook.lab")
		return m.Reason == "PermanentDeviceLoss"
	})
	mustRescan(t, ss[0])
	if st := hostTruth(site2, "bcdr1.site2.vmbook.lab").DeviceStates[sm.NAA]; st != "lostCommunication" {
		t.Fatalf("lost device with a running VM: state %q", st)
	}
	if f := site2.StorageFaults(); len(f) != 2 || f[1].Kind != "PermanentDeviceLoss" {
		t.Fatalf("faults %+v", f)
	}
	if err := ss[0].UnmountVmfsVolume(ctx, topology.UUIDFor("vmfs", "site1/RG1FV1")); !fault.Is(err, &types.InvalidState{}) {
		t.Fatalf("unmount of an inaccessible volume: %v", err)
	}

	// Mapped again: the host finds it at a rescan and the VM is back.
	l.fabric.update(t, topology.Site2, "RG1FV1_SM", func(d *fabric.Device) { d.Initiators = sm.Initiators })
	mustRescan(t, ss[0])
	if tr, _ := site2.VM("HR Database"); tr.ConnectionState != "connected" {
		t.Fatalf("after the LUN came back: %+v", tr)
	}
	if _, err := waitTask(t, mustTask(t)(vm.PowerOff(ctx))); err != nil {
		t.Fatal(err)
	}

	// Lost with nothing running on it: a rescan removes the device; the registration stays.
	l.fabric.update(t, topology.Site2, "RG1FV1_SM", func(d *fabric.Device) { d.Initiators = nil })
	eventually(t, "the device loss", func() bool { return !datastoreTruthOf(site2, "RP1").Accessible })
	mustRescan(t, ss[0])
	h := hostTruth(site2, "bcdr1.site2.vmbook.lab")
	if _, listed := h.DeviceStates[sm.NAA]; listed || datastoreTruthOf(site2, "RP1").VMs != 1 {
		t.Fatalf("after autoremove: host %+v datastore %+v", h, datastoreTruthOf(site2, "RP1"))
	}
	var m mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"runtime.connectionState"}, &m); err != nil || m.Runtime.ConnectionState != "inaccessible" {
		t.Fatalf("VM after its device was removed: %v %v", m.Runtime.ConnectionState, err)
	}
}

type vcClient struct {
	c *govmomi.Client
	f *find.Finder
}
