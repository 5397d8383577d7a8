package vcenter

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// postEvent records events with the EventManager, as vCenter does for the operations the lab runs.
func (v *VCenter) postEvent(ctx *simulator.Context, events ...types.BaseEvent) {
	m := v.reg.EventManager()
	ctx.WithLock(m, func() {
		for _, e := range events {
			m.PostEvent(ctx, &types.PostEvent{EventToPost: e})
		}
	})
}

func (v *VCenter) dcEventArg() *types.DatacenterEventArgument {
	return &types.DatacenterEventArgument{Datacenter: v.inv.dc, EntityEventArgument: types.EntityEventArgument{Name: v.inv.dcName}}
}

func (v *VCenter) hostEventArg(h *hostInfo) *types.HostEventArgument {
	return &types.HostEventArgument{Host: h.ref, EntityEventArgument: types.EntityEventArgument{Name: h.name}}
}

// vmEvent fills the common part of a VM event. The caller holds the VM's lock or knows it is not
// shared yet.
func (v *VCenter) vmEvent(vm *simulator.VirtualMachine, h *hostInfo) types.VmEvent {
	ev := types.VmEvent{Event: types.Event{
		Datacenter:      v.dcEventArg(),
		ComputeResource: &types.ComputeResourceEventArgument{ComputeResource: h.cluster.ref, EntityEventArgument: types.EntityEventArgument{Name: h.cluster.name}},
		Host:            v.hostEventArg(h),
		Vm:              &types.VmEventArgument{Vm: vm.Self, EntityEventArgument: types.EntityEventArgument{Name: vm.Name}},
	}}
	if len(vm.Datastore) > 0 {
		if s := v.storeByRef(vm.Datastore[0]); s != nil {
			ev.Ds = &types.DatastoreEventArgument{Datastore: s.ref, EntityEventArgument: types.EntityEventArgument{Name: s.name}}
		}
	}
	return ev
}
