package vcenter

import (
	"fmt"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/fabric"
)

// SOAP handlers for VMFS copies, mounts and device states (see vmfs.go for the model).

// QueryUnresolvedVmfsVolume lists the VMFS copies the host found at its last rescan that are not
// mounted: replicas and clones whose signature names another device.
func (o *storageOverride) QueryUnresolvedVmfsVolume(_ *simulator.Context, req *types.QueryUnresolvedVmfsVolume) soap.HasFault {
	h := o.host(req.This)
	if h == nil {
		return &methods.QueryUnresolvedVmfsVolumeBody{Fault_: soapFault(&types.ManagedObjectNotFound{Obj: req.This})}
	}
	return &methods.QueryUnresolvedVmfsVolumeBody{Res: &types.QueryUnresolvedVmfsVolumeResponse{Returnval: o.v.unresolvedVolumes(h)}}
}

// QueryUnresolvedVmfsVolumes is QueryUnresolvedVmfsVolume on the host's datastore system.
func (o *dssOverride) QueryUnresolvedVmfsVolumes(_ *simulator.Context, req *types.QueryUnresolvedVmfsVolumes) soap.HasFault {
	h := o.v.inv.dssRef[req.This]
	if h == nil {
		return &methods.QueryUnresolvedVmfsVolumesBody{Fault_: soapFault(&types.ManagedObjectNotFound{Obj: req.This})}
	}
	return &methods.QueryUnresolvedVmfsVolumesBody{Res: &types.QueryUnresolvedVmfsVolumesResponse{Returnval: o.v.unresolvedVolumes(h)}}
}

// resolve applies resolution specs on one host; each spec gets a result, with a fault when it
// could not be done (the call itself succeeds).
func (v *VCenter) resolve(ctx *simulator.Context, h *hostInfo, specs []types.HostUnresolvedVmfsResolutionSpec) []types.HostUnresolvedVmfsResolutionResult {
	v.opMu.Lock()
	defer v.opMu.Unlock()
	var out []types.HostUnresolvedVmfsResolutionResult
	for _, spec := range specs {
		r := types.HostUnresolvedVmfsResolutionResult{Spec: spec}
		d, hdr, fault := v.findCopy(h, spec.ExtentDevicePath)
		var s *dsState
		if fault == nil {
			switch spec.UuidResolution {
			case string(types.HostUnresolvedVmfsResolutionSpecVmfsUuidResolutionForceMount):
				s, fault = v.forceMount(ctx, h, d, hdr)
			case string(types.HostUnresolvedVmfsResolutionSpecVmfsUuidResolutionResignature):
				s, fault = v.resignature(ctx, h, d, hdr)
				if fault == nil {
					v.rescanOthers(ctx, h, d)
				}
			default:
				fault = &types.InvalidArgument{InvalidProperty: "resolutionSpec.uuidResolution"}
			}
		}
		if fault != nil {
			r.Fault = &types.LocalizedMethodFault{Fault: fault, LocalizedMessage: resolveMessage(fault, spec)}
		} else {
			v.mutated("ResolveVmfs", h.name+" "+strings.Join(spec.ExtentDevicePath, ","))
		}
		if fault == nil && s != nil {
			r.Vmfs = v.vmfsVolume(s, s.name)
		}
		out = append(out, r)
	}
	return out
}

func resolveMessage(f types.BaseMethodFault, spec types.HostUnresolvedVmfsResolutionSpec) string {
	switch f.(type) {
	case *types.VmfsAlreadyMounted:
		return "Cannot mount the VMFS copy keeping its signature: a volume with the same UUID is already mounted."
	case *types.HostConfigFault:
		return fmt.Sprintf("No unresolved VMFS volume on %v.", spec.ExtentDevicePath)
	}
	return faultMessage(f)
}

// rescanOthers has every other host that sees a resignatured device pick up its new volume, as
// the resignature operation does.
func (v *VCenter) rescanOthers(ctx *simulator.Context, done *hostInfo, d fabric.Device) []types.HostVmfsRescanResult {
	var out []types.HostVmfsRescanResult
	for _, h := range v.hostsSeeing(d) {
		if h != done {
			v.rescanHost(ctx, h)
		}
		out = append(out, types.HostVmfsRescanResult{Host: h.ref})
	}
	return out
}

// ResolveMultipleUnresolvedVmfsVolumes force-mounts or resignatures unresolved copies on this host.
func (o *storageOverride) ResolveMultipleUnresolvedVmfsVolumes(ctx *simulator.Context, req *types.ResolveMultipleUnresolvedVmfsVolumes) soap.HasFault {
	h := o.host(req.This)
	if h == nil {
		return &methods.ResolveMultipleUnresolvedVmfsVolumesBody{Fault_: soapFault(&types.ManagedObjectNotFound{Obj: req.This})}
	}
	if len(req.ResolutionSpec) == 0 {
		return &methods.ResolveMultipleUnresolvedVmfsVolumesBody{Fault_: invalidArgument("resolutionSpec")}
	}
	return &methods.ResolveMultipleUnresolvedVmfsVolumesBody{Res: &types.ResolveMultipleUnresolvedVmfsVolumesResponse{
		Returnval: o.v.resolve(childCtx(ctx), h, req.ResolutionSpec),
	}}
}

// ResolveMultipleUnresolvedVmfsVolumesEx_Task is the task form.
func (o *storageOverride) ResolveMultipleUnresolvedVmfsVolumesExTask(ctx *simulator.Context, req *types.ResolveMultipleUnresolvedVmfsVolumesEx_Task) soap.HasFault {
	body := &methods.ResolveMultipleUnresolvedVmfsVolumesEx_TaskBody{}
	h := o.host(req.This)
	if h == nil {
		body.Fault_ = soapFault(&types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	if len(req.ResolutionSpec) == 0 {
		body.Fault_ = invalidArgument("resolutionSpec")
		return body
	}
	specs := req.ResolutionSpec
	ref := o.v.startTask(ctx, taskSpec{
		method: "ResolveMultipleUnresolvedVmfsVolumesEx_Task", descID: "host.StorageSystem.resolveMultipleUnresolvedVmfsVolume",
		entity: h.ref, entityName: h.name,
		run: func(tctx *simulator.Context) (types.AnyType, types.BaseMethodFault) {
			return types.ArrayOfHostUnresolvedVmfsResolutionResult{HostUnresolvedVmfsResolutionResult: o.v.resolve(tctx, h, specs)}, nil
		},
	})
	body.Res = &types.ResolveMultipleUnresolvedVmfsVolumesEx_TaskResponse{Returnval: ref}
	return body
}

// ResignatureUnresolvedVmfsVolume_Task resignatures an unresolved copy and mounts it on every host
// that sees its device.
func (o *dssOverride) ResignatureUnresolvedVmfsVolumeTask(ctx *simulator.Context, req *types.ResignatureUnresolvedVmfsVolume_Task) soap.HasFault {
	body := &methods.ResignatureUnresolvedVmfsVolume_TaskBody{}
	v := o.v
	h := v.inv.dssRef[req.This]
	if h == nil {
		body.Fault_ = soapFault(&types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	paths := req.ResolutionSpec.ExtentDevicePath
	ref := v.startTask(ctx, taskSpec{
		method: "ResignatureUnresolvedVmfsVolume_Task", descID: "host.DatastoreSystem.resignatureUnresolvedVmfsVolume",
		entity: h.ref, entityName: h.name,
		run: func(tctx *simulator.Context) (types.AnyType, types.BaseMethodFault) {
			v.opMu.Lock()
			defer v.opMu.Unlock()
			d, hdr, fault := v.findCopy(h, paths)
			if fault != nil {
				return nil, fault
			}
			s, fault := v.resignature(tctx, h, d, hdr)
			if fault != nil {
				return nil, fault
			}
			rescans := v.rescanOthers(tctx, h, d)
			return types.HostResignatureRescanResult{Rescan: rescans, Result: s.ref}, nil
		},
	})
	body.Res = &types.ResignatureUnresolvedVmfsVolume_TaskResponse{Returnval: ref}
	return body
}

// UnmountVmfsVolume unmounts a volume on this host; the host keeps it unmounted across rescans.
// Refused while the volume is inaccessible or any VM of this host is registered on it.
func (o *storageOverride) UnmountVmfsVolume(ctx *simulator.Context, req *types.UnmountVmfsVolume) soap.HasFault {
	body := &methods.UnmountVmfsVolumeBody{}
	v := o.v
	h := o.host(req.This)
	if h == nil {
		body.Fault_ = soapFault(&types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	v.opMu.Lock()
	defer v.opMu.Unlock()
	s := v.datastoreByUUID(req.VmfsUuid)
	v.mu.Lock()
	var acc, mounted, parked bool
	if s != nil {
		acc, mounted = s.mounts[h.ref]
		parked = s.parked[h.ref]
	}
	v.mu.Unlock()
	switch {
	case s == nil || (!mounted && !parked):
		body.Fault_ = simulator.Fault(fmt.Sprintf("VMFS volume %s not found on host %s.", req.VmfsUuid, h.name), &types.NotFound{})
	case parked:
		body.Fault_ = simulator.Fault(fmt.Sprintf("The VMFS volume %s is already unmounted.", s.name), &types.InvalidState{})
	case !acc:
		body.Fault_ = simulator.Fault(fmt.Sprintf("The VMFS volume %s is inaccessible.", s.name), &types.InvalidState{})
	case v.vmsOnDatastoreAndHost(s, h) > 0:
		body.Fault_ = simulator.Fault(fmt.Sprintf("The resource '%s' is in use: virtual machines are registered on it.", s.name),
			&types.ResourceInUse{Type: "Datastore", Name: s.name})
	}
	if body.Fault_ != nil {
		return body
	}
	c := childCtx(ctx)
	v.park(c, s, h)
	v.refreshVMConnections(c)
	body.Res = new(types.UnmountVmfsVolumeResponse)
	return body
}

// MountVmfsVolume mounts a volume this host unmounted, from the device it still sees.
func (o *storageOverride) MountVmfsVolume(ctx *simulator.Context, req *types.MountVmfsVolume) soap.HasFault {
	body := &methods.MountVmfsVolumeBody{}
	v := o.v
	h := o.host(req.This)
	if h == nil {
		body.Fault_ = soapFault(&types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	v.opMu.Lock()
	defer v.opMu.Unlock()
	s := v.datastoreByUUID(req.VmfsUuid)
	if s != nil {
		v.mu.Lock()
		_, mounted := s.mounts[h.ref]
		v.mu.Unlock()
		if mounted {
			body.Fault_ = simulator.Fault(fmt.Sprintf("The VMFS volume %s is already mounted.", s.name), &types.InvalidState{})
			return body
		}
	}
	hd := v.devicesFor(h)
	devs := hd.vmfs[req.VmfsUuid]
	if len(devs) == 0 {
		body.Fault_ = simulator.Fault(fmt.Sprintf("VMFS volume %s not found on host %s.", req.VmfsUuid, h.name), &types.NotFound{})
		return body
	}
	current := ""
	if s != nil {
		current = s.naa
	}
	d := hd.pick(req.VmfsUuid, current)
	c := childCtx(ctx)
	v.mu.Lock()
	delete(v.hostStore(h).unmounted, req.VmfsUuid)
	v.mu.Unlock()
	v.mountVMFS(c, h, d, hd.labels[req.VmfsUuid])
	v.refreshVMConnections(c)
	body.Res = new(types.MountVmfsVolumeResponse)
	return body
}

// lunByUUID finds a SCSI device of the host by ScsiLun.uuid: one it sees, or one it lost.
func (v *VCenter) lunByUUID(h *hostInfo, id string) (fabric.Device, bool) {
	for _, d := range v.devicesFor(h).luns {
		if scsiLunUUID(d.NAA) == id {
			return d, true
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for naa, l := range v.hostStore(h).lost {
		if scsiLunUUID(naa) == id {
			return l.dev, true
		}
	}
	return fabric.Device{}, false
}

// DetachScsiLun stops I/O to a device; refused while a mounted volume is on it.
func (o *storageOverride) DetachScsiLun(ctx *simulator.Context, req *types.DetachScsiLun) soap.HasFault {
	body := &methods.DetachScsiLunBody{}
	v := o.v
	h := o.host(req.This)
	if h == nil {
		body.Fault_ = soapFault(&types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	v.opMu.Lock()
	defer v.opMu.Unlock()
	d, ok := v.lunByUUID(h, req.LunUuid)
	if !ok {
		body.Fault_ = simulator.Fault(fmt.Sprintf("The SCSI device %s was not found.", req.LunUuid), &types.NotFound{})
		return body
	}
	v.mu.Lock()
	hs := v.hostStore(h)
	detached := hs.detached[d.NAA]
	var busy, parked []*dsState
	for _, s := range v.stores {
		if s.proto != fabric.VMFS || s.naa != d.NAA {
			continue
		}
		if _, m := s.mounts[h.ref]; m {
			busy = append(busy, s)
		} else if s.parked[h.ref] {
			parked = append(parked, s)
		}
	}
	v.mu.Unlock()
	switch {
	case detached:
		body.Fault_ = simulator.Fault(fmt.Sprintf("The SCSI device %s is already detached.", d.NAA), &types.InvalidState{})
	case len(busy) > 0:
		body.Fault_ = simulator.Fault(fmt.Sprintf("The SCSI device %s is in use: the VMFS volume %s is mounted on it.", d.NAA, busy[0].name),
			&types.ResourceInUse{Type: "ScsiLun", Name: d.NAA})
	}
	if body.Fault_ != nil {
		return body
	}
	c := childCtx(ctx)
	v.mu.Lock()
	hs.detached[d.NAA] = true
	delete(hs.lost, d.NAA)
	v.mu.Unlock()
	for _, s := range parked {
		v.unpark(c, s, h)
	}
	v.updateScsiLunsFromFabric(c, h)
	body.Res = new(types.DetachScsiLunResponse)
	return body
}

// AttachScsiLun allows I/O to a detached device again; its volumes are found again (one the host
// unmounted stays unmounted).
func (o *storageOverride) AttachScsiLun(ctx *simulator.Context, req *types.AttachScsiLun) soap.HasFault {
	body := &methods.AttachScsiLunBody{}
	v := o.v
	h := o.host(req.This)
	if h == nil {
		body.Fault_ = soapFault(&types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	v.opMu.Lock()
	defer v.opMu.Unlock()
	d, ok := v.lunByUUID(h, req.LunUuid)
	if !ok {
		body.Fault_ = simulator.Fault(fmt.Sprintf("The SCSI device %s was not found.", req.LunUuid), &types.NotFound{})
		return body
	}
	v.mu.Lock()
	hs := v.hostStore(h)
	detached := hs.detached[d.NAA]
	if detached {
		delete(hs.detached, d.NAA)
	}
	v.mu.Unlock()
	if !detached {
		body.Fault_ = simulator.Fault(fmt.Sprintf("The SCSI device %s is attached.", d.NAA), &types.InvalidState{})
		return body
	}
	v.rescanHost(childCtx(ctx), h)
	body.Res = new(types.AttachScsiLunResponse)
	return body
}
