package vcenter

import (
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/fabric"
)

// Rename_Task renames a datastore (after a resignature, "snap-xxxxxxxx-RP1" back to "RP1"). The
// VMFS label follows when the device is writable, so the name travels with the volume; the paths
// of the VMs on it follow too (their .vmx stays where it is: vCenter keys files by volume UUID).
func (o *datastoreOverride) RenameTask(ctx *simulator.Context, req *types.Rename_Task) soap.HasFault {
	v := o.v
	s := v.storeByRef(req.This)
	if s == nil {
		return &methods.Rename_TaskBody{Fault_: soapFault(&types.ManagedObjectNotFound{Obj: req.This})}
	}
	name := strings.TrimSpace(req.NewName)
	ref := v.startTask(ctx, taskSpec{
		method: "Rename_Task", descID: "Datastore.rename", entity: req.This, entityName: s.name,
		run: func(tctx *simulator.Context) (types.AnyType, types.BaseMethodFault) {
			v.opMu.Lock()
			defer v.opMu.Unlock()
			return nil, v.renameDatastore(tctx, s, name)
		},
	})
	return &methods.Rename_TaskBody{Res: &types.Rename_TaskResponse{Returnval: ref}}
}

func (v *VCenter) renameDatastore(ctx *simulator.Context, s *dsState, name string) types.BaseMethodFault {
	old := s.name
	if name == old {
		return nil
	}
	if strings.ContainsAny(name, "[]/\\") {
		return &types.InvalidName{Name: name}
	}
	dc := v.reg.Get(v.inv.dc).(*simulator.Datacenter)
	if e := v.reg.FindByName(name, dc.Datastore); e != nil {
		return &types.DuplicateName{Name: name, Object: e.Reference()}
	}
	ds, ok := v.reg.Get(s.ref).(*simulator.Datastore)
	if !ok {
		return &types.ManagedObjectNotFound{Obj: s.ref}
	}
	v.mu.Lock()
	s.name = name
	v.mu.Unlock()
	ctx.WithLock(ds, func() {
		changes := []types.PropertyChange{{Name: "name", Val: name}, {Name: "summary.name", Val: name}}
		switch info := ds.Info.(type) {
		case *types.VmfsDatastoreInfo:
			ni := *info
			ni.Name = name
			if ni.Vmfs != nil {
				vol := *ni.Vmfs
				vol.Name = name
				ni.Vmfs = &vol
			}
			changes = append(changes, types.PropertyChange{Name: "info", Val: &ni})
		case *types.NasDatastoreInfo:
			ni := *info
			ni.Name = name
			if ni.Nas != nil {
				vol := *ni.Nas
				vol.Name = name
				ni.Nas = &vol
			}
			changes = append(changes, types.PropertyChange{Name: "info", Val: &ni})
		}
		ctx.Update(ds, changes)
	})
	if s.proto == fabric.VMFS {
		if hdr, err := fabric.ReadHeader(s.dir); err == nil && hdr.UUID == s.uuid {
			for _, d := range v.fabric.Devices(v.site.ID) {
				if d.NAA == s.naa && d.Writable && d.Online {
					hdr.Label = name
					if err := fabric.WriteHeader(s.dir, hdr); err != nil {
						v.log.Warn("could not write the VMFS label", "datastore", name, "err", err)
					}
				}
			}
		}
	}
	v.renameVMPaths(ctx, old, name)
	for _, h := range v.inv.hosts {
		v.mu.Lock()
		_, mounted := s.mounts[h.ref]
		v.mu.Unlock()
		if mounted {
			v.updateFileSystemVolumes(ctx, h)
		}
	}
	v.postEvent(ctx, &types.DatastoreRenamedEvent{
		DatastoreEvent: types.DatastoreEvent{Event: types.Event{Datacenter: v.dcEventArg()},
			Datastore: &types.DatastoreEventArgument{Datastore: s.ref, EntityEventArgument: types.EntityEventArgument{Name: name}}},
		OldName: old, NewName: name,
	})
	return nil
}

// renameVMPaths moves the datastore paths of every VM on a renamed datastore to the new name.
func (v *VCenter) renameVMPaths(ctx *simulator.Context, old, name string) {
	from, to := "["+old+"]", "["+name+"]"
	swap := func(p string) string {
		if strings.HasPrefix(p, from) {
			return to + strings.TrimPrefix(p, from)
		}
		return p
	}
	v.mu.Lock()
	var refs []types.ManagedObjectReference
	for ref, st := range v.vms {
		if st.dsName == old {
			delete(v.pathIdx, st.vmxPath)
			st.dsName, st.vmxPath = name, swap(st.vmxPath)
			v.pathIdx[st.vmxPath] = ref
			refs = append(refs, ref)
		}
	}
	v.mu.Unlock()
	for _, ref := range sortedRefs(refs) {
		vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		ctx.WithLock(vm, func() {
			if vm.Config == nil {
				return
			}
			files := vm.Config.Files
			files.VmPathName, files.SnapshotDirectory = swap(files.VmPathName), swap(files.SnapshotDirectory)
			files.SuspendDirectory, files.LogDirectory = swap(files.SuspendDirectory), swap(files.LogDirectory)
			devices := append([]types.BaseVirtualDevice(nil), vm.Config.Hardware.Device...)
			for i, d := range devices {
				dev := d.GetVirtualDevice()
				if b, ok := dev.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok && strings.HasPrefix(b.GetVirtualDeviceFileBackingInfo().FileName, from) {
					if disk, ok := d.(*types.VirtualDisk); ok {
						if fb, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
							nd, nb := *disk, *fb
							nb.FileName = swap(fb.FileName)
							nd.Backing = &nb
							devices[i] = &nd
						}
					}
				}
			}
			ctx.Update(vm, []types.PropertyChange{
				{Name: "config.files", Val: files},
				{Name: "config.hardware.device", Val: devices},
				{Name: "summary.config.vmPathName", Val: files.VmPathName},
			})
		})
	}
}
