package vcenter

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The "moved or copied" question ESX asks when a VM's configuration file is not where it was when
// the VM last ran (msg.uuid.altered), with the choices and keys vCenter offers.
const (
	uuidAlteredID   = "msg.uuid.altered"
	uuidAlteredText = "This virtual machine might have been moved or copied.\n" +
		"In order to configure certain management and networking features, VMware ESX needs to know if this virtual machine was moved or copied.\n\n" +
		"If you don't know, answer \"I Copied It\".\n"

	// AnswerCancel, AnswerMoved and AnswerCopied are the choice keys of the question.
	AnswerCancel = "0"
	AnswerMoved  = "1"
	AnswerCopied = "2"
)

// pendingQuestion is a question a power-on task waits on.
type pendingQuestion struct {
	info   types.VirtualMachineQuestionInfo
	answer chan string // buffered; receives exactly one choice key
}

func uuidQuestion(id string) types.VirtualMachineQuestionInfo {
	return types.VirtualMachineQuestionInfo{
		Id:   id,
		Text: uuidAlteredText,
		Choice: types.ChoiceOption{
			OptionType: types.OptionType{ValueIsReadonly: types.NewBool(false)},
			ChoiceInfo: []types.BaseElementDescription{
				&types.ElementDescription{Description: types.Description{Label: "button.uuid.cancel", Summary: "Cancel"}, Key: AnswerCancel},
				&types.ElementDescription{Description: types.Description{Label: "button.uuid.movedTheVM", Summary: "I _Moved It"}, Key: AnswerMoved},
				&types.ElementDescription{Description: types.Description{Label: "button.uuid.copiedTheVM", Summary: "I _Copied It"}, Key: AnswerCopied},
			},
			DefaultIndex: 2,
		},
		Message: []types.VirtualMachineMessage{{Id: uuidAlteredID, Text: strings.ReplaceAll(uuidAlteredText, "\n", " ")}},
	}
}

// vmOverride handles VirtualMachine methods.
type vmOverride struct{ overrideBase }

// vmFor returns a VM, its state and its display name, or ManagedObjectNotFound.
func (v *VCenter) vmFor(ctx *simulator.Context, ref types.ManagedObjectReference) (*simulator.VirtualMachine, *vmState, string, *soap.Fault) {
	vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
	st := v.vmStateFor(ctx, ref)
	if !ok || st == nil {
		return nil, nil, "", soapFault(&types.ManagedObjectNotFound{Obj: ref})
	}
	var name string
	ctx.WithLock(vm, func() { name = vm.Name })
	return vm, st, name, nil
}

// PowerOnVM_Task powers a VM on. When its .vmx records another location than where it is now,
// the task raises the "moved or copied" question and stays running until AnswerVM answers it (or
// the task is cancelled): "moved" keeps the VM's UUIDs, "copied" gives it new ones, cancel fails
// the power-on. A .vmx with uuid.action = "keep" or "create" answers the question itself.
func (o *vmOverride) PowerOnVMTask(ctx *simulator.Context, req *types.PowerOnVM_Task) soap.HasFault {
	v := o.v
	vm, _, name, f := v.vmFor(ctx, req.This)
	if f != nil {
		return &methods.PowerOnVM_TaskBody{Fault_: f}
	}
	var template bool
	ctx.WithLock(vm, func() { template = vm.Config.Template })
	if template {
		return &methods.PowerOnVM_TaskBody{Fault_: simulator.Fault("Cannot power on a template.", &types.InvalidState{})}
	}
	ref := v.startTask(ctx, taskSpec{
		method: "PowerOnVM_Task", descID: "VirtualMachine.powerOn", entity: req.This, entityName: name,
		cancel: func() bool { return v.answer(childCtx(ctx), req.This, "", AnswerCancel) == nil },
		run: func(tctx *simulator.Context) (types.AnyType, types.BaseMethodFault) {
			return nil, v.powerOn(tctx, req.This)
		},
	})
	return &methods.PowerOnVM_TaskBody{Res: &types.PowerOnVM_TaskResponse{Returnval: ref}}
}

// powerOn is the work of a power-on task.
func (v *VCenter) powerOn(ctx *simulator.Context, ref types.ManagedObjectReference) types.BaseMethodFault {
	v.opMu.Lock()
	locked := true
	defer func() {
		if locked {
			v.opMu.Unlock()
		}
	}()
	vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
	st := v.vmState(ref)
	if !ok || st == nil {
		return &types.ManagedObjectNotFound{Obj: ref}
	}
	var state types.VirtualMachinePowerState
	var vmxPath string
	ctx.WithLock(vm, func() { state, vmxPath = vm.Runtime.PowerState, vm.Config.Files.VmPathName })
	if state == types.VirtualMachinePowerStatePoweredOn {
		return &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOn, ExistingState: state}
	}
	v.mu.Lock()
	if st.busy || st.question != nil {
		v.mu.Unlock()
		return &types.TaskInProgress{Task: ref}
	}
	if st.conn == types.VirtualMachineConnectionStateInaccessible {
		v.mu.Unlock()
		return &types.InvalidState{}
	}
	here := locationID(v.site.ID, vmxPath)
	moved := st.location != "" && !strings.EqualFold(st.location, here)
	action := st.uuidAction
	st.busy = true
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		st.busy = false
		v.mu.Unlock()
	}()

	choice := ""
	if moved {
		switch action {
		case "keep":
			choice = AnswerMoved
		case "create":
			choice = AnswerCopied
		default:
			q := v.raiseQuestion(ctx, vm, st)
			v.opMu.Unlock()
			locked = false
			select {
			case choice = <-q.answer:
			case <-v.closing:
				choice = AnswerCancel
			}
			v.opMu.Lock()
			locked = true
			if v.closed.Load() {
				return &types.RequestCanceled{}
			}
			if _, still := v.reg.Get(ref).(*simulator.VirtualMachine); !still {
				return &types.ManagedObjectNotFound{Obj: ref}
			}
		}
	}
	switch choice {
	case AnswerCancel:
		return &types.GenericVmConfigFault{Reason: "The operation was canceled: the virtual machine's configuration file was moved or copied and the question was answered Cancel."}
	case AnswerCopied:
		v.newIdentity(ctx, vm, st)
	}
	if moved || st.location == "" {
		v.mu.Lock()
		st.location = here
		v.mu.Unlock()
		v.persist(ctx, ref)
	}
	v.powerOnNow(ctx, ref, false)
	return nil
}

// raiseQuestion sets runtime.question. The caller holds opMu.
func (v *VCenter) raiseQuestion(ctx *simulator.Context, vm *simulator.VirtualMachine, st *vmState) *pendingQuestion {
	v.mu.Lock()
	v.question++
	q := &pendingQuestion{info: uuidQuestion(fmt.Sprintf("_vmx%d", v.question)), answer: make(chan string, 1)}
	st.question = q
	v.mu.Unlock()
	info := q.info
	ctx.WithLock(vm, func() {
		ctx.Update(vm, []types.PropertyChange{
			{Name: "runtime.question", Val: &info},
			{Name: "summary.runtime.question", Val: &info},
		})
	})
	if h := v.inv.hostByRef[st.host]; h != nil {
		v.postEvent(ctx, &types.VmMessageEvent{VmEvent: v.vmEvent(vm, h), Message: uuidAlteredText,
			MessageInfo: []types.VirtualMachineMessage{{Id: uuidAlteredID}}})
	}
	return q
}

// answer answers a VM's pending question with choice. An empty questionID matches any question.
func (v *VCenter) answer(ctx *simulator.Context, ref types.ManagedObjectReference, questionID, choice string) types.BaseMethodFault {
	v.opMu.Lock()
	defer v.opMu.Unlock()
	vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
	st := v.vmState(ref)
	if !ok || st == nil {
		return &types.ManagedObjectNotFound{Obj: ref}
	}
	v.mu.Lock()
	q := st.question
	if q == nil || (questionID != "" && q.info.Id != questionID) {
		v.mu.Unlock()
		return &types.InvalidArgument{InvalidProperty: "questionId"}
	}
	switch choice {
	case AnswerCancel, AnswerMoved, AnswerCopied:
	default:
		v.mu.Unlock()
		return &types.InvalidArgument{InvalidProperty: "answerChoice"}
	}
	st.question = nil
	v.mu.Unlock()
	q.answer <- choice
	ctx.WithLock(vm, func() {
		ctx.Update(vm, []types.PropertyChange{
			{Name: "runtime.question", Val: nil},
			{Name: "summary.runtime.question", Val: nil},
		})
	})
	return nil
}

// AnswerVM answers the VM's pending question. An unknown question id or choice key is an
// InvalidArgument fault.
func (o *vmOverride) AnswerVM(ctx *simulator.Context, req *types.AnswerVM) soap.HasFault {
	body := &methods.AnswerVMBody{}
	if f := o.v.answer(ctx, req.This, req.QuestionId, req.AnswerChoice); f != nil {
		body.Fault_ = soapFault(f)
		return body
	}
	body.Res = new(types.AnswerVMResponse)
	o.v.mutated("AnswerVM", req.This.Value)
	return body
}

// newIdentity gives a copied VM a new BIOS UUID, a new instance UUID and new host-generated MAC
// addresses, as "I copied it" does. The caller holds opMu.
func (v *VCenter) newIdentity(ctx *simulator.Context, vm *simulator.VirtualMachine, st *vmState) {
	bios := uuid.NewString()
	inst := v.newInstanceUUID()
	ctx.WithLock(vm, func() {
		devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
		var changed bool
		for _, d := range devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
			card := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
			if card.AddressType == string(types.VirtualEthernetCardMacTypeGenerated) {
				card.MacAddress = v.nextMAC()
				changed = true
			}
		}
		changes := []types.PropertyChange{
			{Name: "config.uuid", Val: bios}, {Name: "summary.config.uuid", Val: bios},
			{Name: "config.instanceUuid", Val: inst}, {Name: "summary.config.instanceUuid", Val: inst},
		}
		if changed {
			changes = append(changes, types.PropertyChange{Name: "config.hardware.device", Val: []types.BaseVirtualDevice(devices)})
		}
		ctx.Update(vm, changes)
		v.reindex(vm, st)
	})
	if h := v.inv.hostByRef[st.host]; h != nil {
		ev := v.vmEvent(vm, h)
		v.postEvent(ctx, &types.VmUuidChangedEvent{VmEvent: ev, NewUuid: bios}, &types.VmInstanceUuidChangedEvent{VmEvent: ev, NewInstanceUuid: inst})
	}
}

// powerOnNow switches a VM on: power state, connected devices, boot of its guest. At startup the
// guest is up at once and no events are posted. The caller holds opMu.
func (v *VCenter) powerOnNow(ctx *simulator.Context, ref types.ManagedObjectReference, startup bool) {
	vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
	st := v.vmState(ref)
	if !ok || st == nil {
		return
	}
	now := v.clock.Now()
	ctx.WithLock(vm, func() {
		devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
		for _, d := range devices {
			if c := d.GetVirtualDevice().Connectable; c != nil {
				c.Connected = c.StartConnected
				c.Status = "ok"
			}
		}
		ctx.Update(vm, []types.PropertyChange{
			{Name: "config.hardware.device", Val: []types.BaseVirtualDevice(devices)},
			{Name: "runtime.powerState", Val: types.VirtualMachinePowerStatePoweredOn},
			{Name: "summary.runtime.powerState", Val: types.VirtualMachinePowerStatePoweredOn},
			{Name: "runtime.bootTime", Val: &now},
			{Name: "summary.runtime.bootTime", Val: &now},
			{Name: "guest.guestState", Val: "notRunning"},
		})
	})
	if !startup {
		v.mutated("PowerOn", ref.Value)
		if h := v.inv.hostByRef[st.host]; h != nil {
			ev := v.vmEvent(vm, h)
			v.postEvent(ctx, &types.VmStartingEvent{VmEvent: ev}, &types.VmPoweredOnEvent{VmEvent: ev})
		}
		v.scheduleBoot(ref, st)
		return
	}
	v.mu.Lock()
	st.bootSeq++
	seq := st.bootSeq
	v.mu.Unlock()
	v.guestUpLocked(ctx, ref, seq)
}
