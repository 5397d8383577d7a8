package vcenter

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/topology"
)

// TestInventoryLifecycle covers the inventory verbs the operator uses besides registration:
// folders, moves, renames, destroy, and the ground truth they leave.
func TestInventoryLifecycle(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{GuestBootTime: -1})
	v := l.vc[topology.Site1]
	c := l.client(t, topology.Site1)
	f := finder(t, c, topology.Site1Datacenter)
	dc, _ := f.Datacenter(ctx, topology.Site1Datacenter)
	folders, _ := dc.Folders(ctx)
	test, err := folders.VmFolder.CreateFolder(ctx, "Test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := folders.VmFolder.CreateFolder(ctx, "Test"); err == nil {
		t.Fatal("duplicate folder accepted")
	}
	if _, err := folders.VmFolder.CreateFolder(ctx, ""); err == nil {
		t.Fatal("empty folder name accepted")
	}
	sub, err := test.CreateFolder(ctx, "Sub")
	if err != nil {
		t.Fatal(err)
	}

	vm := mustVM(t, f, "Desktops/Desktop-04")
	moveTask := func(to *object.Folder, refs ...types.ManagedObjectReference) error {
		task, err := to.MoveInto(ctx, refs)
		if err != nil {
			return err
		}
		_, err = waitTask(t, task)
		return err
	}
	if err := moveTask(sub, vm.Reference()); err != nil {
		t.Fatal(err)
	}
	if tr, _ := v.VM("Desktop-04"); tr.Folder != "Test/Sub" {
		t.Fatalf("folder after move %q", tr.Folder)
	}
	if err := moveTask(sub, test.Reference()); err == nil {
		t.Fatal("moving a folder below itself accepted")
	}
	other := mustVM(t, f, "Desktops/Desktop-03")
	task, err := other.Rename(ctx, "Desktop-04")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitTask(t, task); err != nil {
		t.Fatal(err)
	}
	if err := moveTask(sub, other.Reference()); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("move onto a name in use: %v", err)
	}

	// Destroy needs the VM off; it deletes the files.
	task, _ = vm.Destroy(ctx)
	if _, err := waitTask(t, task); err == nil {
		t.Fatal("destroyed a powered-on VM")
	}
	task, _ = vm.PowerOff(ctx)
	if _, err := waitTask(t, task); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(l.fabric.device(t, topology.Site1, "LP2FV1").Dir, "Desktop-04")
	if !fileExists(filepath.Join(dir, "Desktop-04.vmx")) {
		t.Fatal("no .vmx before destroy")
	}
	task, _ = test.Destroy(ctx)
	if _, err := waitTask(t, task); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("VM directory left behind: %v", err)
	}
	if _, ok := v.VM("Desktop-04"); ok {
		// Desktop-03, renamed Desktop-04, is still there.
		tr, _ := v.VM("Desktop-04")
		if tr.Folder != "Desktops" {
			t.Fatalf("wrong VM left: %+v", tr)
		}
	}
	if _, err := folders.VmFolder.Destroy(ctx); err == nil {
		t.Fatal("destroyed the datacenter's VM folder")
	}

	// Ground truth is JSON.
	b, err := json.Marshal(v.Truth())
	if err != nil {
		t.Fatal(err)
	}
	var back Truth
	if err := json.Unmarshal(b, &back); err != nil || back.Site != topology.Site1 || len(back.Hosts) != 4 {
		t.Fatalf("truth round trip: %v %+v", err, back.Hosts)
	}
}

func TestVMXRoundTrip(t *testing.T) {
	m := &machine{
		Name: `Odd "name" | with bars`, GuestID: "windows9Server64Guest", CPUs: 4, CoresPerSock: 2, MemoryMB: 8192,
		Firmware: "efi", HWVersion: 19, Annotation: "line1\nline2",
		BIOSUUID: "421c6f3a-2b5e-7d4c-8e9f-0a1b2c3d4e5f", InstanceUUID: "501c6f3a-2b5e-7d4c-8e9f-0a1b2c3d4e5f",
		Location: locationID("site1", "[RP1] x/x.vmx"), UUIDAction: "keep", NVRAM: "x.nvram",
		SCSI:  []scsiCtl{{Bus: 0, VirtualDev: "pvscsi"}, {Bus: 1, VirtualDev: "lsisas1068"}},
		Disks: []diskDev{{Bus: 0, Unit: 0, FileName: "x.vmdk"}, {Bus: 1, Unit: 3, FileName: "/vmfs/volumes/RP2/x/x_1.vmdk"}},
		NICs: []nicDev{
			{Index: 0, VirtualDev: "vmxnet3", Network: "Site1-LAN", SwitchUUID: "50a1b2c3-d4e5-f607-1829-3a4b5c6d7e8f", PortgroupKey: "dvportgroup-12",
				AddressType: "vpx", MAC: "00:50:56:9a:00:01", StartConnected: true, GuestControl: true},
			{Index: 2, VirtualDev: "e1000e", Network: "Backup", AddressType: "static", MAC: "00:50:56:00:00:99"},
		},
		CDROMs:   []cdromDev{{Bus: "sata0", Unit: 0, DeviceType: "cdrom-image", FileName: "/vmfs/volumes/LP1/iso/x.iso", StartConnected: true}},
		Floppies: []floppyDev{{Index: 0, FileType: "device", FileName: "/dev/fd0"}},
		Tools:    toolsSettings{AfterPowerOn: false, AfterResume: true, BeforeSuspend: true, BeforePowerOff: false, SyncTime: true, UpgradePolicy: "manual"},
		Guest:    guestIdentity{HostName: "x", NICs: map[int]guestNIC{0: {IP: "20.1.1.9", Mask: "255.255.255.0", Gateway: "20.1.1.1", DNS: []string{"20.1.1.5", "20.1.1.6"}}}},
		Extra:    [][2]string{{"guestinfo.app", "db"}, {"disk.EnableUUID", "TRUE"}},
	}
	var b strings.Builder
	if err := m.toVMX().write(&b); err != nil {
		t.Fatal(err)
	}
	f, err := parseVMX(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	got := machineFromVMX(f, "x")
	want, _ := json.Marshal(m)
	have, _ := json.Marshal(got)
	if string(want) != string(have) {
		t.Fatalf("round trip changed the machine:\nwant %s\nhave %s\nvmx:\n%s", want, have, b.String())
	}
	if !strings.Contains(b.String(), `uuid.bios = "42 1c 6f 3a 2b 5e 7d 4c-8e 9f 0a 1b 2c 3d 4e 5f"`) || !strings.Contains(b.String(), `guestOS = "windows9srv-64"`) {
		t.Fatalf("vmx:\n%s", b.String())
	}
	// Garbage lines are ignored; case of keys does not matter.
	f, _ = parseVMX(strings.NewReader("garbage\nDISPLAYNAME = \"A\"\n= \"x\"\nethernet0.present = \"true\"\nethernet0.generatedAddress = \"00:50:56:AA:BB:CC\"\n"))
	got = machineFromVMX(f, "dir")
	if got.Name != "A" || len(got.NICs) != 1 || got.NICs[0].MAC != "00:50:56:aa:bb:cc" || got.BIOSUUID != "" {
		t.Fatalf("lenient parse: %+v", got)
	}
}
