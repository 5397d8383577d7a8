package vcenter

import (
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// PowerOffVM_Task powers a VM off (hard). A pending power-on question is cancelled.
func (o *vmOverride) PowerOffVMTask(ctx *simulator.Context, req *types.PowerOffVM_Task) soap.HasFault {
	v := o.v
	_, _, name, f := v.vmFor(ctx, req.This)
	if f != nil {
		return &methods.PowerOffVM_TaskBody{Fault_: f}
	}
	ref := v.startTask(ctx, taskSpec{
		method: "PowerOffVM_Task", descID: "VirtualMachine.powerOff", entity: req.This, entityName: name,
		run: func(tctx *simulator.Context) (types.AnyType, types.BaseMethodFault) {
			_ = v.answer(tctx, req.This, "", AnswerCancel)
			return nil, v.powerOff(tctx, req.This, types.VirtualMachinePowerStatePoweredOff, false)
		},
	})
	return &methods.PowerOffVM_TaskBody{Res: &types.PowerOffVM_TaskResponse{Returnval: ref}}
}

// SuspendVM_Task suspends a powered-on VM.
func (o *vmOverride) SuspendVMTask(ctx *simulator.Context, req *types.SuspendVM_Task) soap.HasFault {
	v := o.v
	_, _, name, f := v.vmFor(ctx, req.This)
	if f != nil {
		return &methods.SuspendVM_TaskBody{Fault_: f}
	}
	ref := v.startTask(ctx, taskSpec{
		method: "SuspendVM_Task", descID: "VirtualMachine.suspend", entity: req.This, entityName: name,
		run: func(tctx *simulator.Context) (types.AnyType, types.BaseMethodFault) {
			return nil, v.powerOff(tctx, req.This, types.VirtualMachinePowerStateSuspended, false)
		},
	})
	return &methods.SuspendVM_TaskBody{Res: &types.SuspendVM_TaskResponse{Returnval: ref}}
}

// ResetVM_Task resets a powered-on VM: its guest reboots.
func (o *vmOverride) ResetVMTask(ctx *simulator.Context, req *types.ResetVM_Task) soap.HasFault {
	v := o.v
	_, _, name, f := v.vmFor(ctx, req.This)
	if f != nil {
		return &methods.ResetVM_TaskBody{Fault_: f}
	}
	ref := v.startTask(ctx, taskSpec{
		method: "ResetVM_Task", descID: "VirtualMachine.reset", entity: req.This, entityName: name,
		run: func(tctx *simulator.Context) (types.AnyType, types.BaseMethodFault) {
			return nil, v.reboot(tctx, req.This, false)
		},
	})
	return &methods.ResetVM_TaskBody{Res: &types.ResetVM_TaskResponse{Returnval: ref}}
}

// ShutdownGuest asks the guest to shut down; the VM powers off shortly after. Tools must be running.
func (o *vmOverride) ShutdownGuest(ctx *simulator.Context, req *types.ShutdownGuest) soap.HasFault {
	body := &methods.ShutdownGuestBody{}
	if f := o.v.guestPowerOp(ctx, req.This, types.VirtualMachinePowerStatePoweredOff); f != nil {
		body.Fault_ = soapFault(f)
		return body
	}
	body.Res = new(types.ShutdownGuestResponse)
	return body
}

// StandbyGuest asks the guest to go to standby; the VM is suspended shortly after.
func (o *vmOverride) StandbyGuest(ctx *simulator.Context, req *types.StandbyGuest) soap.HasFault {
	body := &methods.StandbyGuestBody{}
	if f := o.v.guestPowerOp(ctx, req.This, types.VirtualMachinePowerStateSuspended); f != nil {
		body.Fault_ = soapFault(f)
		return body
	}
	body.Res = new(types.StandbyGuestResponse)
	return body
}

// RebootGuest asks the guest to reboot. Tools must be running.
func (o *vmOverride) RebootGuest(ctx *simulator.Context, req *types.RebootGuest) soap.HasFault {
	body := &methods.RebootGuestBody{}
	if f := o.v.reboot(ctx, req.This, true); f != nil {
		body.Fault_ = soapFault(f)
		return body
	}
	body.Res = new(types.RebootGuestResponse)
	return body
}

// guestPowerOp checks a guest-initiated power operation and completes it after a short guest
// delay (half the boot time, lab clock).
func (v *VCenter) guestPowerOp(ctx *simulator.Context, ref types.ManagedObjectReference, to types.VirtualMachinePowerState) types.BaseMethodFault {
	v.opMu.Lock()
	vm, st, _, f := v.vmFor(ctx, ref)
	if f != nil {
		v.opMu.Unlock()
		return &types.ManagedObjectNotFound{Obj: ref}
	}
	var state types.VirtualMachinePowerState
	ctx.WithLock(vm, func() { state = vm.Runtime.PowerState })
	v.mu.Lock()
	tools := st.toolsUp
	seq := st.bootSeq
	v.mu.Unlock()
	v.opMu.Unlock()
	if state != types.VirtualMachinePowerStatePoweredOn {
		return &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOn, ExistingState: state}
	}
	if !tools {
		return &types.ToolsUnavailable{}
	}
	c := childCtx(ctx)
	v.clock.AfterFunc(v.bootTime()/2, func() {
		defer v.recoverLog("guest power operation")
		if v.closed.Load() {
			return
		}
		v.mu.Lock()
		same := st.bootSeq == seq
		v.mu.Unlock()
		if same {
			_ = v.powerOff(c, ref, to, true)
		}
	})
	return nil
}

// powerOff takes a VM to poweredOff or suspended.
func (v *VCenter) powerOff(ctx *simulator.Context, ref types.ManagedObjectReference, to types.VirtualMachinePowerState, guest bool) types.BaseMethodFault {
	v.opMu.Lock()
	defer v.opMu.Unlock()
	vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
	st := v.vmState(ref)
	if !ok || st == nil {
		return &types.ManagedObjectNotFound{Obj: ref}
	}
	var fault types.BaseMethodFault
	ctx.WithLock(vm, func() {
		cur := vm.Runtime.PowerState
		if cur != types.VirtualMachinePowerStatePoweredOn && !(to == types.VirtualMachinePowerStatePoweredOff && cur == types.VirtualMachinePowerStateSuspended) {
			fault = &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOn, ExistingState: cur}
			return
		}
		devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
		for _, d := range devices {
			if c := d.GetVirtualDevice().Connectable; c != nil {
				c.Connected = false
				c.Status = "untried"
			}
		}
		ctx.Update(vm, []types.PropertyChange{
			{Name: "config.hardware.device", Val: []types.BaseVirtualDevice(devices)},
			{Name: "runtime.powerState", Val: to},
			{Name: "summary.runtime.powerState", Val: to},
			{Name: "runtime.bootTime", Val: nil},
			{Name: "summary.runtime.bootTime", Val: nil},
		})
	})
	if fault != nil {
		return fault
	}
	if to == types.VirtualMachinePowerStateSuspended {
		v.mutated("Suspend", ref.Value)
	}
	v.guestDown(ctx, vm, st)
	if h := v.inv.hostByRef[st.host]; h != nil {
		var ev types.VmEvent
		ctx.WithLock(vm, func() { ev = v.vmEvent(vm, h) })
		switch {
		case to == types.VirtualMachinePowerStateSuspended:
			v.postEvent(ctx, &types.VmSuspendingEvent{VmEvent: ev}, &types.VmSuspendedEvent{VmEvent: ev})
		case guest:
			v.postEvent(ctx, &types.VmGuestShutdownEvent{VmEvent: ev}, &types.VmPoweredOffEvent{VmEvent: ev})
		default:
			v.postEvent(ctx, &types.VmStoppingEvent{VmEvent: ev}, &types.VmPoweredOffEvent{VmEvent: ev})
		}
	}
	return nil
}

// reboot restarts a powered-on VM's guest (RebootGuest when guest is true, ResetVM_Task otherwise).
func (v *VCenter) reboot(ctx *simulator.Context, ref types.ManagedObjectReference, guest bool) types.BaseMethodFault {
	v.opMu.Lock()
	defer v.opMu.Unlock()
	vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
	st := v.vmState(ref)
	if !ok || st == nil {
		return &types.ManagedObjectNotFound{Obj: ref}
	}
	var state types.VirtualMachinePowerState
	ctx.WithLock(vm, func() { state = vm.Runtime.PowerState })
	if state != types.VirtualMachinePowerStatePoweredOn {
		return &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOn, ExistingState: state}
	}
	v.mu.Lock()
	tools := st.toolsUp
	v.mu.Unlock()
	if guest && !tools {
		return &types.ToolsUnavailable{}
	}
	v.guestDown(ctx, vm, st)
	if h := v.inv.hostByRef[st.host]; h != nil {
		var ev types.VmEvent
		ctx.WithLock(vm, func() { ev = v.vmEvent(vm, h) })
		if guest {
			v.postEvent(ctx, &types.VmGuestRebootEvent{VmEvent: ev})
		} else {
			v.postEvent(ctx, &types.VmResettingEvent{VmEvent: ev})
		}
	}
	v.scheduleBoot(ref, st)
	return nil
}
