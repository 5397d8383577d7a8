package vcenter

import (
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// How the lab overrides simulator methods without replacing the simulator's objects.
//
// The simulator dispatches a SOAP call to the registry object named by _this, by reflection on the
// method name. Replacing inventory objects with wrapper types breaks the simulator's own type
// assertions, so the lab leaves them alone and instead registers one "override" object per managed
// object type it extends. The registry's Handler hook, which runs before dispatch, rewrites _this
// of the calls the lab handles to the override object of that type; the override finds the real
// target in the request body's This field, which the hook leaves untouched. Override objects opt
// out of the simulator's per-object locking: they lock what they touch themselves.
//
// The same hook applies method delays, injected call failures, and the validations that keep stock
// simulator methods away from inputs known to crash them.

// overrideType is the managed object type of the override objects. Calls addressed to it directly
// are answered with ManagedObjectNotFound.
const overrideType = "LabOverride"

// overrideBase is embedded by every override object. The embedded managed object type lets the
// property collector treat the object like any other if a client names it.
type overrideBase struct {
	mo.ExtensibleManagedObject
	v *VCenter
}

// Lock and Unlock opt override objects out of the simulator's per-object locking.
func (*overrideBase) Lock()   {}
func (*overrideBase) Unlock() {}

type overrideEntry struct {
	ref     types.ManagedObjectReference
	methods map[string]bool // SOAP method names handled
}

var hasFaultType = reflect.TypeOf((*soap.HasFault)(nil)).Elem()

// isolateGlobals gives this model its own copies of settings the simulator shares between models
// through package variables.
func (v *VCenter) isolateGlobals() {
	om := v.reg.OptionManager()
	settings := make([]types.BaseOptionValue, 0, len(om.Setting))
	for _, s := range om.Setting {
		ov := *s.GetOptionValue()
		settings = append(settings, &ov)
	}
	om.Setting = settings

	// The SNMP agent's limits carry a required enum the stock model leaves empty.
	for _, o := range v.reg.AllReference("HostSnmpSystem") {
		if snmp, ok := o.(*mo.HostSnmpSystem); ok && snmp.Limits.Capability == "" {
			snmp.Limits.Capability = types.HostSnmpAgentCapabilityCOMPLETE
		}
	}

	sm := v.reg.SessionManager()
	if v.opts.User != "" || v.opts.Password != "" {
		user, pass := v.opts.User, v.opts.Password
		sm.ValidLogin = func(req *types.Login) bool {
			return constantTimeEqual(req.UserName, user) && constantTimeEqual(req.Password, pass)
		}
	}
}

// installHooks registers the override objects, the task guard and the dispatch hook.
func (v *VCenter) installHooks() {
	v.overRefs = map[string]overrideEntry{}
	add := func(moType string, o mo.Reference, base *overrideBase) {
		base.Self = types.ManagedObjectReference{Type: overrideType, Value: moType}
		base.v = v
		v.reg.Put(o)
		e := overrideEntry{ref: base.Self, methods: map[string]bool{}}
		t := reflect.TypeOf(o)
		for i := 0; i < t.NumMethod(); i++ {
			m := t.Method(i)
			if m.Type.NumIn() != 3 || m.Type.NumOut() != 1 || m.Type.Out(0) != hasFaultType {
				continue
			}
			req := m.Type.In(2)
			if req.Kind() == reflect.Pointer {
				e.methods[req.Elem().Name()] = true
			}
		}
		v.overRefs[moType] = e
	}
	vmo := &vmOverride{}
	add("VirtualMachine", vmo, &vmo.overrideBase)
	fo := &folderOverride{}
	add("Folder", fo, &fo.overrideBase)
	so := &storageOverride{}
	add("HostStorageSystem", so, &so.overrideBase)
	do := &dssOverride{}
	add("HostDatastoreSystem", do, &do.overrideBase)
	bo := &browserOverride{}
	add("HostDatastoreBrowser", bo, &bo.overrideBase)
	oo := &optionOverride{}
	add("OptionManager", oo, &oo.overrideBase)
	to := &taskOverride{}
	add("Task", to, &to.overrideBase)
	dso := &datastoreOverride{}
	add("Datastore", dso, &dso.overrideBase)
	sio := &serviceInstanceOverride{}
	add("ServiceInstance", sio, &sio.overrideBase)
	pco := &collectorOverride{}
	add("PropertyCollector", pco, &pco.overrideBase)
	rpo := &poolOverride{}
	add("ResourcePool", rpo, &rpo.overrideBase)
	sio2 := &searchOverride{}
	add("SearchIndex", sio2, &sio2.overrideBase)
	fmo := &fileManagerOverride{}
	add("FileManager", fmo, &fmo.overrideBase)
	fo2 := &fetchOverride{}
	fo2.Self = types.ManagedObjectReference{Type: overrideType, Value: "Fetch"}
	fo2.v = v
	v.reg.Put(fo2)
	v.fetchRef = fo2.Self
	v.hub = &watchHub{watches: map[string]*pcWatch{}}
	v.hub.Self = types.ManagedObjectReference{Type: overrideType, Value: "watchHub"}
	v.reg.AddHandler(v.hub)

	g := &taskGuard{v: v}
	g.Self = types.ManagedObjectReference{Type: overrideType, Value: "taskGuard"}
	v.reg.AddHandler(g)
	v.reg.Handler = v.dispatch
}

// dispatch is the registry's Handler hook, called for every SOAP call before it is dispatched.
func (v *VCenter) dispatch(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
	if d := v.faults.delay(m.Name); d > 0 {
		select {
		case <-time.After(d):
		case <-v.closing:
		}
	}
	if m.This.Type == overrideType {
		return nil, &types.ManagedObjectNotFound{Obj: m.This}
	}
	if ctx.Session == nil {
		// The simulator answers NotAuthenticated for most methods; vCenter also refuses to read
		// properties without a session, except the SessionManager's (how clients probe a session).
		if f := unauthenticatedRead(m); f != nil {
			return nil, f
		}
		return nil, nil
	}
	if ctx.Session.LoginTime.UnixNano() < v.revokedBefore.Load() {
		return nil, &types.NotAuthenticated{NoPermission: types.NoPermission{Object: &m.This, PrivilegeId: "System.View"}}
	}
	if f := v.faults.takeCallFault(m.Name); f != nil {
		return nil, f
	}
	obj := ctx.Session.Get(m.This)
	if obj == nil {
		return nil, &types.ManagedObjectNotFound{Obj: m.This}
	}
	if f := v.validate(ctx, m, obj); f != nil {
		return nil, f
	}
	if m.Name == "Fetch" {
		// The simulator sends every Fetch to the PropertyCollector; the lab answers it.
		m.This = v.fetchRef
		return nil, nil
	}
	if e, ok := v.overRefs[m.This.Type]; ok && e.methods[m.Name] {
		m.This = e.ref
		return nil, nil
	}
	if strings.HasSuffix(m.Name, "_Task") && v.faults.hasTaskFault(m.Name) {
		v.faults.arm(m.Name, m.This)
	}
	return nil, nil
}

// unauthenticatedRead refuses property retrieval without a session, unless only the
// SessionManager is read.
func unauthenticatedRead(m *simulator.Method) types.BaseMethodFault {
	var specs []types.PropertyFilterSpec
	switch req := m.Body.(type) {
	case *types.RetrievePropertiesEx:
		specs = req.SpecSet
	case *types.RetrieveProperties:
		specs = req.SpecSet
	case *types.ContinueRetrievePropertiesEx:
	default:
		return nil
	}
	for _, s := range specs {
		for _, o := range s.ObjectSet {
			if o.Obj.Type != "SessionManager" {
				return &types.NotAuthenticated{NoPermission: types.NoPermission{Object: &o.Obj, PrivilegeId: "System.View"}}
			}
		}
	}
	if len(specs) == 0 {
		return &types.NotAuthenticated{NoPermission: types.NoPermission{Object: &m.This, PrivilegeId: "System.View"}}
	}
	return nil
}

// Stock simulator methods the lab refuses because they would take apart the inventory it was
// built from.
var refusedMethods = map[string]map[string]bool{
	"Datacenter":             {"Destroy_Task": true, "PowerOnMultiVM_Task": true},
	"ClusterComputeResource": {"Destroy_Task": true},
	"HostSystem":             {"Destroy_Task": true, "DisconnectHost_Task": true},
}

// vmMethodsWhenInaccessible are the VirtualMachine methods allowed while the VM's configuration
// file cannot be reached.
var vmMethodsWhenInaccessible = map[string]bool{
	"UnregisterVM": true, "Reload": true, "Rename_Task": true, "SetCustomValue": true, "RefreshStorageInfo": true,
}

// validate rejects calls that vCenter would refuse and that the stock simulator would mishandle.
func (v *VCenter) validate(ctx *simulator.Context, m *simulator.Method, obj mo.Reference) types.BaseMethodFault {
	if refusedMethods[m.This.Type][m.Name] {
		return &types.NotSupported{}
	}
	switch m.This.Type {
	case "VirtualMachine":
		st := v.vmStateFor(ctx, m.This)
		if st == nil {
			return nil
		}
		v.mu.Lock()
		inaccessible := st.conn == types.VirtualMachineConnectionStateInaccessible
		v.mu.Unlock()
		if inaccessible && !vmMethodsWhenInaccessible[m.Name] {
			return &types.InvalidState{}
		}
		if e, ok := v.overRefs["VirtualMachine"]; !ok || !e.methods[m.Name] {
			if vm, ok := obj.(*simulator.VirtualMachine); ok && !v.vmSelfContained(ctx, vm) {
				return &types.InvalidState{}
			}
		}
	case "Folder":
		if m.Name == "Destroy_Task" && v.isRootFolder(m.This) {
			return &types.NotSupported{}
		}
	}
	switch req := m.Body.(type) {
	case *types.RelocateVM_Task:
		if req.Spec.Datastore != nil || len(req.Spec.Disk) > 0 || req.Spec.Folder != nil {
			return &types.NotSupported{}
		}
	case *types.MigrateVM_Task:
		if req.Host == nil && req.Pool == nil {
			return &types.InvalidArgument{InvalidProperty: "host"}
		}
	case *types.CreateFolder:
		if !validName(req.Name) {
			return &types.InvalidName{Name: req.Name}
		}
	case *types.CreateResourcePool:
		if !validName(req.Name) {
			return &types.InvalidName{Name: req.Name}
		}
	case *types.Rename_Task:
		if !validName(req.NewName) {
			return &types.InvalidName{Name: req.NewName}
		}
	case *types.CreateDatacenter:
		if !validName(req.Name) {
			return &types.InvalidName{Name: req.Name}
		}
	case *types.CreateClusterEx:
		if !validName(req.Name) {
			return &types.InvalidName{Name: req.Name}
		}
	}
	return nil
}

func validName(n string) bool { return strings.TrimSpace(n) != "" && len(n) <= 80 }

func (v *VCenter) isRootFolder(ref types.ManagedObjectReference) bool {
	inv := &v.inv
	return ref == inv.vmFolder || ref == inv.hostFolder || ref == inv.dsFolder || ref == inv.netFolder ||
		ref == v.model.ServiceContent.RootFolder
}

// vmSelfContained reports whether a VM's datastores are all mounted on its host and its NICs all
// attached to networks of this datacenter: the conditions under which the stock simulator methods
// (clone, relocate, snapshots, ...) work on it.
func (v *VCenter) vmSelfContained(ctx *simulator.Context, vm *simulator.VirtualMachine) bool {
	ok := true
	ctx.WithLock(vm, func() {
		if vm.Runtime.Host == nil || vm.Config == nil {
			ok = false
			return
		}
		hs, found := v.reg.Get(*vm.Runtime.Host).(*simulator.HostSystem)
		if !found {
			ok = false
			return
		}
		for _, d := range vm.Datastore {
			if simulator.FindReference(hs.Datastore, d) == nil {
				ok = false
			}
		}
		for _, d := range object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil)) {
			switch b := d.GetVirtualDevice().Backing.(type) {
			case *types.VirtualEthernetCardNetworkBackingInfo:
				if b.Network == nil {
					ok = false
				}
			case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
				if v.findPortgroupByKey(b.Port.SwitchUuid, b.Port.PortgroupKey).ref.Value == "" {
					ok = false
				}
			}
		}
	})
	return ok
}

// ---- adoption of VMs created by stock simulator methods (clone, ...) ----

// vmStateFor returns the lab state of a VM, adopting a VM the stock simulator created.
func (v *VCenter) vmStateFor(ctx *simulator.Context, ref types.ManagedObjectReference) *vmState {
	v.mu.Lock()
	st := v.vms[ref]
	v.mu.Unlock()
	if st != nil {
		return st
	}
	vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return nil
	}
	ctx.WithLock(vm, func() {
		if vm.Runtime.Host == nil || vm.Config == nil {
			return
		}
		var p object.DatastorePath
		p.FromString(vm.Config.Files.VmPathName)
		st = &vmState{
			ref: ref, vmxPath: p.String(), dsName: p.Datastore, host: *vm.Runtime.Host, conn: vm.Runtime.ConnectionState,
			location: locationID(v.site.ID, p.String()), nvram: strings.TrimSuffix(path0(p.Path), ".vmx") + ".nvram",
			hwVersion: 19, nics: map[int32]nicMeta{}, guest: guestIdentity{NICs: map[int]guestNIC{}},
		}
		for _, d := range object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil)) {
			key := d.GetVirtualDevice().Key
			st.nics[key] = nicMeta{index: int(key-keyNIC) % 10}
		}
	})
	if st == nil {
		return nil
	}
	var macs []string
	var inst string
	ctx.WithLock(vm, func() {
		inst = vm.Config.InstanceUuid
		for _, d := range vm.Config.Hardware.Device {
			if n, ok := d.(types.BaseVirtualEthernetCard); ok {
				macs = append(macs, n.GetVirtualEthernetCard().MacAddress)
			}
		}
	})
	v.mu.Lock()
	if cur := v.vms[ref]; cur != nil {
		st = cur
	} else {
		v.vms[ref] = st
		v.pathIdx[st.vmxPath] = ref
		v.indexLocked(st, inst, macs)
	}
	v.mu.Unlock()
	return st
}

func path0(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

// recoverLog logs a recovered panic.
func (v *VCenter) recoverLog(what string) {
	if r := recover(); r != nil {
		v.log.Error("recovered panic", "in", what, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	}
}

// serviceInstanceOverride handles ServiceInstance methods.
type serviceInstanceOverride struct{ overrideBase }

// CurrentTime reports the lab clock.
func (o *serviceInstanceOverride) CurrentTime(_ *simulator.Context, _ *types.CurrentTime) soap.HasFault {
	return &methods.CurrentTimeBody{Res: &types.CurrentTimeResponse{Returnval: o.v.clock.Now()}}
}
