package vcenter

import (
	"fmt"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// SOAP handlers of HostStorageSystem (rescans) and HostDatastoreSystem (NFS mounts, unmounts).

// storageOverride handles HostStorageSystem methods.
type storageOverride struct{ overrideBase }

func (o *storageOverride) host(ref types.ManagedObjectReference) *hostInfo {
	return o.v.inv.storageRef[ref]
}

func (o *storageOverride) rescan(ctx *simulator.Context, this types.ManagedObjectReference) *soap.Fault {
	h := o.host(this)
	if h == nil {
		return simulator.Fault("", &types.ManagedObjectNotFound{Obj: this})
	}
	v := o.v
	v.opMu.Lock()
	defer v.opMu.Unlock()
	v.rescanHost(childCtx(ctx), h)
	return nil
}

// RescanAllHba rescans the host's HBAs and VMFS volumes against the fabric.
func (o *storageOverride) RescanAllHba(ctx *simulator.Context, req *types.RescanAllHba) soap.HasFault {
	return &methods.RescanAllHbaBody{Res: new(types.RescanAllHbaResponse), Fault_: o.rescan(ctx, req.This)}
}

// RescanHba rescans one HBA (vmhba0 or vmhba2 exist; others are NotFound).
func (o *storageOverride) RescanHba(ctx *simulator.Context, req *types.RescanHba) soap.HasFault {
	if req.HbaDevice != "vmhba0" && req.HbaDevice != "vmhba2" {
		return &methods.RescanHbaBody{Fault_: simulator.Fault(fmt.Sprintf("HBA %q not found", req.HbaDevice), &types.NotFound{})}
	}
	return &methods.RescanHbaBody{Res: new(types.RescanHbaResponse), Fault_: o.rescan(ctx, req.This)}
}

// RescanVmfs looks for new VMFS volumes.
func (o *storageOverride) RescanVmfs(ctx *simulator.Context, req *types.RescanVmfs) soap.HasFault {
	return &methods.RescanVmfsBody{Res: new(types.RescanVmfsResponse), Fault_: o.rescan(ctx, req.This)}
}

// RefreshStorageSystem refreshes the host's storage information.
func (o *storageOverride) RefreshStorageSystem(ctx *simulator.Context, req *types.RefreshStorageSystem) soap.HasFault {
	return &methods.RefreshStorageSystemBody{Res: new(types.RefreshStorageSystemResponse), Fault_: o.rescan(ctx, req.This)}
}

// dssOverride handles HostDatastoreSystem methods.
type dssOverride struct{ overrideBase }

// CreateNasDatastore mounts an NFS export presented by the fabric. The datastore is named by
// spec.localPath, as on ESXi.
func (o *dssOverride) CreateNasDatastore(ctx *simulator.Context, req *types.CreateNasDatastore) soap.HasFault {
	body := &methods.CreateNasDatastoreBody{}
	v := o.v
	h := v.inv.dssRef[req.This]
	if h == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	spec := req.Spec
	switch {
	case spec.RemoteHost == "":
		body.Fault_ = invalidArgument("spec.remoteHost")
	case spec.RemotePath == "":
		body.Fault_ = invalidArgument("spec.remotePath")
	case spec.LocalPath == "" || strings.ContainsAny(spec.LocalPath, "/\\[]"):
		body.Fault_ = simulator.Fault(fmt.Sprintf("Invalid name '%s'.", spec.LocalPath), &types.InvalidName{Name: spec.LocalPath})
	case spec.Type != "" && spec.Type != "NFS" && spec.Type != "NFS41" && spec.Type != "nfs":
		body.Fault_ = invalidArgument("spec.type")
	}
	mode := types.HostMountMode(spec.AccessMode)
	if mode == "" {
		mode = types.HostMountModeReadWrite
	}
	if body.Fault_ == nil && mode != types.HostMountModeReadWrite && mode != types.HostMountModeReadOnly {
		body.Fault_ = invalidArgument("spec.accessMode")
	}
	if body.Fault_ != nil {
		return body
	}
	v.opMu.Lock()
	defer v.opMu.Unlock()
	c := childCtx(ctx)
	ref, fault := v.mountNAS(c, h, spec.RemoteHost, spec.RemotePath, spec.LocalPath, mode)
	if fault != nil {
		body.Fault_ = fault
		return body
	}
	v.refreshVMConnections(c)
	body.Res = &types.CreateNasDatastoreResponse{Returnval: ref}
	return body
}

// RemoveDatastore unmounts a datastore from this host. A datastore with VMs registered on the host
// is in use.
func (o *dssOverride) RemoveDatastore(ctx *simulator.Context, req *types.RemoveDatastore) soap.HasFault {
	body := &methods.RemoveDatastoreBody{}
	v := o.v
	h := v.inv.dssRef[req.This]
	if h == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	v.opMu.Lock()
	defer v.opMu.Unlock()
	s := v.storeByRef(req.Datastore)
	if s == nil {
		body.Fault_ = simulator.Fault(fmt.Sprintf("The object '%s' has already been deleted or has not been completely created", req.Datastore.Value),
			&types.ManagedObjectNotFound{Obj: req.Datastore})
		return body
	}
	v.mu.Lock()
	_, mounted := s.mounts[h.ref]
	v.mu.Unlock()
	if !mounted {
		body.Fault_ = simulator.Fault(fmt.Sprintf("Datastore '%s' is not mounted on host %s.", s.name, h.name), &types.NotFound{})
		return body
	}
	if v.vmsOnDatastoreAndHost(s, h) > 0 {
		body.Fault_ = simulator.Fault(fmt.Sprintf("The resource '%s' is in use.", s.name), &types.ResourceInUse{Type: "Datastore", Name: s.name})
		return body
	}
	c := childCtx(ctx)
	v.unmount(c, s, h)
	body.Res = new(types.RemoveDatastoreResponse)
	return body
}
