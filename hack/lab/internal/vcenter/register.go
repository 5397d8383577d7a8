package vcenter

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/clock"
)

// vmState is what the lab keeps about a VM beyond the simulator's managed object.
type vmState struct {
	ref     types.ManagedObjectReference
	vmxPath string // "[ds] dir/name.vmx"
	dsName  string // datastore of the .vmx
	host    types.ManagedObjectReference
	conn    types.VirtualMachineConnectionState

	location   string // uuid.location recorded in the .vmx
	uuidAction string // uuid.action in the .vmx
	nvram      string
	hwVersion  int
	nics       map[int32]nicMeta
	guest      guestIdentity // what the guest OS has configured (persisted as lab.guest.*)

	inst string   // indexed instance UUID (lower case)
	macs []string // indexed MAC addresses (lower case)

	busy        bool // a power operation is in progress
	question    *pendingQuestion
	pendingCust *types.CustomizationSpec
	custPath    string
	bootSeq     uint64
	bootTimer   *clock.Timer
	toolsUp     bool
}

// registration is a request to put a .vmx into the inventory.
type registration struct {
	folder     types.ManagedObjectReference
	pool       types.ManagedObjectReference // zero for templates: the host's cluster root pool
	host       *hostInfo                    // nil: the first host of the pool's cluster that mounts the datastore
	vmxPath    string
	name       string // "" means the .vmx displayName
	asTemplate bool
	startup    bool // building the lab: no events, no .vmx rewrite
	created    bool // CreateVM_Task rather than RegisterVM_Task (event kind)
}

var (
	errNoFile = errors.New("no such file")
)

// escapeName escapes the characters vCenter escapes in inventory names.
func escapeName(name string) string {
	name = strings.ReplaceAll(name, "%", "%25")
	name = strings.ReplaceAll(name, "/", "%2f")
	return strings.ReplaceAll(name, `\`, "%5c")
}

func unescapeName(name string) string {
	if s, err := url.PathUnescape(name); err == nil {
		return s
	}
	return name
}

// registerVM puts the VM described by a .vmx into the inventory. The caller holds opMu.
func (v *VCenter) registerVM(ctx *simulator.Context, r registration) (types.ManagedObjectReference, types.BaseMethodFault) {
	var none types.ManagedObjectReference
	var p object.DatastorePath
	if !p.FromString(r.vmxPath) || p.Datastore == "" || p.Path == "" {
		return none, &types.InvalidDatastorePath{DatastorePath: r.vmxPath}
	}
	if !strings.EqualFold(path.Ext(p.Path), ".vmx") {
		return none, &types.InvalidArgument{InvalidProperty: "path"}
	}
	r.vmxPath = p.String()
	s := v.datastoreByName(p.Datastore)
	if s == nil {
		return none, &types.InvalidDatastore{Name: p.Datastore}
	}
	folder, ok := v.reg.Get(r.folder).(*simulator.Folder)
	if !ok || !v.isVMFolder(folder) {
		return none, &types.InvalidArgument{InvalidProperty: "_this"}
	}

	// Placement.
	host := r.host
	pool := r.pool
	if r.asTemplate {
		if host == nil {
			return none, &types.InvalidArgument{InvalidProperty: "host"}
		}
		if pool.Value != "" {
			return none, &types.InvalidArgument{InvalidProperty: "pool"}
		}
		pool = host.cluster.pool
	} else if pool.Value == "" {
		return none, &types.InvalidArgument{InvalidProperty: "pool"}
	}
	ci := v.clusterOfPool(pool)
	if ci == nil {
		return none, &types.InvalidArgument{InvalidProperty: "pool"}
	}
	v.mu.Lock()
	if host != nil {
		if host.cluster != ci {
			v.mu.Unlock()
			return none, &types.InvalidArgument{InvalidProperty: "host"}
		}
		if !s.mounts[host.ref] {
			v.mu.Unlock()
			return none, &types.InvalidDatastore{Datastore: &s.ref, Name: s.name}
		}
	} else {
		for _, h := range ci.hosts {
			if s.mounts[h.ref] {
				host = h
				break
			}
		}
		if host == nil {
			v.mu.Unlock()
			return none, &types.InvalidDatastore{Datastore: &s.ref, Name: s.name}
		}
	}
	dir := s.dir
	if ref, taken := v.pathIdx[r.vmxPath]; taken {
		v.mu.Unlock()
		return none, &types.AlreadyExists{Name: ref.Value}
	}
	v.mu.Unlock()

	m, err := readMachine(filepath.Join(dir, filepath.FromSlash(p.Path)))
	if err != nil {
		if errors.Is(err, errNoFile) {
			return none, &types.FileNotFound{FileFault: types.FileFault{File: r.vmxPath}}
		}
		return none, &types.InvalidVmConfig{Property: "configFile"}
	}
	name := r.name
	if name == "" {
		name = m.Name
	}
	if name == "" {
		name = strings.TrimSuffix(path.Base(p.Path), path.Ext(p.Path))
	}
	name = escapeName(name)
	if len(name) > 80 {
		return none, &types.InvalidName{Name: name}
	}
	if !r.startup {
		if e := v.reg.FindByName(name, folder.ChildEntity); e != nil {
			return none, &types.DuplicateName{Name: name, Object: e.Reference()}
		}
	}

	// Identities: the instance UUID is kept unless another VM of this vCenter has it; a missing
	// BIOS UUID is generated, as ESXi does.
	rewrite := false
	if m.BIOSUUID == "" {
		m.BIOSUUID = uuid.NewString()
		rewrite = true
	}
	if m.InstanceUUID == "" || v.instanceUUIDTaken(m.InstanceUUID) {
		m.InstanceUUID = v.newInstanceUUID()
		rewrite = true
	}
	for i := range m.NICs {
		n := &m.NICs[i]
		if n.MAC == "" || v.macTaken(n.MAC) {
			n.MAC = v.nextMAC()
			if n.AddressType == "static" {
				n.AddressType = "vpx"
			}
			rewrite = true
		}
	}

	vm, st := v.newVMObject(m, name, p, host, pool, r.asTemplate)
	vm.Parent = &folder.Self
	v.reg.NewEntity(vm)
	vm.Summary.Vm = &vm.Self
	st.ref = vm.Self
	st.vmxPath = r.vmxPath
	macs := make([]string, 0, len(m.NICs))
	for _, n := range m.NICs {
		macs = append(macs, n.MAC)
	}
	v.mu.Lock()
	v.vms[vm.Self] = st
	v.pathIdx[st.vmxPath] = vm.Self
	v.indexLocked(st, m.InstanceUUID, macs)
	v.mu.Unlock()

	ctx.WithLock(folder, func() {
		ctx.Update(folder, []types.PropertyChange{{Name: "childEntity", Val: append(folder.ChildEntity, vm.Self)}})
		v.reg.PutEntity(folder, vm)
	})
	v.appendNewRef(ctx, host.ref, "vm", vm.Self)
	v.appendNewRef(ctx, pool, "vm", vm.Self)
	for _, d := range vm.Datastore {
		v.appendNewRef(ctx, d, "vm", vm.Self)
	}
	if !r.startup {
		ev := v.vmEvent(vm, host)
		if r.created {
			v.postEvent(ctx, &types.VmBeingCreatedEvent{VmEvent: ev}, &types.VmCreatedEvent{VmEvent: ev})
		} else {
			v.postEvent(ctx, &types.VmRegisteredEvent{VmEvent: ev})
		}
		if rewrite {
			v.persist(ctx, vm.Self)
		}
	}
	v.mutated("RegisterVM", r.vmxPath)
	return vm.Self, nil
}

// readMachine parses a .vmx file.
func readMachine(file string) (*machine, error) {
	f, err := os.Open(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errNoFile
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		return nil, errNoFile
	}
	vf, err := parseVMX(f)
	if err != nil {
		return nil, err
	}
	return machineFromVMX(vf, filepath.Base(filepath.Dir(file))), nil
}

func (v *VCenter) isVMFolder(f *simulator.Folder) bool {
	for _, t := range f.ChildType {
		if t == "VirtualMachine" {
			return true
		}
	}
	return false
}

// clusterOfPool returns the cluster owning a resource pool of this vCenter.
func (v *VCenter) clusterOfPool(pool types.ManagedObjectReference) *clusterInfo {
	rp, ok := v.reg.Get(pool).(*simulator.ResourcePool)
	if !ok {
		return nil
	}
	for _, ci := range v.inv.clusters {
		if ci.ref == rp.Owner {
			return ci
		}
	}
	return nil
}

// instanceUUIDTaken reports whether a VM of this vCenter has the instance UUID.
func (v *VCenter) instanceUUIDTaken(id string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.instIdx[strings.ToLower(id)]
	return ok
}

func (v *VCenter) newInstanceUUID() string {
	for {
		id := uuid.NewString()
		if !v.instanceUUIDTaken(id) {
			return id
		}
	}
}

// macTaken reports whether a NIC of this vCenter has the MAC address.
func (v *VCenter) macTaken(mac string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.macIdx[strings.ToLower(mac)]
	return ok
}

// index records a VM's instance UUID and MAC addresses (replacing what it had). The caller holds mu.
func (v *VCenter) indexLocked(st *vmState, inst string, macs []string) {
	v.unindexLocked(st)
	st.inst = strings.ToLower(inst)
	st.macs = st.macs[:0]
	if st.inst != "" {
		v.instIdx[st.inst] = st.ref
	}
	for _, m := range macs {
		m = strings.ToLower(m)
		if m != "" {
			st.macs = append(st.macs, m)
			v.macIdx[m] = st.ref
		}
	}
}

func (v *VCenter) unindexLocked(st *vmState) {
	if st.inst != "" && v.instIdx[st.inst] == st.ref {
		delete(v.instIdx, st.inst)
	}
	for _, m := range st.macs {
		if v.macIdx[m] == st.ref {
			delete(v.macIdx, m)
		}
	}
}

// reindex refreshes a VM's identity index entries from its configuration. The caller holds the
// VM's lock.
func (v *VCenter) reindex(vm *simulator.VirtualMachine, st *vmState) {
	var macs []string
	for _, d := range vm.Config.Hardware.Device {
		if n, ok := d.(types.BaseVirtualEthernetCard); ok {
			macs = append(macs, n.GetVirtualEthernetCard().MacAddress)
		}
	}
	v.mu.Lock()
	v.indexLocked(st, vm.Config.InstanceUuid, macs)
	v.mu.Unlock()
}

// nextMAC hands out vCenter-assigned MAC addresses (00:50:56:80:00:00 - 00:50:56:bf:ff:ff), with
// a per-site high byte so that the two sites never hand out the same address.
func (v *VCenter) nextMAC() string {
	v.mu.Lock()
	v.macSeq++
	n := v.macSeq
	v.mu.Unlock()
	h := sha256.Sum256([]byte(v.site.ID))
	hi := 0x80 | (h[0] & 0x3f)
	return fmt.Sprintf("00:50:56:%02x:%02x:%02x", hi, byte(n>>8), byte(n))
}

func isTrue(b *bool) bool { return b != nil && *b }

// persist rewrites a VM's .vmx from its current configuration, when its datastore is reachable.
func (v *VCenter) persist(ctx *simulator.Context, ref types.ManagedObjectReference) {
	vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
	st := v.vmState(ref)
	if !ok || st == nil {
		return
	}
	var m *machine
	var vmx object.DatastorePath
	ctx.WithLock(vm, func() {
		vmx.FromString(vm.Config.Files.VmPathName)
		v.mu.Lock()
		m = v.machineOf(vm, st)
		v.mu.Unlock()
	})
	dir, ok := v.datastoreDir(vmx.Datastore, st.host)
	if !ok {
		return
	}
	if err := writeVMXFile(filepath.Join(dir, filepath.FromSlash(vmx.Path)), m); err != nil {
		v.log.Warn("cannot write .vmx", "vm", ref.Value, "err", err)
	}
}

// vmState returns the lab state of a VM (nil if the VM is unknown).
func (v *VCenter) vmState(ref types.ManagedObjectReference) *vmState {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.vms[ref]
}

// unregisterVM removes a powered-off VM from the inventory, keeping its files. The caller holds
// opMu.
func (v *VCenter) unregisterVM(ctx *simulator.Context, ref types.ManagedObjectReference) types.BaseMethodFault {
	vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
	st := v.vmState(ref)
	if !ok || st == nil {
		return &types.ManagedObjectNotFound{Obj: ref}
	}
	var fault types.BaseMethodFault
	var host types.ManagedObjectReference
	var pool *types.ManagedObjectReference
	var dss []types.ManagedObjectReference
	ctx.WithLock(vm, func() {
		if vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
			fault = &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOff, ExistingState: vm.Runtime.PowerState}
			return
		}
		host, pool, dss = *vm.Runtime.Host, vm.ResourcePool, append(dss, vm.Datastore...)
	})
	if fault != nil {
		return fault
	}
	v.mu.Lock()
	busy := st.busy || st.question != nil
	v.mu.Unlock()
	if busy {
		return &types.InvalidState{}
	}
	if hi := v.inv.hostByRef[host]; hi != nil {
		v.postEvent(ctx, &types.VmRemovedEvent{VmEvent: v.vmEvent(vm, hi)})
	}
	v.removeRef(ctx, host, "vm", ref)
	if pool != nil {
		v.removeRef(ctx, *pool, "vm", ref)
	}
	for _, d := range dss {
		v.removeRef(ctx, d, "vm", ref)
	}
	v.reg.Remove(ctx, ref)
	if vm.Parent != nil {
		if f, ok := v.reg.Get(*vm.Parent).(*simulator.Folder); ok {
			ctx.WithLock(f, func() {
				ctx.Update(f, []types.PropertyChange{{Name: "childEntity", Val: withoutRef(f.ChildEntity, ref)}})
			})
		}
	}
	v.mu.Lock()
	if st.bootTimer != nil {
		st.bootTimer.Stop()
	}
	v.unindexLocked(st)
	if v.pathIdx[st.vmxPath] == ref {
		delete(v.pathIdx, st.vmxPath)
	}
	delete(v.vms, ref)
	v.mu.Unlock()
	v.mutated("UnregisterVM", ref.Value)
	// A datastore no host mounts any more was kept for its VMs; with the last one gone, so is it.
	if hi := v.inv.hostByRef[host]; hi != nil {
		for _, d := range dss {
			if s := v.storeByRef(d); s != nil {
				v.mu.Lock()
				orphan := len(s.mounts) == 0 && len(s.parked) == 0
				v.mu.Unlock()
				if orphan {
					v.settle(ctx, s, hi)
				}
			}
		}
	}
	return nil
}

// deleteVMFiles removes a VM's directory and its disks from the datastores.
func (v *VCenter) deleteVMFiles(vm *simulator.VirtualMachine) {
	var vmx object.DatastorePath
	vmx.FromString(vm.Config.Files.VmPathName)
	paths := []object.DatastorePath{{Datastore: vmx.Datastore, Path: path.Dir(vmx.Path)}}
	for _, d := range object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
		if b, ok := d.GetVirtualDevice().Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
			var p object.DatastorePath
			if p.FromString(b.GetVirtualDeviceFileBackingInfo().FileName) {
				paths = append(paths, p, object.DatastorePath{Datastore: p.Datastore, Path: strings.TrimSuffix(p.Path, ".vmdk") + "-flat.vmdk"})
			}
		}
	}
	for _, p := range paths {
		dir, ok := v.datastoreDir(p.Datastore, types.ManagedObjectReference{})
		if !ok || p.Path == "" || p.Path == "." || strings.Contains(p.Path, "..") {
			continue
		}
		_ = os.RemoveAll(filepath.Join(dir, filepath.FromSlash(p.Path)))
	}
}

// reloadVMsOn re-reads the .vmx of the VMs on a datastore that host h can reach again, as vCenter
// reloads a VM whose configuration file comes back.
func (v *VCenter) reloadVMsOn(ctx *simulator.Context, s *dsState, h *hostInfo) {
	v.mu.Lock()
	var refs []types.ManagedObjectReference
	for ref, st := range v.vms {
		if st.dsName == s.name && st.host == h.ref && st.conn == types.VirtualMachineConnectionStateInaccessible {
			refs = append(refs, ref)
		}
	}
	v.mu.Unlock()
	for _, ref := range refs {
		v.reloadVM(ctx, ref, s)
	}
}

// reloadVM refreshes a registered VM's devices and identities from its .vmx.
func (v *VCenter) reloadVM(ctx *simulator.Context, ref types.ManagedObjectReference, s *dsState) {
	vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
	st := v.vmState(ref)
	if !ok || st == nil {
		return
	}
	var vmx object.DatastorePath
	vmx.FromString(st.vmxPath)
	m, err := readMachine(filepath.Join(s.dir, filepath.FromSlash(vmx.Path)))
	if err != nil {
		return
	}
	ctx.WithLock(vm, func() {
		on := vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
		devices, nics, dss, nets := v.buildDevices(m, vmx, on)
		v.mu.Lock()
		st.nics, st.location, st.uuidAction, st.guest = nics, m.Location, m.UUIDAction, m.Guest
		v.mu.Unlock()
		changes := []types.PropertyChange{
			{Name: "config.hardware.device", Val: []types.BaseVirtualDevice(devices)},
			{Name: "config.uuid", Val: orDefault(m.BIOSUUID, vm.Config.Uuid)},
			{Name: "summary.config.uuid", Val: orDefault(m.BIOSUUID, vm.Config.Uuid)},
			{Name: "config.guestId", Val: m.GuestID},
			{Name: "config.hardware.numCPU", Val: int32(max(m.CPUs, 1))},
			{Name: "config.hardware.memoryMB", Val: int32(max(m.MemoryMB, 4))},
			{Name: "datastore", Val: dss},
			{Name: "network", Val: nets},
			{Name: "summary.config.numEthernetCards", Val: int32(len(devices.SelectByType((*types.VirtualEthernetCard)(nil))))},
			{Name: "summary.config.numVirtualDisks", Val: int32(len(devices.SelectByType((*types.VirtualDisk)(nil))))},
		}
		ctx.Update(vm, changes)
	})
}

var _ mo.Reference = (*simulator.VirtualMachine)(nil)
