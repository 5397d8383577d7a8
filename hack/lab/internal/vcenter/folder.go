package vcenter

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// folderOverride handles Folder methods.
type folderOverride struct{ overrideBase }

func (v *VCenter) folderName(ctx *simulator.Context, ref types.ManagedObjectReference) string {
	if e, ok := v.reg.Get(ref).(mo.Entity); ok {
		var n string
		ctx.WithLock(e, func() { n = e.Entity().Name })
		return n
	}
	return ref.Value
}

// RegisterVM_Task registers the VM whose .vmx is at path, honouring what the .vmx records: NICs
// with their portgroups and MAC addresses, disks, CD-ROM and floppy, guest id, BIOS UUID and the
// instance UUID (kept unless another VM of this vCenter has it).
func (o *folderOverride) RegisterVMTask(ctx *simulator.Context, req *types.RegisterVM_Task) soap.HasFault {
	v := o.v
	r := registration{folder: req.This, vmxPath: req.Path, name: req.Name, asTemplate: req.AsTemplate}
	if req.Pool != nil {
		r.pool = *req.Pool
	}
	if req.Host != nil {
		r.host = v.inv.hostByRef[*req.Host]
		if r.host == nil {
			return &methods.RegisterVM_TaskBody{Fault_: soapFault(&types.ManagedObjectNotFound{Obj: *req.Host})}
		}
	}
	if req.Pool != nil && v.reg.Get(*req.Pool) == nil {
		return &methods.RegisterVM_TaskBody{Fault_: soapFault(&types.ManagedObjectNotFound{Obj: *req.Pool})}
	}
	ref := v.startTask(ctx, taskSpec{
		method: "RegisterVM_Task", descID: "Folder.registerVm", entity: req.This, entityName: v.folderName(ctx, req.This),
		run: func(tctx *simulator.Context) (types.AnyType, types.BaseMethodFault) {
			v.opMu.Lock()
			defer v.opMu.Unlock()
			vm, f := v.registerVM(tctx, r)
			if f != nil {
				return nil, f
			}
			return vm, nil
		},
	})
	return &methods.RegisterVM_TaskBody{Res: &types.RegisterVM_TaskResponse{Returnval: ref}}
}

// CreateVM_Task creates a VM: its directory and .vmx (recording everything RegisterVM_Task reads
// back), NVRAM, log and disks, then registers it.
func (o *folderOverride) CreateVMTask(ctx *simulator.Context, req *types.CreateVM_Task) soap.HasFault {
	v := o.v
	cfg := req.Config
	switch {
	case cfg.Name == "":
		return &methods.CreateVM_TaskBody{Fault_: soapFault(&types.InvalidVmConfig{Property: "configSpec.name"})}
	case cfg.Files == nil || cfg.Files.VmPathName == "":
		return &methods.CreateVM_TaskBody{Fault_: soapFault(&types.InvalidVmConfig{Property: "configSpec.files.vmPathName"})}
	case v.reg.Get(req.Pool) == nil:
		return &methods.CreateVM_TaskBody{Fault_: soapFault(&types.ManagedObjectNotFound{Obj: req.Pool})}
	}
	var host *hostInfo
	if req.Host != nil {
		if host = v.inv.hostByRef[*req.Host]; host == nil {
			return &methods.CreateVM_TaskBody{Fault_: soapFault(&types.ManagedObjectNotFound{Obj: *req.Host})}
		}
	}
	ref := v.startTask(ctx, taskSpec{
		method: "CreateVM_Task", descID: "Folder.createVm", entity: req.This, entityName: v.folderName(ctx, req.This),
		run: func(tctx *simulator.Context) (types.AnyType, types.BaseMethodFault) {
			v.opMu.Lock()
			defer v.opMu.Unlock()
			vm, f := v.createVM(tctx, req.This, &cfg, req.Pool, host)
			if f != nil {
				return nil, f
			}
			return vm, nil
		},
	})
	return &methods.CreateVM_TaskBody{Res: &types.CreateVM_TaskResponse{Returnval: ref}}
}

func (v *VCenter) createVM(ctx *simulator.Context, folder types.ManagedObjectReference, cfg *types.VirtualMachineConfigSpec, pool types.ManagedObjectReference, host *hostInfo) (types.ManagedObjectReference, types.BaseMethodFault) {
	var none types.ManagedObjectReference
	var p object.DatastorePath
	if !p.FromString(cfg.Files.VmPathName) || p.Datastore == "" {
		return none, &types.InvalidDatastorePath{DatastorePath: cfg.Files.VmPathName}
	}
	root, ok := v.datastoreDir(p.Datastore, types.ManagedObjectReference{})
	if !ok {
		return none, &types.InvalidDatastore{Name: p.Datastore}
	}
	if cfg.GuestId != "" && !validGuestID(cfg.GuestId) {
		return none, &types.InvalidArgument{InvalidProperty: "configSpec.guestId"}
	}
	if !validName(cfg.Name) {
		return none, &types.InvalidName{Name: cfg.Name}
	}
	base := vmDirName(cfg.Name)
	dir := strings.TrimSuffix(p.Path, "/")
	explicit := strings.EqualFold(path.Ext(dir), ".vmx")
	if explicit {
		base = strings.TrimSuffix(path.Base(dir), path.Ext(dir))
		dir = path.Dir(dir)
	} else if dir == "" {
		dir = base
		for n := 1; dirExists(filepath.Join(root, filepath.FromSlash(dir))); n++ {
			dir = fmt.Sprintf("%s_%d", base, n)
		}
	}
	if dir == "." || strings.Contains(dir, "..") {
		return none, &types.InvalidDatastorePath{DatastorePath: cfg.Files.VmPathName}
	}
	vmxPath := joinDSPath(p.Datastore, path.Join(dir, base+".vmx"))
	vmDir := filepath.Join(root, filepath.FromSlash(dir))
	vmxFile := filepath.Join(vmDir, base+".vmx")
	if fileExists(vmxFile) {
		return none, &types.FileAlreadyExists{FileFault: types.FileFault{File: vmxPath}}
	}
	createdDir := !dirExists(vmDir)
	if err := os.MkdirAll(vmDir, 0o755); err != nil {
		return none, &types.CannotCreateFile{FileFault: types.FileFault{File: vmxPath}}
	}
	cleanup := func() {
		if createdDir {
			_ = os.RemoveAll(vmDir)
		} else {
			for _, f := range []string{vmxFile, filepath.Join(vmDir, base+".nvram")} {
				_ = os.Remove(f)
			}
		}
	}

	var vp object.DatastorePath
	vp.FromString(vmxPath)
	edit := newDevEdit(v, vp, cfg.Name, defaultDevices(), nil, false)
	if f := edit.apply(cfg.DeviceChange); f != nil {
		edit.rollback()
		cleanup()
		return none, f
	}
	m := &machine{
		Name: cfg.Name, GuestID: orDefault(cfg.GuestId, "otherGuest"), CPUs: int(max(cfg.NumCPUs, 1)), MemoryMB: int(max(cfg.MemoryMB, 32)),
		Firmware: orDefault(cfg.Firmware, "bios"), HWVersion: 19, Annotation: cfg.Annotation,
		BIOSUUID: strings.ToLower(cfg.Uuid), InstanceUUID: strings.ToLower(cfg.InstanceUuid),
		Location: locationID(v.site.ID, vmxPath), NVRAM: base + ".nvram",
		Tools: toolsSettings{AfterPowerOn: true, AfterResume: true, BeforeSuspend: true, BeforePowerOff: true, UpgradePolicy: "manual"},
		Guest: guestIdentity{NICs: map[int]guestNIC{}},
	}
	if cfg.NumCoresPerSocket != nil {
		m.CoresPerSock = int(*cfg.NumCoresPerSocket)
	}
	if n, err := fmt.Sscanf(strings.TrimPrefix(cfg.Version, "vmx-"), "%d", &m.HWVersion); n != 1 || err != nil {
		m.HWVersion = 19
	}
	if _, err := uuid.Parse(m.BIOSUUID); err != nil {
		m.BIOSUUID = uuid.NewString()
	}
	if _, err := uuid.Parse(m.InstanceUUID); err != nil {
		m.InstanceUUID = ""
	}
	if t := cfg.Tools; t != nil {
		set := func(src *bool, dst *bool) {
			if src != nil {
				*dst = *src
			}
		}
		set(t.AfterPowerOn, &m.Tools.AfterPowerOn)
		set(t.AfterResume, &m.Tools.AfterResume)
		set(t.BeforeGuestStandby, &m.Tools.BeforeSuspend)
		set(t.BeforeGuestShutdown, &m.Tools.BeforePowerOff)
		set(t.SyncTimeWithHost, &m.Tools.SyncTime)
		if t.ToolsUpgradePolicy != "" {
			m.Tools.UpgradePolicy = t.ToolsUpgradePolicy
		}
	}
	for _, o := range cfg.ExtraConfig {
		if ov := o.GetOptionValue(); ov != nil && ov.Key != "" && !isStructuralKey(strings.ToLower(ov.Key)) {
			m.Extra = append(m.Extra, [2]string{ov.Key, fmt.Sprint(ov.Value)})
		}
	}
	v.devicesToMachine(m, edit.devices, edit.nics, vp)
	for _, f := range []string{m.NVRAM, "vmware.log"} {
		if err := os.WriteFile(filepath.Join(vmDir, f), nil, 0o644); err != nil {
			edit.rollback()
			cleanup()
			return none, &types.CannotCreateFile{FileFault: types.FileFault{File: f}}
		}
	}
	if err := writeVMXFile(vmxFile, m); err != nil {
		edit.rollback()
		cleanup()
		return none, &types.CannotCreateFile{FileFault: types.FileFault{File: vmxPath}}
	}
	ref, f := v.registerVM(ctx, registration{folder: folder, pool: pool, host: host, vmxPath: vmxPath, name: cfg.Name, created: true})
	if f != nil {
		edit.rollback()
		cleanup()
		return none, f
	}
	return ref, nil
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// MoveIntoFolder_Task moves entities into this folder. The folder must accept their type, must not
// be one of them or below one of them, and must not hold an entity of the same name.
func (o *folderOverride) MoveIntoFolderTask(ctx *simulator.Context, req *types.MoveIntoFolder_Task) soap.HasFault {
	v := o.v
	list := append([]types.ManagedObjectReference(nil), req.List...)
	ref := v.startTask(ctx, taskSpec{
		method: "MoveIntoFolder_Task", descID: "Folder.moveInto", entity: req.This, entityName: v.folderName(ctx, req.This),
		run: func(tctx *simulator.Context) (types.AnyType, types.BaseMethodFault) {
			v.opMu.Lock()
			defer v.opMu.Unlock()
			return nil, v.moveIntoFolder(tctx, req.This, list)
		},
	})
	return &methods.MoveIntoFolder_TaskBody{Res: &types.MoveIntoFolder_TaskResponse{Returnval: ref}}
}

func (v *VCenter) moveIntoFolder(ctx *simulator.Context, target types.ManagedObjectReference, list []types.ManagedObjectReference) types.BaseMethodFault {
	f, ok := v.reg.Get(target).(*simulator.Folder)
	if !ok {
		return &types.ManagedObjectNotFound{Obj: target}
	}
	if len(list) == 0 {
		return &types.InvalidArgument{InvalidProperty: "list"}
	}
	type move struct {
		e      mo.Entity
		parent *simulator.Folder
	}
	var moves []move
	names := map[string]bool{}
	for _, ref := range list {
		e, ok := v.reg.Get(ref).(mo.Entity)
		if !ok {
			return &types.ManagedObjectNotFound{Obj: ref}
		}
		allowed := false
		for _, t := range f.ChildType {
			if t == ref.Type || (t == "ComputeResource" && ref.Type == "ClusterComputeResource") ||
				(t == "Network" && ref.Type == "DistributedVirtualPortgroup") || (t == "DistributedVirtualSwitch" && ref.Type == "VmwareDistributedVirtualSwitch") {
				allowed = true
			}
		}
		if !allowed {
			return &types.NotSupported{}
		}
		if ref == target || v.isAncestor(ref, target) {
			return &types.InvalidFolder{Target: ref}
		}
		var name string
		var parentRef *types.ManagedObjectReference
		ctx.WithLock(e, func() { name, parentRef = e.Entity().Name, e.Entity().Parent })
		parent, ok := v.reg.Get(derefRef(parentRef)).(*simulator.Folder)
		if !ok {
			return &types.NotSupported{}
		}
		if parent.Self == target {
			continue
		}
		if x := v.reg.FindByName(name, f.ChildEntity); x != nil || names[name] {
			return &types.DuplicateName{Name: name, Object: ref}
		}
		names[name] = true
		moves = append(moves, move{e, parent})
	}
	for _, m := range moves {
		ref := m.e.Reference()
		ctx.WithLock(m.parent, func() {
			ctx.Update(m.parent, []types.PropertyChange{{Name: "childEntity", Val: withoutRef(m.parent.ChildEntity, ref)}})
		})
		ctx.WithLock(f, func() {
			ctx.Update(f, []types.PropertyChange{{Name: "childEntity", Val: appendRef(f.ChildEntity, ref)}})
		})
		ctx.WithLock(m.e, func() {
			ctx.Update(m.e, []types.PropertyChange{{Name: "parent", Val: target}})
		})
	}
	return nil
}

func derefRef(r *types.ManagedObjectReference) types.ManagedObjectReference {
	if r == nil {
		return types.ManagedObjectReference{}
	}
	return *r
}

// isAncestor reports whether anc is an ancestor of ref.
func (v *VCenter) isAncestor(anc, ref types.ManagedObjectReference) bool {
	for i := 0; i < 64; i++ {
		e, ok := v.reg.Get(ref).(mo.Entity)
		if !ok || e.Entity().Parent == nil {
			return false
		}
		ref = *e.Entity().Parent
		if ref == anc {
			return true
		}
	}
	return false
}

// Destroy_Task on a VM folder destroys the folder with the folders and (powered-off) VMs in it;
// the VMs' files are deleted. Folders holding other kinds of entities are refused.
func (o *folderOverride) DestroyTask(ctx *simulator.Context, req *types.Destroy_Task) soap.HasFault {
	v := o.v
	ref := v.startTask(ctx, taskSpec{
		method: "Destroy_Task", descID: "Folder.destroy", entity: req.This, entityName: v.folderName(ctx, req.This),
		run: func(tctx *simulator.Context) (types.AnyType, types.BaseMethodFault) {
			v.opMu.Lock()
			defer v.opMu.Unlock()
			var vms, folders []types.ManagedObjectReference
			if f := v.collectFolder(tctx, req.This, &vms, &folders); f != nil {
				return nil, f
			}
			for _, vm := range vms {
				if f := v.destroyVM(tctx, vm); f != nil {
					return nil, f
				}
			}
			for i := len(folders) - 1; i >= 0; i-- {
				fr := folders[i]
				fo, ok := v.reg.Get(fr).(*simulator.Folder)
				if !ok {
					continue
				}
				parent, _ := v.reg.Get(derefRef(fo.Parent)).(*simulator.Folder)
				v.reg.Remove(tctx, fr)
				if parent != nil {
					tctx.WithLock(parent, func() {
						tctx.Update(parent, []types.PropertyChange{{Name: "childEntity", Val: withoutRef(parent.ChildEntity, fr)}})
					})
				}
			}
			return nil, nil
		},
	})
	return &methods.Destroy_TaskBody{Res: &types.Destroy_TaskResponse{Returnval: ref}}
}

// collectFolder lists a folder subtree (parents first) and its VMs, refusing anything else.
func (v *VCenter) collectFolder(ctx *simulator.Context, ref types.ManagedObjectReference, vms, folders *[]types.ManagedObjectReference) types.BaseMethodFault {
	f, ok := v.reg.Get(ref).(*simulator.Folder)
	if !ok {
		return &types.ManagedObjectNotFound{Obj: ref}
	}
	*folders = append(*folders, ref)
	var children []types.ManagedObjectReference
	ctx.WithLock(f, func() { children = append(children, f.ChildEntity...) })
	for _, c := range children {
		switch c.Type {
		case "Folder":
			if fault := v.collectFolder(ctx, c, vms, folders); fault != nil {
				return fault
			}
		case "VirtualMachine":
			vm, ok := v.reg.Get(c).(*simulator.VirtualMachine)
			if !ok {
				continue
			}
			var on bool
			ctx.WithLock(vm, func() { on = vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn })
			if on {
				return &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOff, ExistingState: types.VirtualMachinePowerStatePoweredOn}
			}
			*vms = append(*vms, c)
		default:
			return &types.ResourceInUse{Type: c.Type, Name: c.Value}
		}
	}
	return nil
}

// UnregisterVM removes a powered-off VM from the inventory; its files stay on the datastore.
func (o *vmOverride) UnregisterVM(ctx *simulator.Context, req *types.UnregisterVM) soap.HasFault {
	body := &methods.UnregisterVMBody{}
	v := o.v
	v.opMu.Lock()
	defer v.opMu.Unlock()
	if f := v.unregisterVM(childCtx(ctx), req.This); f != nil {
		body.Fault_ = soapFault(f)
		return body
	}
	body.Res = new(types.UnregisterVMResponse)
	return body
}

// Destroy_Task unregisters a powered-off VM and deletes its files.
func (o *vmOverride) DestroyTask(ctx *simulator.Context, req *types.Destroy_Task) soap.HasFault {
	v := o.v
	_, _, name, f := v.vmFor(ctx, req.This)
	if f != nil {
		return &methods.Destroy_TaskBody{Fault_: f}
	}
	ref := v.startTask(ctx, taskSpec{
		method: "Destroy_Task", descID: "VirtualMachine.destroy", entity: req.This, entityName: name,
		run: func(tctx *simulator.Context) (types.AnyType, types.BaseMethodFault) {
			v.opMu.Lock()
			defer v.opMu.Unlock()
			return nil, v.destroyVM(tctx, req.This)
		},
	})
	return &methods.Destroy_TaskBody{Res: &types.Destroy_TaskResponse{Returnval: ref}}
}

// destroyVM unregisters a VM and deletes its files. The caller holds opMu.
func (v *VCenter) destroyVM(ctx *simulator.Context, ref types.ManagedObjectReference) types.BaseMethodFault {
	vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return &types.ManagedObjectNotFound{Obj: ref}
	}
	if st := v.vmStateFor(ctx, ref); st != nil {
		v.mu.Lock()
		inaccessible := st.conn == types.VirtualMachineConnectionStateInaccessible
		v.mu.Unlock()
		if inaccessible {
			return &types.InvalidState{}
		}
	}
	if f := v.unregisterVM(ctx, ref); f != nil {
		return f
	}
	v.deleteVMFiles(vm)
	return nil
}

// RefreshStorageInfo recomputes a VM's file layout and storage usage.
func (o *vmOverride) RefreshStorageInfo(ctx *simulator.Context, req *types.RefreshStorageInfo) soap.HasFault {
	vm, _, _, f := o.v.vmFor(ctx, req.This)
	if f != nil {
		return &methods.RefreshStorageInfoBody{Fault_: f}
	}
	ctx.WithLock(vm, func() { o.v.layout(vm) })
	return &methods.RefreshStorageInfoBody{Res: new(types.RefreshStorageInfoResponse)}
}

// Reload re-reads a VM's configuration from its .vmx.
func (o *vmOverride) Reload(ctx *simulator.Context, req *types.Reload) soap.HasFault {
	v := o.v
	_, st, _, f := v.vmFor(ctx, req.This)
	if f != nil {
		return &methods.ReloadBody{Fault_: f}
	}
	v.opMu.Lock()
	defer v.opMu.Unlock()
	v.mu.Lock()
	s := v.storeByNameLocked(st.dsName)
	reach := s != nil && s.mounts[st.host]
	v.mu.Unlock()
	if reach {
		v.reloadVM(childCtx(ctx), req.This, s)
	}
	return &methods.ReloadBody{Res: new(types.ReloadResponse)}
}

// datastoreOverride handles Datastore methods.
type datastoreOverride struct{ overrideBase }

// Destroy_Task removes a datastore no VM uses from every host.
func (o *datastoreOverride) DestroyTask(ctx *simulator.Context, req *types.Destroy_Task) soap.HasFault {
	v := o.v
	s := v.storeByRef(req.This)
	if s == nil {
		return &methods.Destroy_TaskBody{Fault_: soapFault(&types.NotSupported{})}
	}
	ref := v.startTask(ctx, taskSpec{
		method: "Destroy_Task", descID: "Datastore.destroy", entity: req.This, entityName: s.name,
		run: func(tctx *simulator.Context) (types.AnyType, types.BaseMethodFault) {
			v.opMu.Lock()
			defer v.opMu.Unlock()
			if v.datastoreHasVMs(s) {
				return nil, &types.ResourceInUse{Type: "Datastore", Name: s.name}
			}
			v.mu.Lock()
			var hosts []*hostInfo
			for h := range s.mounts {
				if hi := v.inv.hostByRef[h]; hi != nil {
					hosts = append(hosts, hi)
				}
			}
			v.mu.Unlock()
			for _, h := range hosts {
				v.unmount(tctx, s, h)
			}
			return nil, nil
		},
	})
	return &methods.Destroy_TaskBody{Res: &types.Destroy_TaskResponse{Returnval: ref}}
}
