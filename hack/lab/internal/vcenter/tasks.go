package vcenter

import (
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// taskSpec describes a task the lab runs itself (rather than through a stock simulator method).
type taskSpec struct {
	method     string // SOAP method, e.g. "PowerOnVM_Task": the key of task durations and injected failures
	descID     string // TaskInfo.descriptionId, e.g. "VirtualMachine.powerOn"
	entity     types.ManagedObjectReference
	entityName string
	// cancel, when set, makes the task cancelable; it asks the running work to stop and reports
	// whether it still could.
	cancel func() bool
	// run does the work on the task's own goroutine, after the task's duration has elapsed.
	run func(ctx *simulator.Context) (types.AnyType, types.BaseMethodFault)
}

// labTasks tracks the cancel hooks of running lab tasks.
type labTasks struct {
	mu     sync.Mutex
	cancel map[types.ManagedObjectReference]func() bool
}

func (v *VCenter) tasks() *labTasks {
	v.lt.mu.Lock()
	if v.lt.cancel == nil {
		v.lt.cancel = map[types.ManagedObjectReference]func() bool{}
	}
	v.lt.mu.Unlock()
	return &v.lt
}

// startTask creates a Task in state running, returns its reference at once and does the work on
// a goroutine: first the configured duration for the method (lab clock), then either the injected
// failure or spec.run. A panic in the work fails the task with SystemError.
func (v *VCenter) startTask(ctx *simulator.Context, spec taskSpec) types.ManagedObjectReference {
	now := time.Now()
	t := simulator.CreateTask(spec.entity, "lab", nil)
	t.Info.Name = spec.method
	t.Info.DescriptionId = spec.descID
	t.Info.EntityName = spec.entityName
	t.Info.Cancelable = spec.cancel != nil
	t.Info.QueueTime = now
	user := ""
	if ctx.Session != nil {
		user = ctx.Session.UserName
	}
	t.Info.Reason = &types.TaskReasonUser{UserName: user}
	tctx := childCtx(ctx)
	v.reg.Put(t)
	tctx.WithLock(t, func() {
		tctx.Update(t, []types.PropertyChange{
			{Name: "info.key", Val: t.Self.Value},
			{Name: "info.task", Val: t.Self},
			{Name: "info.state", Val: types.TaskInfoStateRunning},
			{Name: "info.startTime", Val: now},
			{Name: "info.progress", Val: int32(0)},
		})
	})
	if spec.cancel != nil {
		lt := v.tasks()
		lt.mu.Lock()
		lt.cancel[t.Self] = spec.cancel
		lt.mu.Unlock()
	}
	injected := v.faults.takeTaskFault(spec.method + "@" + spec.entityName)
	if injected == nil {
		injected = v.faults.takeTaskFault(spec.method)
	}
	d := v.faults.taskDuration(spec.method)
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		var res types.AnyType
		var fault types.BaseMethodFault
		func() {
			defer func() {
				if r := recover(); r != nil {
					v.log.Error("task panicked", "method", spec.method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
					res, fault = nil, &types.SystemError{Reason: fmt.Sprintf("internal error in %s", spec.method)}
				}
			}()
			if !v.sleepLab(d) {
				fault = &types.RequestCanceled{}
				return
			}
			if injected != nil {
				fault = injected
				return
			}
			res, fault = spec.run(tctx)
		}()
		v.finishTask(tctx, t, res, fault)
		if spec.cancel != nil {
			lt := v.tasks()
			lt.mu.Lock()
			delete(lt.cancel, t.Self)
			lt.mu.Unlock()
		}
	}()
	return t.Self
}

// finishTask records a task's outcome, unless it was already completed (cancelled).
func (v *VCenter) finishTask(ctx *simulator.Context, t *simulator.Task, res types.AnyType, fault types.BaseMethodFault) {
	ctx.WithLock(t, func() {
		if t.Info.State == types.TaskInfoStateSuccess || t.Info.State == types.TaskInfoStateError {
			return
		}
		changes := []types.PropertyChange{{Name: "info.completeTime", Val: time.Now()}}
		if fault != nil {
			changes = append(changes,
				types.PropertyChange{Name: "info.error", Val: &types.LocalizedMethodFault{Fault: fault, LocalizedMessage: faultMessage(fault)}},
				types.PropertyChange{Name: "info.state", Val: types.TaskInfoStateError})
		} else {
			if res != nil {
				changes = append(changes, types.PropertyChange{Name: "info.result", Val: res})
			}
			changes = append(changes,
				types.PropertyChange{Name: "info.progress", Val: int32(100)},
				types.PropertyChange{Name: "info.state", Val: types.TaskInfoStateSuccess})
		}
		ctx.Update(t, changes)
	})
}

// sleepLab waits d of lab time; it returns false if the vCenter is closing.
func (v *VCenter) sleepLab(d time.Duration) bool {
	if d <= 0 {
		select {
		case <-v.closing:
			return false
		default:
			return true
		}
	}
	ch := make(chan struct{})
	tm := v.clock.AfterFunc(d, func() { close(ch) })
	select {
	case <-ch:
		return true
	case <-v.closing:
		tm.Stop()
		return false
	}
}

// taskOverride handles Task methods.
type taskOverride struct{ overrideBase }

// CancelTask cancels a running lab task that is cancelable (a power-on waiting for its question to
// be answered); other tasks are not cancelable, as most vCenter tasks are not.
func (o *taskOverride) CancelTask(ctx *simulator.Context, req *types.CancelTask) soap.HasFault {
	body := &methods.CancelTaskBody{}
	t, ok := o.v.reg.Get(req.This).(*simulator.Task)
	if !ok {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	var done bool
	ctx.WithLock(t, func() {
		done = t.Info.State == types.TaskInfoStateSuccess || t.Info.State == types.TaskInfoStateError
	})
	if done {
		body.Fault_ = simulator.Fault("The operation is not allowed in the current state.", &types.InvalidState{})
		return body
	}
	lt := o.v.tasks()
	lt.mu.Lock()
	cancel := lt.cancel[req.This]
	lt.mu.Unlock()
	if cancel == nil {
		body.Fault_ = simulator.Fault("The operation is not supported on the object.", &types.NotSupported{})
		return body
	}
	if !cancel() {
		body.Fault_ = simulator.Fault("The operation is not allowed in the current state.", &types.InvalidState{})
		return body
	}
	body.Res = new(types.CancelTaskResponse)
	return body
}

// taskGuard watches the registry for tasks started by stock simulator methods: their work is run
// under a recover (a panic fails the task instead of ending the process) and gets the failure the
// fault injector armed for it.
type taskGuard struct {
	mo.ExtensibleManagedObject
	v *VCenter
}

func (g *taskGuard) PutObject(_ *simulator.Context, obj mo.Reference) {
	t, ok := obj.(*simulator.Task)
	if !ok || t.Execute == nil {
		return
	}
	var armed types.BaseMethodFault
	if t.Info.Entity != nil {
		armed = g.v.faults.takeArmed(*t.Info.Entity)
	}
	run := t.Execute
	name := t.Info.Name
	t.Execute = func(task *simulator.Task) (res types.AnyType, fault types.BaseMethodFault) {
		defer func() {
			if r := recover(); r != nil {
				g.v.log.Error("simulator task panicked", "task", name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				res, fault = nil, &types.SystemError{Reason: "internal error in " + name}
			}
		}()
		if armed != nil {
			return nil, armed
		}
		res, fault = run(task)
		if e := task.Info.Entity; e != nil && e.Type == "VirtualMachine" {
			g.v.followHost(*e)
		}
		return res, fault
	}
}

// followHost records a VM's host after a stock simulator task (relocate, migrate) may have moved
// it. It runs on the task's goroutine, which holds the VM's lock.
func (v *VCenter) followHost(ref types.ManagedObjectReference) {
	vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
	if !ok || vm.Runtime.Host == nil {
		return
	}
	host := *vm.Runtime.Host
	v.mu.Lock()
	if st := v.vms[ref]; st != nil {
		st.host = host
	}
	v.mu.Unlock()
}

func (g *taskGuard) UpdateObject(*simulator.Context, mo.Reference, []types.PropertyChange) {}
func (g *taskGuard) RemoveObject(*simulator.Context, types.ManagedObjectReference)         {}
