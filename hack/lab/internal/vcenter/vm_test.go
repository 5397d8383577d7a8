package vcenter

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/fabric"
	"vmdr.local/lab/internal/topology"
)

// TestCreateVMReplicatesAndRegisters creates a VM at Site 1 over the API, replicates its
// datastore and registers it at Site 2: the .vmx CreateVM_Task wrote brings the devices along.
func TestCreateVMReplicatesAndRegisters(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{})
	c := l.client(t, topology.Site1)
	f := finder(t, c, topology.Site1Datacenter)
	folder, err := f.Folder(ctx, "vm/Protection Group 1/Application")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := f.ResourcePool(ctx, topology.Site1Cluster+"/Resources/"+topology.HRPool)
	if err != nil {
		t.Fatal(err)
	}
	netw, err := f.Network(ctx, topology.Site1LAN)
	if err != nil {
		t.Fatal(err)
	}
	backing, err := netw.EthernetCardBackingInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var devices object.VirtualDeviceList
	scsi, _ := devices.CreateSCSIController("pvscsi")
	devices = append(devices, scsi)
	ide, _ := devices.CreateIDEController()
	devices = append(devices, ide)
	cdrom, _ := devices.CreateCdrom(ide.(*types.VirtualIDEController))
	devices = append(devices, cdrom)
	disk := devices.CreateDisk(scsi.(types.BaseVirtualController), types.ManagedObjectReference{}, "[RP1]")
	disk.CapacityInKB = 10 * 1024 * 1024
	devices = append(devices, disk)
	nic, err := object.EthernetCardTypes().CreateEthernetCard("vmxnet3", backing)
	if err != nil {
		t.Fatal(err)
	}
	devices = append(devices, nic)
	changes, err := devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range changes {
		if _, ok := ch.GetVirtualDeviceConfigSpec().Device.(*types.VirtualDisk); ok {
			ch.GetVirtualDeviceConfigSpec().FileOperation = types.VirtualDeviceConfigSpecFileOperationCreate
		}
	}
	task, err := folder.CreateVM(ctx, types.VirtualMachineConfigSpec{
		Name: "HR-New", GuestId: "rhel9_64Guest", NumCPUs: 2, MemoryMB: 2048,
		Files: &types.VirtualMachineFileInfo{VmPathName: "[RP1]"}, DeviceChange: changes,
	}, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := waitTask(t, task)
	if err != nil {
		t.Fatal(err)
	}
	vm := object.NewVirtualMachine(c.Client, res.(types.ManagedObjectReference))
	m := vmProps(t, vm, "config", "summary")
	if m.Summary.Config.NumEthernetCards != 1 || m.Summary.Config.NumVirtualDisks != 1 || m.Config.Files.VmPathName != "[RP1] HR-New/HR-New.vmx" {
		t.Fatalf("created VM %+v", m.Summary.Config)
	}
	src, _ := l.vc[topology.Site1].VM("HR-New")
	dir := l.fabric.device(t, topology.Site1, "RG1FV1").Dir
	for _, f := range []string{"HR-New.vmx", "HR-New.nvram", "HR-New.vmdk", "HR-New-flat.vmdk"} {
		if !fileExists(filepath.Join(dir, "HR-New", f)) {
			t.Fatalf("missing %s", f)
		}
	}
	vmx, _ := os.ReadFile(filepath.Join(dir, "HR-New", "HR-New.vmx"))
	for _, want := range []string{`guestOS = "rhel9-64"`, `ethernet0.networkName = "Site1-LAN"`, `scsi0:0.fileName = "HR-New.vmdk"`, `uuid.location =`, `vc.uuid =`} {
		if !strings.Contains(string(vmx), want) {
			t.Fatalf(".vmx lacks %q:\n%s", want, vmx)
		}
	}

	replicate(t, l.fabric, topology.Site1, "RG1FV1", topology.Site2, "RG1FV1_SM")
	l.fabric.update(t, topology.Site2, "RG1FV1_SM", func(d *fabric.Device) { d.Writable = true })
	c2 := l.client(t, topology.Site2)
	f2 := finder(t, c2, topology.Site2Datacenter)
	h, err := f2.HostSystem(ctx, "bcdr1.site2.vmbook.lab")
	if err != nil {
		t.Fatal(err)
	}
	ss, _ := h.ConfigManager().StorageSystem(ctx)
	if err := ss.RescanAllHba(ctx); err != nil {
		t.Fatal(err)
	}
	resolveCopies(t, c2, ss, "forceMount")
	dc, _ := f2.Datacenter(ctx, topology.Site2Datacenter)
	folders, _ := dc.Folders(ctx)
	pool2, err := f2.ResourcePool(ctx, topology.Site2BCDRCluster+"/Resources")
	if err != nil {
		t.Fatal(err)
	}
	task, err = folders.VmFolder.RegisterVM(ctx, "[RP1] HR-New/HR-New.vmx", "HR-New-DR", false, pool2, h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitTask(t, task); err != nil {
		t.Fatal(err)
	}
	dst, ok := l.vc[topology.Site2].VM("HR-New-DR")
	if !ok {
		t.Fatal("not registered")
	}
	if dst.InstanceUUID != src.InstanceUUID || dst.BIOSUUID != src.BIOSUUID || dst.NICs[0].MAC != src.NICs[0].MAC || dst.NICs[0].Portgroup != topology.Site1LAN {
		t.Fatalf("registered %+v\nsource %+v", dst, src)
	}
	if len(dst.Media) != 1 || dst.Host != "bcdr1.site2.vmbook.lab" {
		t.Fatalf("registered %+v", dst)
	}
}

func TestGuestCustomizationAndShutdown(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{GuestBootTime: 20 * time.Second})
	c := l.client(t, topology.Site1)
	f := finder(t, c, topology.Site1Datacenter)
	vm := mustVM(t, f, "Desktops/Desktop-01")

	// Tools are running at start; ShutdownGuest powers the VM off after a guest delay.
	if err := vm.ShutdownGuest(ctx); err != nil {
		t.Fatal(err)
	}
	l.clock.Advance(11 * time.Second)
	eventually(t, "guest shutdown", func() bool {
		return vmProps(t, vm, "runtime.powerState").Runtime.PowerState == types.VirtualMachinePowerStatePoweredOff
	})
	if err := vm.ShutdownGuest(ctx); err == nil {
		t.Fatal("shutdown of a powered-off VM accepted")
	}

	spec := func(n int) types.CustomizationSpec {
		s := types.CustomizationSpec{
			Identity:         &types.CustomizationLinuxPrep{HostName: &types.CustomizationFixedName{Name: "desk01-dr"}, Domain: "dr.lab"},
			GlobalIPSettings: types.CustomizationGlobalIPSettings{DnsServerList: []string{"30.1.1.5"}},
		}
		for i := 0; i < n; i++ {
			s.NicSettingMap = append(s.NicSettingMap, types.CustomizationAdapterMapping{Adapter: types.CustomizationIPSettings{
				Ip: &types.CustomizationFixedIp{IpAddress: "30.1.1.200"}, SubnetMask: "255.255.255.0", Gateway: []string{"30.1.1.1"},
			}})
		}
		return s
	}
	custom := func(s types.CustomizationSpec) error {
		task, err := vm.Customize(ctx, s)
		if err != nil {
			return err
		}
		_, err = waitTask(t, task)
		return err
	}
	if err := custom(spec(2)); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("two NIC settings for one NIC: %v", err)
	}
	if err := custom(spec(1)); err != nil {
		t.Fatal(err)
	}
	if err := custom(spec(1)); err == nil {
		t.Fatal("second pending customization accepted")
	}
	if p := vmProps(t, vm, "config.tools").Config.Tools.PendingCustomization; p == "" {
		t.Fatal("no pending customization")
	}
	task, err := vm.PowerOn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitTask(t, task); err != nil {
		t.Fatal(err)
	}
	if err := vm.ShutdownGuest(ctx); err == nil || !strings.Contains(err.Error(), "VMware Tools") {
		t.Fatalf("shutdown before tools run: %v", err)
	}
	l.clock.Advance(21 * time.Second)
	eventually(t, "customized guest", func() bool {
		g := vmProps(t, vm, "guest").Guest
		return g.IpAddress == "30.1.1.200" && g.HostName == "desk01-dr"
	})
	m := vmProps(t, vm, "guest", "config.tools")
	if m.Guest.CustomizationInfo == nil || m.Guest.CustomizationInfo.CustomizationStatus != "TOOLSDEPLOYPKG_SUCCEEDED" || m.Config.Tools.PendingCustomization != "" {
		t.Fatalf("customization info %+v pending %q", m.Guest.CustomizationInfo, m.Config.Tools.PendingCustomization)
	}
	if err := custom(spec(1)); err == nil || !strings.Contains(err.Error(), "current state") {
		t.Fatalf("customization of a powered-on VM: %v", err)
	}
	// The guest keeps its new settings across a reboot; they are in its .vmx.
	if err := vm.RebootGuest(ctx); err != nil {
		t.Fatal(err)
	}
	l.clock.Advance(21 * time.Second)
	eventually(t, "reboot", func() bool {
		g := vmProps(t, vm, "guest").Guest
		return g.ToolsRunningStatus == "guestToolsRunning" && g.IpAddress == "30.1.1.200"
	})
	vmx, _ := os.ReadFile(filepath.Join(l.fabric.device(t, topology.Site1, "LP2FV1").Dir, "Desktop-01", "Desktop-01.vmx"))
	if !strings.Contains(string(vmx), `lab.guest.ethernet0.ipAddress = "30.1.1.200"`) {
		t.Fatalf(".vmx:\n%s", vmx)
	}
}

// TestSitesAreIndependent checks that two vCenters in one process share nothing: sessions,
// inventory changes, fault injection.
func TestSitesAreIndependent(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{})
	site1, site2 := l.vc[topology.Site1], l.vc[topology.Site2]
	c1, c2 := l.client(t, topology.Site1), l.client(t, topology.Site2)
	vm1 := mustVM(t, finder(t, c1, topology.Site1Datacenter), "Infrastructure/Site1-DC1")
	site1.FailNextTask("PowerOffVM_Task", &types.InvalidState{})
	vm2 := mustVM(t, finder(t, c2, topology.Site2Datacenter), "Infrastructure/Site2-DC1")
	task, err := vm2.PowerOff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitTask(t, task); err != nil {
		t.Fatalf("site 2 power-off failed with a fault injected at site 1: %v", err)
	}
	if tr, _ := site1.VM("Site1-DC1"); tr.PowerState != "poweredOn" {
		t.Fatal("site 1 VM changed")
	}
	task, _ = vm1.PowerOff(ctx)
	if _, err := waitTask(t, task); err == nil {
		t.Fatal("injected fault did not fire at site 1")
	}

	// A site 1 session cookie means nothing at site 2.
	u1 := site1.URL()
	cookies := c1.Client.Client.Jar.Cookies(u1)
	u2 := site2.URL()
	sc := soapClient(u2, l.pool)
	sc.Jar.SetCookies(u2, cookies)
	if _, err := methods.CurrentTime(ctx, sc, &types.CurrentTime{This: vim25.ServiceInstance}); err == nil {
		t.Fatal("site 1 session accepted by site 2")
	}
	site1.SetDown(DownReset)
	defer site1.SetDown(Up)
	if _, err := methods.CurrentTime(ctx, c2.Client, &types.CurrentTime{This: vim25.ServiceInstance}); err != nil {
		t.Fatalf("site 2 affected by site 1 going down: %v", err)
	}
}

func TestPropertyCollectorPagingAndUpdates(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.Options{VMsPerGroup: 60, DatastoresPerGroup: 2}, Options{GuestBootTime: -1})
	c := l.client(t, topology.Site1)
	vmgr := view.NewManager(c.Client)
	cv, err := vmgr.CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		t.Fatal(err)
	}
	spec := types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{Obj: cv.Reference(), Skip: types.NewBool(true), SelectSet: []types.BaseSelectionSpec{
			&types.TraversalSpec{Type: "ContainerView", Path: "view", Skip: types.NewBool(false)},
		}}},
		PropSet: []types.PropertySpec{{Type: "VirtualMachine", PathSet: []string{"name", "config.instanceUuid", "runtime.powerState"}}},
	}
	pc := c.PropertyCollector().Reference()
	res, err := methods.RetrievePropertiesEx(ctx, c.Client, &types.RetrievePropertiesEx{This: pc, SpecSet: []types.PropertyFilterSpec{spec}, Options: types.RetrieveOptions{MaxObjects: 25}})
	if err != nil {
		t.Fatal(err)
	}
	total, pages := len(res.Returnval.Objects), 1
	token := res.Returnval.Token
	for token != "" {
		next, err := methods.ContinueRetrievePropertiesEx(ctx, c.Client, &types.ContinueRetrievePropertiesEx{This: pc, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		total += len(next.Returnval.Objects)
		token = next.Returnval.Token
		pages++
	}
	want := len(l.world.Sites[0].VMs)
	if total != want || pages < 5 {
		t.Fatalf("%d objects in %d pages, want %d", total, pages, want)
	}

	// A filter and WaitForUpdatesEx: the initial state in pages, then changes.
	pcol, err := property.DefaultCollector(c.Client).Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pcol.CreateFilter(ctx, types.CreateFilter{Spec: spec}); err != nil {
		t.Fatal(err)
	}
	wait := func(version string, max int32) *types.UpdateSet {
		t.Helper()
		secs := int32(5)
		r, err := methods.WaitForUpdatesEx(ctx, c.Client, &types.WaitForUpdatesEx{This: pcol.Reference(), Version: version,
			Options: &types.WaitOptions{MaxWaitSeconds: &secs, MaxObjectUpdates: max}})
		if err != nil {
			t.Fatal(err)
		}
		return r.Returnval
	}
	seen, version := 0, ""
	for {
		u := wait(version, 50)
		if u == nil {
			t.Fatal("no initial update")
		}
		for _, fs := range u.FilterSet {
			seen += len(fs.ObjectSet)
		}
		version = u.Version
		if u.Truncated == nil || !*u.Truncated {
			break
		}
	}
	if seen != want {
		t.Fatalf("initial update: %d objects, want %d", seen, want)
	}
	vm := mustVM(t, finder(t, c, topology.Site1Datacenter), "Desktops/Desktop-02")
	task, _ := vm.PowerOff(ctx)
	if _, err := waitTask(t, task); err != nil {
		t.Fatal(err)
	}
	found := false
	deadline := time.Now().Add(10 * time.Second)
	for !found && time.Now().Before(deadline) {
		u := wait(version, 50)
		if u == nil {
			continue
		}
		version = u.Version
		for _, fs := range u.FilterSet {
			for _, ou := range fs.ObjectSet {
				for _, ch := range ou.ChangeSet {
					if ou.Obj == vm.Reference() && ch.Name == "runtime.powerState" && ch.Val == types.VirtualMachinePowerStatePoweredOff {
						found = true
					}
				}
			}
		}
	}
	if !found {
		t.Fatal("power-off not reported by WaitForUpdatesEx")
	}
	var vms []mo.VirtualMachine
	if err := cv.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name"}, &vms); err != nil || len(vms) != want {
		t.Fatalf("container view retrieve: %d %v", len(vms), err)
	}

	// Unregister and register again: leave, then enter, with the same version chain.
	if err := vm.Unregister(ctx); err != nil {
		t.Fatal(err)
	}
	kinds := func() map[types.ObjectUpdateKind]int {
		got := map[types.ObjectUpdateKind]int{}
		for deadline := time.Now().Add(10 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
			u := wait(version, 50)
			if u == nil {
				continue
			}
			version = u.Version
			for _, fs := range u.FilterSet {
				for _, ou := range fs.ObjectSet {
					got[ou.Kind]++
				}
			}
		}
		return got
	}
	if k := kinds(); k[types.ObjectUpdateKindLeave] != 1 {
		t.Fatalf("after unregister: %v", k)
	}
	dc, _ := finder(t, c, topology.Site1Datacenter).Datacenter(ctx, topology.Site1Datacenter)
	folders, _ := dc.Folders(ctx)
	pool, _ := finder(t, c, topology.Site1Datacenter).ResourcePool(ctx, topology.Site1Cluster+"/Resources")
	task, err = folders.VmFolder.RegisterVM(ctx, "[LP2] Desktop-02/Desktop-02.vmx", "", false, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitTask(t, task); err != nil {
		t.Fatal(err)
	}
	if k := kinds(); k[types.ObjectUpdateKindEnter] != 1 {
		t.Fatalf("after register: %v", k)
	}
	// A stale or made-up version is refused, as on vCenter.
	secs := int32(0)
	if _, err := methods.WaitForUpdatesEx(ctx, c.Client, &types.WaitForUpdatesEx{This: pcol.Reference(), Version: "bogus",
		Options: &types.WaitOptions{MaxWaitSeconds: &secs}}); !fault.Is(err, &types.InvalidCollectorVersion{}) {
		t.Fatalf("bogus version: %v", err)
	}
	// CancelWaitForUpdates ends a wait.
	errc := make(chan error, 1)
	go func() {
		_, err := methods.WaitForUpdatesEx(ctx, c.Client, &types.WaitForUpdatesEx{This: pcol.Reference(), Version: version})
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if _, err := methods.CancelWaitForUpdates(ctx, c.Client, &types.CancelWaitForUpdates{This: pcol.Reference()}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !fault.Is(err, &types.RequestCanceled{}) {
			t.Fatalf("cancelled wait: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("CancelWaitForUpdates did not end the wait")
	}
}

// TestGuestReipScript checks the appendix B re-IP script: it re-addresses the guest at a boot with
// the power-on scripts on and the guest variable set, NICs connected or not, and does nothing with
// the scripts off.
func TestGuestReipScript(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{GuestBootTime: 20 * time.Second})
	c := l.client(t, topology.Site1)
	f := finder(t, c, topology.Site1Datacenter)
	vm := mustVM(t, f, "Desktops/Desktop-01")
	before := vmProps(t, vm, "guest").Guest.IpAddress
	boot := func(tools bool, value string) string {
		t.Helper()
		if vmProps(t, vm, "runtime.powerState").Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
			task, err := vm.PowerOff(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := waitTask(t, task); err != nil {
				t.Fatal(err)
			}
		}
		task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{
			Tools:       &types.ToolsConfigInfo{AfterPowerOn: types.NewBool(tools)},
			ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: ReipScriptKey, Value: value}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := waitTask(t, task); err != nil {
			t.Fatal(err)
		}
		task, err = vm.PowerOn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := waitTask(t, task); err != nil {
			t.Fatal(err)
		}
		l.clock.Advance(21 * time.Second)
		var ip string
		eventually(t, "guest up", func() bool {
			g := vmProps(t, vm, "guest").Guest
			ip = g.IpAddress
			return g.ToolsRunningStatus == "guestToolsRunning"
		})
		return ip
	}
	const script = `{"nics":[{"index":0,"ip":"30.1.1.201","mask":"255.255.255.0","gateway":"30.1.1.254","dns":["30.1.1.5"]}]}`
	if ip := boot(false, script); ip != before {
		t.Fatalf("scripts off: the guest moved from %s to %s", before, ip)
	}
	if ip := boot(true, script); ip != "30.1.1.201" {
		t.Fatalf("scripts on: the guest reports %s", ip)
	}
	// Its new settings are the guest's own now, kept with the variable removed and the scripts off.
	if ip := boot(false, ""); ip != "30.1.1.201" {
		t.Fatalf("after the script: %s", ip)
	}
	m := vmProps(t, vm, "config.extraConfig")
	for _, o := range m.Config.ExtraConfig {
		if o.GetOptionValue().Key == ReipScriptKey {
			t.Fatal("the variable is still set")
		}
	}
}
