package vcenter

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// The managed object of a VM and its .vmx are two views of one machine: newVMObject and
// buildDevices turn a machine (read from a .vmx) into the simulator's VirtualMachine; machineOf and
// devicesToMachine turn a VirtualMachine back into what its .vmx records.

// newVMObject builds the managed object of a VM described by m, placed on host in pool.
func (v *VCenter) newVMObject(m *machine, name string, vmx object.DatastorePath, host *hostInfo, pool types.ManagedObjectReference, template bool) (*simulator.VirtualMachine, *vmState) {
	now := time.Now()
	st := &vmState{
		dsName: vmx.Datastore, host: host.ref, conn: types.VirtualMachineConnectionStateConnected,
		location: m.Location, uuidAction: m.UUIDAction, nvram: m.NVRAM, hwVersion: m.HWVersion,
		guest: m.Guest,
	}
	if st.nvram == "" {
		st.nvram = strings.TrimSuffix(path.Base(vmx.Path), ".vmx") + ".nvram"
	}
	devices, nics, dss, nets := v.buildDevices(m, vmx, false)
	st.nics = nics

	vm := &simulator.VirtualMachine{DataSets: map[string]*simulator.DataSet{}}
	vm.Name = name
	rspec := types.DefaultResourceConfigSpec()
	dir := joinDSPath(vmx.Datastore, path.Dir(vmx.Path))
	tools := &types.ToolsConfigInfo{
		ToolsVersion:        12352,
		AfterPowerOn:        types.NewBool(m.Tools.AfterPowerOn),
		AfterResume:         types.NewBool(m.Tools.AfterResume),
		BeforeGuestStandby:  types.NewBool(m.Tools.BeforeSuspend),
		BeforeGuestShutdown: types.NewBool(m.Tools.BeforePowerOff),
		BeforeGuestReboot:   types.NewBool(m.Tools.BeforePowerOff),
		SyncTimeWithHost:    types.NewBool(m.Tools.SyncTime),
		ToolsUpgradePolicy:  orDefault(m.Tools.UpgradePolicy, "manual"),
	}
	var extra []types.BaseOptionValue
	for _, kv := range m.Extra {
		extra = append(extra, &types.OptionValue{Key: kv[0], Value: kv[1]})
	}
	vm.Config = &types.VirtualMachineConfigInfo{
		ChangeVersion: now.UTC().Format(time.RFC3339Nano), Modified: now,
		Name: name, GuestFullName: guestFullName(m.GuestID), Version: fmt.Sprintf("vmx-%d", max(m.HWVersion, 4)),
		Uuid: m.BIOSUUID, InstanceUuid: m.InstanceUUID, CreateDate: &now, Template: template,
		GuestId: m.GuestID, Annotation: m.Annotation, Firmware: m.Firmware,
		Files: types.VirtualMachineFileInfo{VmPathName: vmx.String(), SnapshotDirectory: dir, SuspendDirectory: dir, LogDirectory: dir},
		Tools: tools, Flags: types.VirtualMachineFlagInfo{}, DefaultPowerOps: types.VirtualMachineDefaultPowerOpInfo{
			PowerOffType: "soft", SuspendType: "hard", ResetType: "soft", DefaultPowerOffType: "soft", DefaultSuspendType: "hard", DefaultResetType: "soft", StandbyAction: "checkpoint",
		},
		Hardware: types.VirtualHardware{
			NumCPU: int32(max(m.CPUs, 1)), NumCoresPerSocket: types.NewInt32(int32(max(m.CoresPerSock, 1))),
			MemoryMB: int32(max(m.MemoryMB, 4)), Device: devices,
		},
		CpuAllocation: &rspec.CpuAllocation, MemoryAllocation: &rspec.MemoryAllocation,
		LatencySensitivity: &types.LatencySensitivity{Level: types.LatencySensitivitySensitivityLevelNormal},
		BootOptions:        &types.VirtualMachineBootOptions{},
		ExtraConfig:        extra,
		SwapPlacement:      "inherit",
	}
	vm.Runtime = types.VirtualMachineRuntimeInfo{
		Host: &host.ref, ConnectionState: types.VirtualMachineConnectionStateConnected,
		PowerState: types.VirtualMachinePowerStatePoweredOff, ToolsInstallerMounted: false,
		MaxCpuUsage: int32(2400 * max(m.CPUs, 1)), MaxMemoryUsage: int32(max(m.MemoryMB, 4)),
		// Required enums: what vCenter reports for a VM without Fault Tolerance or record/replay.
		FaultToleranceState: types.VirtualMachineFaultToleranceStateNotConfigured,
		RecordReplayState:   types.VirtualMachineRecordReplayStateInactive,
	}
	vm.Guest = v.guestInfo(vm, st, false)
	vm.GuestHeartbeatStatus = types.ManagedEntityStatusGray
	vm.ResourcePool = &pool
	vm.Datastore = dss
	vm.Network = nets
	vm.EnvironmentBrowser = v.environmentBrowser(host)
	vm.Layout = &types.VirtualMachineFileLayout{}
	vm.LayoutEx = &types.VirtualMachineFileLayoutEx{Timestamp: now}
	vm.Storage = &types.VirtualMachineStorageInfo{Timestamp: now}
	vm.Capability = types.VirtualMachineCapability{SnapshotOperationsSupported: true, PoweredOffSnapshotsSupported: true,
		SettingScreenResolutionSupported: true, ToolsSyncTimeSupported: true, ChangeTrackingSupported: true}
	vm.Summary = types.VirtualMachineSummary{
		Runtime: vm.Runtime,
		Guest:   v.guestSummary(vm.Guest),
		Config: types.VirtualMachineConfigSummary{
			Name: name, Template: template, VmPathName: vmx.String(), MemorySizeMB: vm.Config.Hardware.MemoryMB,
			NumCpu: vm.Config.Hardware.NumCPU, Uuid: m.BIOSUUID, InstanceUuid: m.InstanceUUID, GuestId: m.GuestID,
			GuestFullName: vm.Config.GuestFullName, Annotation: m.Annotation, HwVersion: vm.Config.Version,
			NumEthernetCards: int32(len(devices.SelectByType((*types.VirtualEthernetCard)(nil)))),
			NumVirtualDisks:  int32(len(devices.SelectByType((*types.VirtualDisk)(nil)))),
		},
		Storage:       &types.VirtualMachineStorageSummary{Timestamp: now},
		QuickStats:    types.VirtualMachineQuickStats{GuestHeartbeatStatus: types.ManagedEntityStatusGray},
		OverallStatus: types.ManagedEntityStatusGreen,
	}
	v.layout(vm)
	return vm, st
}

// environmentBrowser returns the environment browser of the host's cluster.
func (v *VCenter) environmentBrowser(h *hostInfo) types.ManagedObjectReference {
	if cl, ok := v.reg.Get(h.cluster.ref).(*simulator.ClusterComputeResource); ok && cl.EnvironmentBrowser != nil {
		return *cl.EnvironmentBrowser
	}
	return types.ManagedObjectReference{}
}

func guestFullName(id string) string {
	switch {
	case strings.HasPrefix(id, "windows"):
		return "Microsoft Windows (" + id + ")"
	case strings.Contains(strings.ToLower(id), "linux"), strings.HasPrefix(id, "rhel"), strings.HasPrefix(id, "centos"),
		strings.HasPrefix(id, "ubuntu"), strings.HasPrefix(id, "debian"), strings.HasPrefix(id, "sles"):
		return "Linux (" + id + ")"
	}
	return "Other (" + id + ")"
}

func guestFamily(id string) string {
	switch {
	case strings.HasPrefix(id, "windows"):
		return string(types.VirtualMachineGuestOsFamilyWindowsGuest)
	case strings.Contains(strings.ToLower(id), "linux"), strings.HasPrefix(id, "rhel"), strings.HasPrefix(id, "centos"),
		strings.HasPrefix(id, "ubuntu"), strings.HasPrefix(id, "debian"), strings.HasPrefix(id, "sles"):
		return string(types.VirtualMachineGuestOsFamilyLinuxGuest)
	}
	return string(types.VirtualMachineGuestOsFamilyOtherGuestFamily)
}

func knownGuestIDs() []string {
	out := make([]string, len(simulator.GuestID))
	for i, id := range simulator.GuestID {
		out[i] = string(id)
	}
	return out
}

func validGuestID(id string) bool {
	for _, g := range simulator.GuestID {
		if string(g) == id {
			return true
		}
	}
	return false
}

// buildDevices turns a machine's devices into virtual devices. poweredOn decides whether
// connectable devices are connected. It also returns the NICs' .vmx indexes and names, the
// datastores the VM uses (the .vmx's first) and the networks its NICs are attached to.
func (v *VCenter) buildDevices(m *machine, vmx object.DatastorePath, poweredOn bool) (object.VirtualDeviceList, map[int32]nicMeta, []types.ManagedObjectReference, []types.ManagedObjectReference) {
	list := defaultDevices()
	nics := map[int32]nicMeta{}
	var dss, nets []types.ManagedObjectReference
	if s := v.datastoreByName(vmx.Datastore); s != nil {
		dss = append(dss, s.ref)
	}
	dsNameOf := func(id string) string {
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, s := range v.stores {
			if s.uuid == id {
				return s.name
			}
		}
		return id
	}
	scsi := map[int]bool{}
	for _, c := range m.SCSI {
		if c.Bus < 0 || c.Bus > 3 || scsi[c.Bus] {
			continue
		}
		scsi[c.Bus] = true
		list = append(list, scsiController(c.Bus, c.VirtualDev))
	}
	unitPtr := func(n int) *int32 { u := int32(n); return &u }
	for i, d := range m.Disks {
		if !scsi[d.Bus] {
			scsi[d.Bus] = true
			list = append(list, scsiController(d.Bus, "lsilogic"))
		}
		file := dsPathOf(vmx, d.FileName, dsNameOf)
		var fp object.DatastorePath
		fp.FromString(file)
		backing := &types.VirtualDiskFlatVer2BackingInfo{
			VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: file},
			DiskMode:                     string(types.VirtualDiskModePersistent),
			ThinProvisioned:              types.NewBool(true), EagerlyScrub: types.NewBool(false),
			Split: types.NewBool(false), WriteThrough: types.NewBool(false), DigestEnabled: types.NewBool(false),
			Uuid: diskUUID(file),
		}
		var capacity int64
		if s := v.datastoreByName(fp.Datastore); s != nil {
			ref := s.ref
			backing.Datastore = &ref
			dss = appendRef(dss, ref)
			capacity = diskCapacity(filepath.Join(s.dir, filepath.FromSlash(fp.Path)))
		}
		list = append(list, &types.VirtualDisk{
			VirtualDevice: types.VirtualDevice{
				Key: int32(keyDisk + d.Bus*16 + d.Unit), ControllerKey: int32(keySCSI + d.Bus), UnitNumber: unitPtr(d.Unit),
				Backing:    backing,
				DeviceInfo: &types.Description{Label: fmt.Sprintf("Hard disk %d", i+1), Summary: fmt.Sprintf("%s KB", groupDigits(capacity/1024))},
			},
			CapacityInKB: capacity / 1024, CapacityInBytes: capacity,
		})
	}
	for _, n := range m.NICs {
		if n.Index < 0 || n.Index > 9 {
			continue
		}
		backing, net, summary := v.nicBacking(n)
		if net.Value != "" {
			nets = appendRef(nets, net)
		}
		key := int32(keyNIC + n.Index)
		card := types.VirtualEthernetCard{
			VirtualDevice: types.VirtualDevice{
				Key: key, ControllerKey: keyPCI, UnitNumber: unitPtr(7 + n.Index), Backing: backing,
				Connectable: connectable(n.StartConnected, n.GuestControl, poweredOn && n.StartConnected),
			},
			AddressType: apiAddressType(n.AddressType), MacAddress: n.MAC, WakeOnLanEnabled: types.NewBool(true),
			UptCompatibilityEnabled: types.NewBool(n.VirtualDev == "vmxnet3"),
		}
		dev := newNIC(n.VirtualDev, card)
		dev.GetVirtualDevice().DeviceInfo = &types.Description{Label: fmt.Sprintf("Network adapter %d", n.Index+1), Summary: summary}
		list = append(list, dev)
		nics[key] = nicMeta{index: n.Index, network: n.Network}
	}
	for i, c := range m.CDROMs {
		ctrl, key, ok := cdromBusKey(c.Bus, c.Unit)
		if !ok || list.FindByKey(key) != nil {
			continue
		}
		list = append(list, &types.VirtualCdrom{VirtualDevice: types.VirtualDevice{
			Key: key, ControllerKey: ctrl, UnitNumber: unitPtr(c.Unit), Backing: cdromBacking(c, vmx, dsNameOf),
			Connectable: connectable(c.StartConnected, true, poweredOn && c.StartConnected),
			DeviceInfo:  &types.Description{Label: fmt.Sprintf("CD/DVD drive %d", i+1), Summary: cdromSummary(c)},
		}})
	}
	for _, f := range m.Floppies {
		if f.Index < 0 || f.Index > 1 {
			continue
		}
		list = append(list, &types.VirtualFloppy{VirtualDevice: types.VirtualDevice{
			Key: int32(keyFloppy + f.Index), ControllerKey: keySIO, UnitNumber: unitPtr(f.Index), Backing: floppyBacking(f, vmx, dsNameOf),
			Connectable: connectable(f.StartConnected, true, poweredOn && f.StartConnected),
			DeviceInfo:  &types.Description{Label: fmt.Sprintf("Floppy drive %d", f.Index+1), Summary: "Floppy " + f.FileName},
		}})
	}
	relinkControllers(list)
	sortDevices(list)
	return list, nics, dss, nets
}

// nicBacking resolves a .vmx NIC's network in this vCenter. A distributed port backing is
// resolved by switch UUID and portgroup key, a standard one by portgroup name; what does not
// resolve keeps the .vmx's values and is attached to no network (as vCenter shows a VM registered
// from another site).
func (v *VCenter) nicBacking(n nicDev) (types.BaseVirtualDeviceBackingInfo, types.ManagedObjectReference, string) {
	if n.SwitchUUID != "" {
		r := v.findPortgroupByKey(n.SwitchUUID, n.PortgroupKey)
		if r.ref.Value == "" {
			return &types.VirtualEthernetCardDistributedVirtualPortBackingInfo{
				Port: types.DistributedVirtualSwitchPortConnection{SwitchUuid: n.SwitchUUID, PortgroupKey: n.PortgroupKey},
			}, types.ManagedObjectReference{}, "DVSwitch: " + n.SwitchUUID
		}
		return &types.VirtualEthernetCardDistributedVirtualPortBackingInfo{
			Port: types.DistributedVirtualSwitchPortConnection{SwitchUuid: r.dvsUUID, PortgroupKey: r.pgKey},
		}, r.ref, "DVSwitch: " + r.dvsUUID
	}
	r := v.findNetwork(n.Network)
	if r.ref.Value != "" && r.dvsUUID == "" {
		ref := r.ref
		return &types.VirtualEthernetCardNetworkBackingInfo{
			VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: n.Network, UseAutoDetect: types.NewBool(false)},
			Network:                        &ref,
		}, ref, n.Network
	}
	return &types.VirtualEthernetCardNetworkBackingInfo{
		VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: n.Network, UseAutoDetect: types.NewBool(false)},
	}, types.ManagedObjectReference{}, n.Network
}

func cdromBacking(c cdromDev, vmx object.DatastorePath, dsNameOf func(string) string) types.BaseVirtualDeviceBackingInfo {
	switch {
	case c.DeviceType == "cdrom-image":
		return &types.VirtualCdromIsoBackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{
			FileName: dsPathOf(vmx, c.FileName, dsNameOf)}}
	case c.ClientDevice:
		return &types.VirtualCdromRemotePassthroughBackingInfo{
			VirtualDeviceRemoteDeviceBackingInfo: types.VirtualDeviceRemoteDeviceBackingInfo{DeviceName: "", UseAutoDetect: types.NewBool(false)},
		}
	case c.DeviceType == "atapi-cdrom":
		return &types.VirtualCdromAtapiBackingInfo{VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: c.FileName, UseAutoDetect: types.NewBool(false)}}
	default:
		return &types.VirtualCdromPassthroughBackingInfo{VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: c.FileName, UseAutoDetect: types.NewBool(false)}}
	}
}

func cdromSummary(c cdromDev) string {
	switch {
	case c.DeviceType == "cdrom-image":
		return "ISO " + c.FileName
	case c.ClientDevice:
		return "Remote device"
	}
	return "Host device " + c.FileName
}

func floppyBacking(f floppyDev, vmx object.DatastorePath, dsNameOf func(string) string) types.BaseVirtualDeviceBackingInfo {
	switch {
	case f.FileType == "file":
		return &types.VirtualFloppyImageBackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: dsPathOf(vmx, f.FileName, dsNameOf)}}
	case f.ClientDevice || f.FileType == "remote":
		return &types.VirtualFloppyRemoteDeviceBackingInfo{VirtualDeviceRemoteDeviceBackingInfo: types.VirtualDeviceRemoteDeviceBackingInfo{DeviceName: f.FileName, UseAutoDetect: types.NewBool(false)}}
	default:
		return &types.VirtualFloppyDeviceBackingInfo{VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: f.FileName, UseAutoDetect: types.NewBool(false)}}
	}
}

// diskUUID derives a stable virtual disk UUID (vSphere's 6000C29x-... form) from its path.
func diskUUID(file string) string {
	h := sha256.Sum256([]byte("disk/" + file))
	x := "6000c29" + fmt.Sprintf("%x", h[:13])[:25]
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// layout fills a VM's file layout and storage usage from its directory and disks.
func (v *VCenter) layout(vm *simulator.VirtualMachine) {
	var vmx object.DatastorePath
	vmx.FromString(vm.Config.Files.VmPathName)
	dsDir, ok := v.datastoreDir(vmx.Datastore, types.ManagedObjectReference{})
	now := time.Now()
	var files []types.VirtualMachineFileLayoutExFileInfo
	var cfgFiles, logFiles []string
	var committed int64
	add := func(p object.DatastorePath, size int64, typ types.VirtualMachineFileLayoutExFileType) int32 {
		key := int32(len(files))
		files = append(files, types.VirtualMachineFileLayoutExFileInfo{
			Key: key, Name: p.String(), Type: string(typ), Size: size, UniqueSize: size, Accessible: types.NewBool(true),
		})
		committed += size
		return key
	}
	if ok {
		dir := path.Dir(vmx.Path)
		entries, _ := os.ReadDir(filepath.Join(dsDir, filepath.FromSlash(dir)))
		for _, e := range entries {
			if e.IsDir() || strings.HasSuffix(e.Name(), ".vmdk") || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			var size int64
			if fi, err := e.Info(); err == nil {
				size = fi.Size()
			}
			p := object.DatastorePath{Datastore: vmx.Datastore, Path: path.Join(dir, e.Name())}
			typ := types.VirtualMachineFileLayoutExFileTypeConfig
			switch path.Ext(e.Name()) {
			case ".nvram":
				typ = types.VirtualMachineFileLayoutExFileTypeNvram
				cfgFiles = append(cfgFiles, e.Name())
			case ".log":
				typ = types.VirtualMachineFileLayoutExFileTypeLog
				logFiles = append(logFiles, e.Name())
			case ".vmx":
			default:
				continue
			}
			add(p, size, typ)
		}
	}
	var disks []types.VirtualMachineFileLayoutExDiskLayout
	var diskLayout []types.VirtualMachineFileLayoutDiskLayout
	var uncommitted int64
	for _, d := range object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
		disk := d.(*types.VirtualDisk)
		b, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo)
		if !ok {
			continue
		}
		name := b.GetVirtualDeviceFileBackingInfo().FileName
		var p object.DatastorePath
		p.FromString(name)
		flat := p
		flat.Path = strings.TrimSuffix(p.Path, ".vmdk") + "-flat.vmdk"
		k1 := add(p, 512, types.VirtualMachineFileLayoutExFileTypeDiskDescriptor)
		k2 := add(flat, 0, types.VirtualMachineFileLayoutExFileTypeDiskExtent)
		disks = append(disks, types.VirtualMachineFileLayoutExDiskLayout{Key: disk.Key,
			Chain: []types.VirtualMachineFileLayoutExDiskUnit{{FileKey: []int32{k1, k2}}}})
		diskLayout = append(diskLayout, types.VirtualMachineFileLayoutDiskLayout{Key: disk.Key, DiskFile: []string{name}})
		uncommitted += disk.CapacityInBytes
	}
	vm.LayoutEx = &types.VirtualMachineFileLayoutEx{File: files, Disk: disks, Timestamp: now}
	vm.Layout = &types.VirtualMachineFileLayout{ConfigFile: cfgFiles, LogFile: logFiles, Disk: diskLayout}
	var usage []types.VirtualMachineUsageOnDatastore
	if len(vm.Datastore) > 0 {
		usage = []types.VirtualMachineUsageOnDatastore{{Datastore: vm.Datastore[0], Committed: committed, Uncommitted: uncommitted, Unshared: committed}}
	}
	vm.Storage = &types.VirtualMachineStorageInfo{PerDatastoreUsage: usage, Timestamp: now}
	vm.Summary.Storage = &types.VirtualMachineStorageSummary{Committed: committed, Uncommitted: uncommitted, Unshared: committed, Timestamp: now}
}

// machineOf describes a VM as its .vmx records it. The caller holds the VM's lock or opMu.
func (v *VCenter) machineOf(vm *simulator.VirtualMachine, st *vmState) *machine {
	cfg := vm.Config
	var vmx object.DatastorePath
	vmx.FromString(cfg.Files.VmPathName)
	m := &machine{
		Name: unescapeName(cfg.Name), GuestID: cfg.GuestId, CPUs: int(cfg.Hardware.NumCPU), MemoryMB: int(cfg.Hardware.MemoryMB),
		Firmware: cfg.Firmware, Annotation: cfg.Annotation, BIOSUUID: cfg.Uuid, InstanceUUID: cfg.InstanceUuid,
		Location: st.location, UUIDAction: st.uuidAction, NVRAM: st.nvram, Guest: st.guest,
	}
	if cfg.Hardware.NumCoresPerSocket != nil {
		m.CoresPerSock = int(*cfg.Hardware.NumCoresPerSocket)
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(cfg.Version, "vmx-")); err == nil {
		m.HWVersion = n
	}
	if t := cfg.Tools; t != nil {
		m.Tools = toolsSettings{
			AfterPowerOn: isTrue(t.AfterPowerOn), AfterResume: isTrue(t.AfterResume), BeforeSuspend: isTrue(t.BeforeGuestStandby),
			BeforePowerOff: isTrue(t.BeforeGuestShutdown), SyncTime: isTrue(t.SyncTimeWithHost), UpgradePolicy: t.ToolsUpgradePolicy,
		}
	}
	for _, o := range cfg.ExtraConfig {
		if ov := o.GetOptionValue(); ov != nil {
			m.Extra = append(m.Extra, [2]string{ov.Key, fmt.Sprint(ov.Value)})
		}
	}
	v.devicesToMachine(m, object.VirtualDeviceList(cfg.Hardware.Device), st.nics, vmx)
	return m
}

// devicesToMachine describes devices the way the .vmx records them.
func (v *VCenter) devicesToMachine(m *machine, devices object.VirtualDeviceList, nics map[int32]nicMeta, vmx object.DatastorePath) {
	busOf := map[int32]int{}
	for _, d := range devices {
		if c, ok := d.(types.BaseVirtualSCSIController); ok {
			sc := c.GetVirtualSCSIController()
			busOf[sc.Key] = int(sc.BusNumber)
			m.SCSI = append(m.SCSI, scsiCtl{Bus: int(sc.BusNumber), VirtualDev: scsiKind(d)})
		}
	}
	nicIndex := map[int]bool{}
	for _, meta := range nics {
		nicIndex[meta.index] = true
	}
	for _, d := range devices {
		vd := d.GetVirtualDevice()
		start := vd.Connectable == nil || vd.Connectable.StartConnected
		switch x := d.(type) {
		case *types.VirtualDisk:
			b, ok := x.Backing.(types.BaseVirtualDeviceFileBackingInfo)
			if !ok || vd.UnitNumber == nil {
				continue
			}
			m.Disks = append(m.Disks, diskDev{Bus: busOf[vd.ControllerKey], Unit: int(*vd.UnitNumber),
				FileName: vmxFileName(vmx, b.GetVirtualDeviceFileBackingInfo().FileName)})
		case types.BaseVirtualEthernetCard:
			card := x.GetVirtualEthernetCard()
			meta, ok := nics[vd.Key]
			if !ok {
				meta.index = int(vd.Key - keyNIC)
				for meta.index < 0 || meta.index > 9 || nicIndex[meta.index] {
					meta.index = (meta.index + 1) % 10
				}
				nicIndex[meta.index] = true
			}
			n := nicDev{Index: meta.index, VirtualDev: nicKind(d), AddressType: vmxAddressType(card.AddressType),
				MAC: strings.ToLower(card.MacAddress), StartConnected: start, GuestControl: vd.Connectable == nil || vd.Connectable.AllowGuestControl}
			switch b := vd.Backing.(type) {
			case *types.VirtualEthernetCardNetworkBackingInfo:
				n.Network = b.DeviceName
			case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
				n.SwitchUUID, n.PortgroupKey = b.Port.SwitchUuid, b.Port.PortgroupKey
				n.Network = meta.network
				if r := v.findPortgroupByKey(b.Port.SwitchUuid, b.Port.PortgroupKey); r.name != "" {
					n.Network = r.name
				}
			}
			m.NICs = append(m.NICs, n)
		case *types.VirtualCdrom:
			c := cdromDev{Bus: cdromBusName(vd.ControllerKey), StartConnected: start}
			if vd.UnitNumber != nil {
				c.Unit = int(*vd.UnitNumber)
			}
			switch b := vd.Backing.(type) {
			case *types.VirtualCdromIsoBackingInfo:
				c.DeviceType, c.FileName = "cdrom-image", vmxFileName(vmx, b.FileName)
			case *types.VirtualCdromRemotePassthroughBackingInfo, *types.VirtualCdromRemoteAtapiBackingInfo:
				c.DeviceType, c.FileName, c.ClientDevice = "cdrom-raw", "auto detect", true
			case *types.VirtualCdromAtapiBackingInfo:
				c.DeviceType, c.FileName = "atapi-cdrom", b.DeviceName
			case *types.VirtualCdromPassthroughBackingInfo:
				c.DeviceType, c.FileName = "cdrom-raw", b.DeviceName
			default:
				c.DeviceType, c.FileName, c.ClientDevice = "cdrom-raw", "auto detect", true
			}
			m.CDROMs = append(m.CDROMs, c)
		case *types.VirtualFloppy:
			f := floppyDev{Index: int(vd.Key - keyFloppy), StartConnected: start}
			if vd.UnitNumber != nil {
				f.Index = int(*vd.UnitNumber)
			}
			switch b := vd.Backing.(type) {
			case *types.VirtualFloppyImageBackingInfo:
				f.FileType, f.FileName = "file", vmxFileName(vmx, b.FileName)
			case *types.VirtualFloppyRemoteDeviceBackingInfo:
				f.FileType, f.FileName, f.ClientDevice = "device", b.DeviceName, true
			case *types.VirtualFloppyDeviceBackingInfo:
				f.FileType, f.FileName = "device", b.DeviceName
			default:
				f.FileType, f.ClientDevice = "device", true
			}
			m.Floppies = append(m.Floppies, f)
		}
	}
	sort.Slice(m.NICs, func(i, j int) bool { return m.NICs[i].Index < m.NICs[j].Index })
}
