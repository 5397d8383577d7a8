package vcenter

import (
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vmdk"

	"vmdr.local/lab/internal/fabric"
	"vmdr.local/lab/internal/topology"
)

// inventory holds the references of what New built. It is written once, before serving.
type inventory struct {
	dc         types.ManagedObjectReference
	dcName     string
	vmFolder   types.ManagedObjectReference
	hostFolder types.ManagedObjectReference
	dsFolder   types.ManagedObjectReference
	netFolder  types.ManagedObjectReference
	dvs        types.ManagedObjectReference // zero with standard portgroups
	dvsUUID    string
	clusters   map[string]*clusterInfo
	hosts      []*hostInfo
	hostByName map[string]*hostInfo
	hostByRef  map[types.ManagedObjectReference]*hostInfo
	storageRef map[types.ManagedObjectReference]*hostInfo // HostStorageSystem -> host
	dssRef     map[types.ManagedObjectReference]*hostInfo // HostDatastoreSystem -> host
	optRef     map[types.ManagedObjectReference]*hostInfo // host advanced OptionManager -> host
	portgroups map[string]topology.Portgroup
}

type clusterInfo struct {
	name  string
	ref   types.ManagedObjectReference
	pool  types.ManagedObjectReference // root resource pool
	hosts []*hostInfo
}

type hostInfo struct {
	name      string
	initiator string // FC WWPN, colon-separated hex
	ip        string
	cluster   *clusterInfo
	ref       types.ManagedObjectReference
	storage   types.ManagedObjectReference // HostStorageSystem
	dss       types.ManagedObjectReference // HostDatastoreSystem
	options   types.ManagedObjectReference // advanced settings OptionManager
}

// soapErr turns a simulator method result into an error.
func soapErr(res soap.HasFault) error {
	if f := res.Fault(); f != nil {
		return fmt.Errorf("%T: %s", f.VimFault(), f.String)
	}
	return nil
}

// build creates the site's world. It runs before the vCenter serves anything.
func (v *VCenter) build() error {
	ctx := v.ctx()
	inv := &v.inv
	inv.clusters = map[string]*clusterInfo{}
	inv.hostByName = map[string]*hostInfo{}
	inv.hostByRef = map[types.ManagedObjectReference]*hostInfo{}
	inv.storageRef = map[types.ManagedObjectReference]*hostInfo{}
	inv.dssRef = map[types.ManagedObjectReference]*hostInfo{}
	inv.optRef = map[types.ManagedObjectReference]*hostInfo{}
	inv.portgroups = map[string]topology.Portgroup{}

	root := v.reg.Get(v.model.ServiceContent.RootFolder).(*simulator.Folder)
	res := root.CreateDatacenter(ctx, &types.CreateDatacenter{This: root.Self, Name: v.site.Datacenter})
	if err := soapErr(res); err != nil {
		return fmt.Errorf("datacenter: %w", err)
	}
	inv.dc = res.(*methods.CreateDatacenterBody).Res.Returnval
	dc := v.reg.Get(inv.dc).(*simulator.Datacenter)
	inv.dcName = dc.Name
	inv.vmFolder, inv.hostFolder, inv.dsFolder, inv.netFolder = dc.VmFolder, dc.HostFolder, dc.DatastoreFolder, dc.NetworkFolder

	if err := v.buildCompute(ctx); err != nil {
		return err
	}
	if err := v.buildNetworks(ctx); err != nil {
		return err
	}
	if err := v.buildPools(ctx); err != nil {
		return err
	}
	for _, p := range v.site.Folders {
		if _, err := v.ensureFolder(ctx, p); err != nil {
			return fmt.Errorf("folder %q: %w", p, err)
		}
	}

	// Storage: what the fabric presents now, then the NFS exports the topology mounts.
	for _, h := range inv.hosts {
		v.rescanHost(ctx, h)
	}
	v.mountTopologyNFS(ctx)

	return v.buildVMs(ctx)
}

func (v *VCenter) buildCompute(ctx *simulator.Context) error {
	inv := &v.inv
	hostFolder := v.reg.Get(inv.hostFolder).(*simulator.Folder)
	for _, c := range v.site.Clusters {
		res := hostFolder.CreateClusterEx(ctx, &types.CreateClusterEx{This: hostFolder.Self, Name: c.Name})
		if err := soapErr(res); err != nil {
			return fmt.Errorf("cluster %q: %w", c.Name, err)
		}
		ref := res.(*methods.CreateClusterExBody).Res.Returnval
		cl := v.reg.Get(ref).(*simulator.ClusterComputeResource)
		ci := &clusterInfo{name: c.Name, ref: ref, pool: *cl.ResourcePool}
		inv.clusters[c.Name] = ci
		for _, th := range c.Hosts {
			res := cl.AddHostTask(ctx, &types.AddHost_Task{
				This:        ref,
				Spec:        types.HostConnectSpec{HostName: th.Name, Force: true},
				AsConnected: true,
			})
			if err := soapErr(res); err != nil {
				return fmt.Errorf("host %q: %w", th.Name, err)
			}
			result, fault := v.waitBaseTask(res.(*methods.AddHost_TaskBody).Res.Returnval)
			if fault != nil {
				return fmt.Errorf("host %q: %T", th.Name, fault)
			}
			hs := v.reg.Get(result.(types.ManagedObjectReference)).(*simulator.HostSystem)
			hi := &hostInfo{
				name: th.Name, initiator: strings.ToLower(th.Initiator), ip: th.IP, cluster: ci, ref: hs.Self,
				storage: *hs.ConfigManager.StorageSystem,
				dss:     *hs.ConfigManager.DatastoreSystem,
				options: *hs.ConfigManager.AdvancedOption,
			}
			v.configureHost(ctx, hi, hs)
			sizeHost(hs, th)
			ci.hosts = append(ci.hosts, hi)
			inv.hosts = append(inv.hosts, hi)
			inv.hostByName[hi.name] = hi
			inv.hostByRef[hi.ref] = hi
			inv.storageRef[hi.storage] = hi
			inv.dssRef[hi.dss] = hi
			inv.optRef[hi.options] = hi
		}
		summarizeCluster(v, cl)
	}
	return nil
}

// sizeHost gives a host the topology's capacity (the simulator's hosts all have two 2.3 GHz
// cores and 4 GB).
func sizeHost(hs *simulator.HostSystem, th topology.Host) {
	if th.Cores <= 0 || th.MemoryMB <= 0 {
		return
	}
	hw := hs.Summary.Hardware
	hw.NumCpuCores, hw.NumCpuThreads, hw.NumCpuPkgs = int16(th.Cores), int16(th.Cores), 2
	hw.CpuMhz = int32(th.CoreMHz)
	hw.MemorySize = th.MemoryMB << 20
	if hs.Hardware != nil {
		hs.Hardware.CpuInfo.NumCpuCores, hs.Hardware.CpuInfo.NumCpuThreads, hs.Hardware.CpuInfo.NumCpuPackages = int16(th.Cores), int16(th.Cores), 2
		hs.Hardware.CpuInfo.Hz = int64(th.CoreMHz) * 1_000_000
		hs.Hardware.MemorySize = th.MemoryMB << 20
	}
}

// summarizeCluster computes a cluster's ComputeResourceSummary in vCenter's units: totalCpu and
// effectiveCpu in MHz over all cores, totalMemory in bytes, effectiveMemory in MB (the simulator
// adds one core's MHz per host and reports effectiveMemory in bytes).
func summarizeCluster(v *VCenter, cl *simulator.ClusterComputeResource) {
	s := cl.Summary.GetComputeResourceSummary()
	s.TotalCpu, s.TotalMemory, s.NumCpuCores, s.NumCpuThreads, s.EffectiveCpu, s.EffectiveMemory = 0, 0, 0, 0, 0, 0
	s.NumHosts, s.NumEffectiveHosts = 0, 0
	for _, ref := range cl.Host {
		hs, ok := v.reg.Get(ref).(*simulator.HostSystem)
		if !ok {
			continue
		}
		hw := hs.Summary.Hardware
		mhz := int32(hw.NumCpuCores) * hw.CpuMhz
		s.TotalCpu += mhz
		s.EffectiveCpu += mhz
		s.TotalMemory += hw.MemorySize
		s.EffectiveMemory += hw.MemorySize >> 20
		s.NumCpuCores += hw.NumCpuCores
		s.NumCpuThreads += hw.NumCpuThreads
		s.NumHosts++
		s.NumEffectiveHosts++
	}
}

// configureHost gives a host its management IP, its own storage device list with a Fibre Channel
// HBA whose WWPN is the topology's initiator, and the advanced settings the storage model reads.
func (v *VCenter) configureHost(ctx *simulator.Context, hi *hostInfo, hs *simulator.HostSystem) {
	if hs.Config != nil && hs.Config.Network != nil && len(hs.Config.Network.Vnic) > 0 {
		vnic := hs.Config.Network.Vnic[0]
		if vnic.Spec.Ip != nil {
			ip := *vnic.Spec.Ip
			ip.IpAddress = hi.ip
			ip.SubnetMask = "255.255.255.0"
			vnic.Spec.Ip = &ip
		}
		hs.Config.Network.Vnic = append([]types.HostVirtualNic{vnic}, hs.Config.Network.Vnic[1:]...)
	}

	v.configureHostDNS(hi, hs)

	wwpn := wwnFromString(hi.initiator)
	sdi := &types.HostStorageDeviceInfo{
		HostBusAdapter: []types.BaseHostHostBusAdapter{
			&types.HostBlockHba{HostHostBusAdapter: types.HostHostBusAdapter{
				Key: "key-vim.host.BlockHba-vmhba0", Device: "vmhba0", Status: "unknown",
				Model: "Lewisburg SATA AHCI Controller", Driver: "vmw_ahci", Pci: "0000:00:11.5",
			}},
			&types.HostFibreChannelHba{
				HostHostBusAdapter: types.HostHostBusAdapter{
					Key: "key-vim.host.FibreChannelHba-vmhba2", Device: "vmhba2", Bus: 59, Status: "online",
					Model: "Emulex LightPulse LPe32000 PCIe Fibre Channel Adapter", Driver: "lpfc", Pci: "0000:3b:00.0",
				},
				PortWorldWideName: wwpn,
				NodeWorldWideName: wwpn ^ (1 << 60),
				PortType:          "fabric",
				Speed:             16,
			},
		},
	}
	fsv := &types.HostFileSystemVolumeInfo{VolumeTypeList: []string{"VMFS", "NFS", "NFS41", "OTHER"}}
	ss := v.reg.Get(hi.storage).(*simulator.HostStorageSystem)
	ss.StorageDeviceInfo = sdi
	ss.FileSystemVolumeInfo = *fsv
	ss.HBA = nil
	if hs.Config != nil {
		hs.Config.StorageDevice = sdi
		hs.Config.FileSystemVolume = fsv
	}

	om := v.reg.Get(hi.options).(*simulator.OptionManager)
	disallow, autoremove := int64(1), int64(1)
	if v.opts.MountCopiesByLabel {
		disallow = 0
	}
	if v.opts.KeepLostDevices {
		autoremove = 0
	}
	om.UpdateOptions(&types.UpdateOptions{ChangedValue: []types.BaseOptionValue{
		&types.OptionValue{Key: "LVM.DisallowSnapshotLun", Value: disallow},
		&types.OptionValue{Key: "LVM.EnableResignature", Value: int64(0)},
		&types.OptionValue{Key: "Disk.AutoremoveOnPDL", Value: autoremove},
	}})
}

// wwnFromString reads "20:00:00:25:b5:01:00:01" as a 64-bit world wide name. The HBA API type is
// a signed long; WWNs used here have their top bit clear.
func wwnFromString(s string) int64 {
	u, err := strconv.ParseUint(strings.ReplaceAll(s, ":", ""), 16, 64)
	if err != nil {
		return 0
	}
	return int64(u)
}

func (v *VCenter) buildNetworks(ctx *simulator.Context) error {
	inv := &v.inv
	for _, pg := range v.site.Portgroups {
		inv.portgroups[pg.Name] = pg
	}
	if v.opts.StandardPortgroups {
		return v.buildStandardPortgroups(ctx)
	}
	netFolder := v.reg.Get(inv.netFolder).(*simulator.Folder)
	res := netFolder.CreateDVSTask(ctx, &types.CreateDVS_Task{
		This: netFolder.Self,
		Spec: types.DVSCreateSpec{ConfigSpec: &types.VMwareDVSConfigSpec{
			DVSConfigSpec: types.DVSConfigSpec{Name: v.site.Datacenter + " DSwitch", NumStandalonePorts: 0},
		}},
	})
	if err := soapErr(res); err != nil {
		return fmt.Errorf("distributed switch: %w", err)
	}
	result, fault := v.waitBaseTask(res.(*methods.CreateDVS_TaskBody).Res.Returnval)
	if fault != nil {
		return fmt.Errorf("distributed switch: %T", fault)
	}
	inv.dvs = result.(types.ManagedObjectReference)
	dvs := v.reg.Get(inv.dvs).(*simulator.DistributedVirtualSwitch)
	inv.dvsUUID = dvs.Uuid

	var specs []types.DVPortgroupConfigSpec
	for _, pg := range v.site.Portgroups {
		specs = append(specs, types.DVPortgroupConfigSpec{
			Name: pg.Name, Type: string(types.DistributedVirtualPortgroupPortgroupTypeEarlyBinding), NumPorts: 128,
		})
	}
	if len(specs) > 0 {
		res = dvs.AddDVPortgroupTask(ctx, &types.AddDVPortgroup_Task{This: inv.dvs, Spec: specs})
		if err := soapErr(res); err != nil {
			return fmt.Errorf("portgroups: %w", err)
		}
		if _, fault := v.waitBaseTask(res.(*methods.AddDVPortgroup_TaskBody).Res.Returnval); fault != nil {
			return fmt.Errorf("portgroups: %T", fault)
		}
	}
	var members []types.DistributedVirtualSwitchHostMemberConfigSpec
	for _, h := range inv.hosts {
		members = append(members, types.DistributedVirtualSwitchHostMemberConfigSpec{
			Operation: string(types.ConfigSpecOperationAdd), Host: h.ref,
		})
	}
	if len(members) > 0 {
		res = dvs.ReconfigureDvsTask(ctx, &types.ReconfigureDvs_Task{This: inv.dvs, Spec: &types.DVSConfigSpec{Host: members}})
		if err := soapErr(res); err != nil {
			return fmt.Errorf("switch members: %w", err)
		}
		if _, fault := v.waitBaseTask(res.(*methods.ReconfigureDvs_TaskBody).Res.Returnval); fault != nil {
			return fmt.Errorf("switch members: %T", fault)
		}
	}
	return nil
}

// buildStandardPortgroups adds each portgroup to vSwitch0 of every host; the vCenter shows one
// Network per name, seen by all hosts.
func (v *VCenter) buildStandardPortgroups(ctx *simulator.Context) error {
	inv := &v.inv
	for _, pg := range v.site.Portgroups {
		var netRef types.ManagedObjectReference
		for i, h := range inv.hosts {
			hs := v.reg.Get(h.ref).(*simulator.HostSystem)
			ns := v.reg.Get(*hs.ConfigManager.NetworkSystem).(*simulator.HostNetworkSystem)
			spec := types.HostPortGroupSpec{Name: pg.Name, VswitchName: "vSwitch0", Policy: types.HostNetworkPolicy{}}
			if i == 0 {
				if err := soapErr(ns.AddPortGroup(ctx, &types.AddPortGroup{This: ns.Self, Portgrp: spec})); err != nil {
					return fmt.Errorf("portgroup %q: %w", pg.Name, err)
				}
				netRef = v.findNetwork(pg.Name).ref
			} else if ns.NetworkInfo != nil {
				ns.NetworkInfo.Portgroup = append(ns.NetworkInfo.Portgroup, types.HostPortGroup{
					Key: "key-vim.host.PortGroup-" + pg.Name, Spec: spec,
				})
			}
			if netRef.Value == "" {
				continue
			}
			if n, ok := v.reg.Get(netRef).(*mo.Network); ok {
				n.Host = append(n.Host, h.ref)
			}
			hs.Network = append(hs.Network, netRef)
			if cl, ok := v.reg.Get(h.cluster.ref).(*simulator.ClusterComputeResource); ok && simulator.FindReference(cl.Network, netRef) == nil {
				cl.Network = append(cl.Network, netRef)
			}
		}
	}
	return nil
}

func (v *VCenter) buildPools(ctx *simulator.Context) error {
	for _, p := range v.site.Pools {
		if _, err := v.ensurePool(ctx, p.Cluster, p.Path); err != nil {
			return fmt.Errorf("resource pool %s/%s: %w", p.Cluster, p.Path, err)
		}
	}
	return nil
}

// ensurePool returns the resource pool at path below cluster's root pool, creating it (and its
// parents) when missing.
func (v *VCenter) ensurePool(ctx *simulator.Context, cluster, poolPath string) (types.ManagedObjectReference, error) {
	ci := v.inv.clusters[cluster]
	if ci == nil {
		return types.ManagedObjectReference{}, fmt.Errorf("no cluster %q", cluster)
	}
	cur := ci.pool
	for _, name := range splitPath(poolPath) {
		parent := v.reg.Get(cur).(*simulator.ResourcePool)
		if e := v.reg.FindByName(name, parent.ResourcePool.ResourcePool); e != nil {
			cur = e.Reference()
			continue
		}
		res := parent.CreateResourcePool(ctx, &types.CreateResourcePool{This: cur, Name: name, Spec: types.DefaultResourceConfigSpec()})
		if err := soapErr(res); err != nil {
			return types.ManagedObjectReference{}, err
		}
		cur = res.(*methods.CreateResourcePoolBody).Res.Returnval
	}
	return cur, nil
}

// ensureFolder returns the VM folder at path below the datacenter's vm folder, creating it (and
// its parents) when missing.
func (v *VCenter) ensureFolder(ctx *simulator.Context, folderPath string) (types.ManagedObjectReference, error) {
	cur := v.inv.vmFolder
	for _, name := range splitPath(folderPath) {
		f := v.reg.Get(cur).(*simulator.Folder)
		if e := v.reg.FindByName(name, f.ChildEntity); e != nil {
			if e.Reference().Type != "Folder" {
				return types.ManagedObjectReference{}, fmt.Errorf("%q is not a folder", name)
			}
			cur = e.Reference()
			continue
		}
		res := f.CreateFolder(ctx, &types.CreateFolder{This: cur, Name: name})
		if err := soapErr(res); err != nil {
			return types.ManagedObjectReference{}, err
		}
		cur = res.(*methods.CreateFolderBody).Res.Returnval
	}
	return cur, nil
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// mountTopologyNFS mounts, on every host an export lets in, the NFS volumes the topology has
// mounted (a junction path) at start, under the datastore name the volume carries.
func (v *VCenter) mountTopologyNFS(ctx *simulator.Context) {
	names := map[string]string{}
	for _, vol := range v.site.Array.Volumes {
		if vol.NAS != nil && vol.NAS.JunctionPath != "" {
			names[vol.Name] = vol.Datastore
		}
	}
	for _, d := range v.fabric.Devices(v.site.ID) {
		name, ok := names[d.Volume]
		if d.Protocol != fabric.NFS || !ok || d.ExportPath == "" {
			continue
		}
		for _, h := range v.inv.hosts {
			if exportAccess(d, h.ip) == "" {
				continue
			}
			if _, fault := v.mountNAS(ctx, h, d.Server, d.ExportPath, name, types.HostMountModeReadWrite); fault != nil {
				v.log.Warn("initial NFS mount failed", "host", h.name, "export", d.Server+":"+d.ExportPath, "fault", fmt.Sprintf("%T", fault))
			}
		}
	}
}

// buildVMs puts the topology's VMs on their datastores: a VM whose .vmx is already in its
// datastore (a restarted lab, a replicated volume) is registered as it is; otherwise its files are
// written first. VMs the topology has powered on are started, with their guests running.
func (v *VCenter) buildVMs(ctx *simulator.Context) error {
	return v.buildVMList(ctx, v.site.VMs)
}

// AddVM creates a VM at this site as if provisioned by an administrator: its files are written to
// its datastore, it is registered in its folder and pool (both created when missing) and powered
// on if tv says so. Tests use it (through the lab's control API) to provision VMs at Site 1.
// It returns the VM's managed object id.
func (v *VCenter) AddVM(tv topology.VM) (string, error) {
	if tv.Cluster == "" && len(v.site.Clusters) > 0 {
		tv.Cluster = v.site.Clusters[0].Name
	}
	if tv.Host == "" {
		for _, c := range v.site.Clusters {
			if c.Name == tv.Cluster && len(c.Hosts) > 0 {
				tv.Host = c.Hosts[0].Name
			}
		}
	}
	if tv.InstanceUUID == "" {
		tv.InstanceUUID = topology.UUIDFor("instance", v.site.ID+"/"+tv.Name)
	}
	if tv.BIOSUUID == "" {
		tv.BIOSUUID = topology.UUIDFor("bios", v.site.ID+"/"+tv.Name)
	}
	if tv.GuestID == "" {
		tv.GuestID = "otherLinux64Guest"
	}
	v.opMu.Lock()
	err := v.buildVMList(v.ctx(), []topology.VM{tv})
	v.opMu.Unlock()
	if err != nil {
		return "", err
	}
	vm, ok := v.VM(tv.Name)
	if !ok {
		return "", fmt.Errorf("VM %q was created but is not in the inventory", tv.Name)
	}
	return vm.Ref, nil
}

func (v *VCenter) buildVMList(ctx *simulator.Context, vms []topology.VM) error {
	type planned struct {
		tv      topology.VM
		host    *hostInfo
		folder  types.ManagedObjectReference
		pool    types.ManagedObjectReference
		vmxPath string
		write   func() error
	}
	plan := make([]planned, 0, len(vms))
	for i := range vms {
		tv := vms[i]
		h := v.inv.hostByName[tv.Host]
		if h == nil {
			return fmt.Errorf("VM %q: no host %q", tv.Name, tv.Host)
		}
		ds := v.datastoreByName(tv.Datastore)
		if ds == nil {
			return fmt.Errorf("VM %q: datastore %q is not mounted (is its LUN presented to %s?)", tv.Name, tv.Datastore, tv.Host)
		}
		folder, err := v.ensureFolder(ctx, tv.Folder)
		if err != nil {
			return fmt.Errorf("VM %q: %w", tv.Name, err)
		}
		pool, err := v.ensurePool(ctx, tv.Cluster, tv.ResourcePool)
		if err != nil {
			return fmt.Errorf("VM %q: %w", tv.Name, err)
		}
		dir := vmDirName(tv.Name)
		p := planned{tv: tv, host: h, folder: folder, pool: pool, vmxPath: fmt.Sprintf("[%s] %s/%s.vmx", ds.name, dir, dir)}
		if _, err := os.Stat(filepath.Join(ds.dir, dir, dir+".vmx")); err != nil {
			m := v.topologyMachine(tv, p.vmxPath)
			dsDir, disk := ds.dir, int64(tv.DiskGB)<<30
			p.write = func() error { return writeVMFiles(dsDir, dir, m, disk) }
		}
		plan = append(plan, p)
	}

	// Writing the files is most of the start-up time; do it in parallel.
	work := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if plan[i].write == nil {
					continue
				}
				if err := plan[i].write(); err != nil {
					select {
					case errs <- fmt.Errorf("VM %q: %w", plan[i].tv.Name, err):
					default:
					}
				}
			}
		}()
	}
	for i := range plan {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}

	for _, p := range plan {
		ref, fault := v.registerVM(ctx, registration{
			folder: p.folder, pool: p.pool, host: p.host, vmxPath: p.vmxPath, name: p.tv.Name, startup: true,
		})
		if fault != nil {
			return fmt.Errorf("VM %q: register: %s", p.tv.Name, faultMessage(fault))
		}
		if p.tv.PoweredOn {
			v.powerOnNow(ctx, ref, true)
		}
	}
	return nil
}

// vmDirName is the directory (and file base) name ESXi uses for a VM name.
func vmDirName(name string) string {
	r := strings.NewReplacer("/", "_", "\\", "_", "[", "_", "]", "_")
	return r.Replace(name)
}

// topologyMachine describes a topology VM as its .vmx will record it.
func (v *VCenter) topologyMachine(tv topology.VM, vmxPath string) *machine {
	dir := vmDirName(tv.Name)
	m := &machine{
		Name:         tv.Name,
		GuestID:      tv.GuestID,
		CPUs:         max(tv.CPUs, 1),
		MemoryMB:     max(tv.MemoryMB, 4),
		Firmware:     "efi",
		HWVersion:    19,
		BIOSUUID:     tv.BIOSUUID,
		InstanceUUID: tv.InstanceUUID,
		Location:     locationID(v.site.ID, vmxPath),
		NVRAM:        dir + ".nvram",
		SCSI:         []scsiCtl{{Bus: 0, VirtualDev: "pvscsi"}},
		Disks:        []diskDev{{Bus: 0, Unit: 0, FileName: dir + ".vmdk"}},
		CDROMs:       []cdromDev{{Bus: "sata0", Unit: 0, DeviceType: "cdrom-raw", FileName: "auto detect", ClientDevice: true, StartConnected: false}},
		Floppies:     []floppyDev{{Index: 0, FileType: "device", FileName: "/dev/fd0", StartConnected: false}},
		Tools:        toolsSettings{AfterPowerOn: true, AfterResume: true, BeforeSuspend: true, BeforePowerOff: true, UpgradePolicy: "manual"},
		Guest:        guestIdentity{HostName: guestHostName(tv.Name), NICs: map[int]guestNIC{}},
	}
	nic := nicDev{Index: 0, VirtualDev: "vmxnet3", Network: tv.Portgroup, AddressType: "vpx", MAC: v.nextMAC(), StartConnected: true, GuestControl: true}
	if n := v.findNetwork(tv.Portgroup); n.ref.Value != "" && n.dvsUUID != "" {
		nic.SwitchUUID, nic.PortgroupKey = n.dvsUUID, n.pgKey
	}
	m.NICs = []nicDev{nic}
	if tv.IP != "" {
		g := guestNIC{IP: tv.IP}
		if pg, ok := v.inv.portgroups[tv.Portgroup]; ok {
			if _, ipnet, err := net.ParseCIDR(pg.CIDR); err == nil {
				g.Mask = net.IP(ipnet.Mask).String()
			}
			g.Gateway = pg.Gateway
			g.DNS = append([]string(nil), pg.DNS...)
		}
		m.Guest.NICs[0] = g
	}
	return m
}

// guestHostName derives a DNS-safe host name from a VM name.
func guestHostName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-' || r == ' ' || r == '_' || r == '.':
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
		}
	}
	return strings.Trim(b.String(), "-")
}

// writeVMFiles writes a new VM's directory as ESXi would have left it: the .vmx, an empty NVRAM,
// and a descriptor plus an (empty) flat extent for each disk in the VM directory.
func writeVMFiles(dsDir, dir string, m *machine, diskBytes int64) error {
	vmDir := filepath.Join(dsDir, dir)
	if err := os.MkdirAll(vmDir, 0o755); err != nil {
		return err
	}
	for _, d := range m.Disks {
		if strings.HasPrefix(d.FileName, "/") {
			continue
		}
		if err := writeDiskDescriptor(filepath.Join(vmDir, d.FileName), diskBytes); err != nil {
			return err
		}
	}
	if m.NVRAM != "" {
		if err := os.WriteFile(filepath.Join(vmDir, m.NVRAM), nil, 0o644); err != nil {
			return err
		}
	}
	f, err := os.Create(filepath.Join(vmDir, dir+".vmx"))
	if err != nil {
		return err
	}
	if err := m.toVMX().write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeVMXFile writes m to file atomically (write then rename), so a concurrent reader such as a
// SnapMirror transfer never sees half a file.
func writeVMXFile(file string, m *machine) error {
	tmp := file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := m.toVMX().write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, file)
}

// writeDisk writes a monolithic flat VMDK: a descriptor and an empty (sparse) extent.
func writeDisk(file string, capacity int64) error {
	if err := writeDiskDescriptor(file, capacity); err != nil {
		return err
	}
	return os.WriteFile(strings.TrimSuffix(file, ".vmdk")+"-flat.vmdk", nil, 0o644)
}

// writeDiskDescriptor writes the descriptor of a monolithic flat VMDK. The lab reads disks'
// capacities from their descriptors and never needs the extents, so the VMs the lab creates at
// start have none (a few thousand fewer files to create).
func writeDiskDescriptor(file string, capacity int64) error {
	flat := strings.TrimSuffix(file, ".vmdk") + "-flat.vmdk"
	desc := vmdk.NewDescriptor(vmdk.Extent{Size: capacity / 512, Info: filepath.Base(flat)})
	desc.CID = vmdk.DiskContentID(time.Now().UnixNano())
	desc.DDB["adapterType"] = "lsilogic"
	desc.DDB["virtualHWVersion"] = "19"
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := desc.Write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// diskCapacity reads a VMDK descriptor's capacity in bytes (0 if unreadable).
func diskCapacity(file string) int64 {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	d, err := vmdk.ParseDescriptor(f)
	if err != nil {
		return 0
	}
	return d.Capacity()
}

// netRef describes a network of this datacenter that a NIC can be backed by.
type netRef struct {
	name    string
	ref     types.ManagedObjectReference // Network or DistributedVirtualPortgroup
	dvsUUID string                       // distributed portgroups only
	pgKey   string
}

// findNetwork looks a network up by name in the datacenter (standard networks and distributed
// portgroups). The zero value means none.
func (v *VCenter) findNetwork(name string) netRef {
	if name == "" {
		return netRef{}
	}
	dc, ok := v.reg.Get(v.inv.dc).(*simulator.Datacenter)
	if !ok {
		return netRef{}
	}
	for _, ref := range dc.Network {
		switch n := v.reg.Get(ref).(type) {
		case *mo.Network:
			if n.Name == name {
				return netRef{name: name, ref: ref}
			}
		case *simulator.DistributedVirtualPortgroup:
			if n.Name == name && n.Config.DistributedVirtualSwitch != nil {
				if s, ok := v.reg.Get(*n.Config.DistributedVirtualSwitch).(*simulator.DistributedVirtualSwitch); ok {
					return netRef{name: name, ref: ref, dvsUUID: s.Uuid, pgKey: n.Key}
				}
			}
		}
	}
	return netRef{}
}

// findPortgroupByKey resolves a distributed port backing (switch UUID and portgroup key) in this
// datacenter.
func (v *VCenter) findPortgroupByKey(switchUUID, key string) netRef {
	if key == "" {
		return netRef{}
	}
	pg, ok := v.reg.Get(types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: key}).(*simulator.DistributedVirtualPortgroup)
	if !ok || pg.Config.DistributedVirtualSwitch == nil {
		return netRef{}
	}
	s, ok := v.reg.Get(*pg.Config.DistributedVirtualSwitch).(*simulator.DistributedVirtualSwitch)
	if !ok || !strings.EqualFold(s.Uuid, switchUUID) {
		return netRef{}
	}
	return netRef{name: pg.Name, ref: pg.Self, dvsUUID: s.Uuid, pgKey: pg.Key}
}

// waitBaseTask waits for a task started by a stock simulator method and returns its outcome.
func (v *VCenter) waitBaseTask(ref types.ManagedObjectReference) (types.AnyType, types.BaseMethodFault) {
	lockCtx := v.ctx()
	for {
		t, ok := v.reg.Get(ref).(*simulator.Task)
		if !ok {
			return nil, &types.ManagedObjectNotFound{Obj: ref}
		}
		var done bool
		var res types.AnyType
		var fault types.BaseMethodFault
		v.reg.WithLock(lockCtx, t, func() {
			switch t.Info.State {
			case types.TaskInfoStateSuccess:
				done, res = true, t.Info.Result
			case types.TaskInfoStateError:
				done = true
				fault = &types.SystemError{}
				if t.Info.Error != nil && t.Info.Error.Fault != nil {
					fault = t.Info.Error.Fault
				}
			}
		})
		if done {
			return res, fault
		}
		time.Sleep(time.Millisecond)
	}
}

// datastoreByName returns the lab state of the datastore with that name, or nil.
func (v *VCenter) datastoreByName(name string) *dsState {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range v.stores {
		if s.name == name {
			return s
		}
	}
	return nil
}

// sortedRefs returns refs sorted by value, for deterministic output.
func sortedRefs(refs []types.ManagedObjectReference) []types.ManagedObjectReference {
	out := append([]types.ManagedObjectReference(nil), refs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out
}

// joinDSPath renders "[ds] p".
func joinDSPath(ds, p string) string {
	if p == "" {
		return "[" + ds + "]"
	}
	return "[" + ds + "] " + path.Clean(p)
}
