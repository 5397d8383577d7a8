package vcenter

import (
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
