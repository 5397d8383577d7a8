package vcenter

import (
	"reflect"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// poolOverride fixes how a new resource pool is announced.
type poolOverride struct{ overrideBase }

// CreateResourcePool creates the pool as the simulator does, then announces it again. The
// simulator registers the child (notifying container views) before it links it into its parent's
// list, so a view's search from its root misses it and clients following a ContainerView through
// WaitForUpdatesEx never see the new pool; vCenter reports it like any other new object.
func (o *poolOverride) CreateResourcePool(ctx *simulator.Context, req *types.CreateResourcePool) soap.HasFault {
	p, ok := o.v.reg.Get(req.This).(*simulator.ResourcePool)
	if !ok {
		return &methods.CreateResourcePoolBody{Fault_: soapFault(&types.ManagedObjectNotFound{Obj: req.This})}
	}
	var res soap.HasFault
	ctx.WithLock(p, func() { res = p.CreateResourcePool(ctx, req) })
	if b, ok := res.(*methods.CreateResourcePoolBody); ok && b.Res != nil {
		if child := o.v.reg.Get(b.Res.Returnval); child != nil {
			o.v.reg.Put(child)
		}
	}
	return res
}

// DestroyChildren removes every resource pool below this one, as vCenter does: the pools go, their
// VMs come to this pool. The stock method holds this pool's lock while it starts one Destroy task
// per child, and each task needs that lock again after taking its child's; a second call on the
// same pool arriving before an earlier task has run then deadlocks both (child held, parent
// wanted, and the reverse). Here the pool is locked only to pick the next child, each child is
// destroyed to completion before the next, and grandchildren, which a destroy moves up to this
// pool, are destroyed in turn, so nothing is left below it.
func (o *poolOverride) DestroyChildren(ctx *simulator.Context, req *types.DestroyChildren) soap.HasFault {
	p, ok := o.v.reg.Get(req.This).(*simulator.ResourcePool)
	if !ok {
		return &methods.DestroyChildrenBody{Fault_: soapFault(&types.ManagedObjectNotFound{Obj: req.This})}
	}
	for {
		var next *simulator.ResourcePool
		ctx.WithLock(p, func() {
			for _, ref := range p.ResourcePool.ResourcePool {
				if child, ok := o.v.reg.Get(ref).(*simulator.ResourcePool); ok && ref.Type == "ResourcePool" {
					next = child
					return
				}
			}
		})
		if next == nil {
			return &methods.DestroyChildrenBody{Res: new(types.DestroyChildrenResponse)}
		}
		res, ok := next.DestroyTask(ctx, &types.Destroy_Task{This: next.Self}).(*methods.Destroy_TaskBody)
		if !ok || res.Res == nil {
			return &methods.DestroyChildrenBody{Fault_: soapFault(&types.SystemError{Reason: "destroying " + next.Name})}
		}
		task, ok := o.v.reg.Get(res.Res.Returnval).(*simulator.Task)
		if !ok {
			return &methods.DestroyChildrenBody{Fault_: soapFault(&types.SystemError{Reason: "destroying " + next.Name})}
		}
		task.Wait()
		if task.Info.Error != nil {
			return &methods.DestroyChildrenBody{Fault_: soapFault(task.Info.Error.Fault)}
		}
	}
}

// UpdateConfig changes a pool's name or allocation as the simulator does, announces the new
// configuration to property collectors (the simulator changes it silently), and counts a change
// of its limits, reservations or shares as a mutation (setting what is already set is not one).
func (o *poolOverride) UpdateConfig(ctx *simulator.Context, req *types.UpdateConfig) soap.HasFault {
	p, ok := o.v.reg.Get(req.This).(*simulator.ResourcePool)
	if !ok {
		return &methods.UpdateConfigBody{Fault_: soapFault(&types.ManagedObjectNotFound{Obj: req.This})}
	}
	var res soap.HasFault
	changed := false
	ctx.WithLock(p, func() {
		before := p.Config
		res = p.UpdateConfig(ctx, req)
		changed = !reflect.DeepEqual(before.CpuAllocation, p.Config.CpuAllocation) || !reflect.DeepEqual(before.MemoryAllocation, p.Config.MemoryAllocation)
		if changed {
			ctx.Update(p, []types.PropertyChange{{Name: "config", Val: p.Config}})
		}
	})
	if changed {
		o.v.mutated("UpdateConfig", req.This.Value)
	}
	return res
}
