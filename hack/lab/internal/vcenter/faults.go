package vcenter

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// DownMode is how an unreachable vCenter behaves towards its clients.
type DownMode int32

const (
	// Up is normal service.
	Up DownMode = iota
	// DownReset refuses service: TLS handshakes fail and requests on open connections are answered
	// by closing the connection, like a host that resets connections.
	DownReset
	// DownHang accepts connections but never answers, like a host that has dropped off the network:
	// clients see their own timeouts. Held connections are closed when the vCenter comes back up.
	DownHang
)

func (m DownMode) String() string {
	switch m {
	case Up:
		return "up"
	case DownReset:
		return "reset"
	case DownHang:
		return "hang"
	}
	return fmt.Sprintf("DownMode(%d)", int32(m))
}

// faults is the vCenter's fault-injection state.
type faults struct {
	mu        sync.Mutex
	delays    map[string]time.Duration
	durations map[string]time.Duration
	nextTask  map[string][]types.BaseMethodFault
	nextCall  map[string][]types.BaseMethodFault
	armed     map[types.ManagedObjectReference][]types.BaseMethodFault
}

func (f *faults) init(o Options) {
	f.delays = map[string]time.Duration{}
	f.durations = map[string]time.Duration{}
	f.nextTask = map[string][]types.BaseMethodFault{}
	f.nextCall = map[string][]types.BaseMethodFault{}
	f.armed = map[types.ManagedObjectReference][]types.BaseMethodFault{}
	for k, d := range o.MethodDelays {
		f.delays[k] = d
	}
	for k, d := range o.TaskDurations {
		f.durations[k] = d
	}
}

func (f *faults) delay(method string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.delays[method]
}

func (f *faults) taskDuration(method string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.durations[method]
}

func pop(m map[string][]types.BaseMethodFault, key string) types.BaseMethodFault {
	q := m[key]
	if len(q) == 0 {
		return nil
	}
	if len(q) == 1 {
		delete(m, key)
	} else {
		m[key] = q[1:]
	}
	return q[0]
}

func (f *faults) takeTaskFault(method string) types.BaseMethodFault {
	f.mu.Lock()
	defer f.mu.Unlock()
	return pop(f.nextTask, method)
}

func (f *faults) takeCallFault(method string) types.BaseMethodFault {
	f.mu.Lock()
	defer f.mu.Unlock()
	return pop(f.nextCall, method)
}

// hasTaskFault reports whether a failure is armed for the next task of method.
func (f *faults) hasTaskFault(method string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.nextTask[method]) > 0
}

// arm moves the next task failure of method onto the entity whose stock simulator task is about
// to be created (see taskGuard).
func (f *faults) arm(method string, entity types.ManagedObjectReference) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fault := pop(f.nextTask, method); fault != nil {
		f.armed[entity] = append(f.armed[entity], fault)
	}
}

func (f *faults) takeArmed(entity types.ManagedObjectReference) types.BaseMethodFault {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.armed[entity]
	if len(q) == 0 {
		return nil
	}
	if len(q) == 1 {
		delete(f.armed, entity)
	} else {
		f.armed[entity] = q[1:]
	}
	return q[0]
}

// SetMethodDelay makes every call of the SOAP method wait d (real time) before it is handled, as
// a slow vCenter or network would. d <= 0 removes the delay.
func (v *VCenter) SetMethodDelay(method string, d time.Duration) {
	v.faults.mu.Lock()
	defer v.faults.mu.Unlock()
	if d <= 0 {
		delete(v.faults.delays, method)
		return
	}
	v.faults.delays[method] = d
}

// SetTaskDuration keeps every task started by the SOAP method (e.g. "PowerOnVM_Task") running for
// d of lab time before it does its work. It applies to the tasks the lab runs itself:
// PowerOnVM_Task, PowerOffVM_Task, ResetVM_Task, SuspendVM_Task, RegisterVM_Task, CreateVM_Task,
// ReconfigVM_Task, Rename_Task (VMs), CustomizeVM_Task, Destroy_Task (VMs, VM folders,
// datastores), MoveIntoFolder_Task, SearchDatastore_Task and SearchDatastoreSubFolders_Task.
// d <= 0 removes it.
func (v *VCenter) SetTaskDuration(method string, d time.Duration) {
	v.faults.mu.Lock()
	defer v.faults.mu.Unlock()
	if d <= 0 {
		delete(v.faults.durations, method)
		return
	}
	v.faults.durations[method] = d
}

// FailNextTask makes the next task started by the SOAP method end in error with fault (after its
// configured duration, without doing its work). Calls queue up: n calls fail the next n tasks.
// method may name one entity, "PowerOnVM_Task@HR-App2": then only that entity's tasks fail.
func (v *VCenter) FailNextTask(method string, fault types.BaseMethodFault) {
	if fault == nil {
		fault = &types.SystemError{Reason: "injected failure"}
	}
	v.faults.mu.Lock()
	defer v.faults.mu.Unlock()
	v.faults.nextTask[method] = append(v.faults.nextTask[method], fault)
}

// FailNextCall makes the next authenticated call of the SOAP method return fault as a SOAP fault
// instead of being handled. Calls queue up.
func (v *VCenter) FailNextCall(method string, fault types.BaseMethodFault) {
	if fault == nil {
		fault = &types.SystemError{Reason: "injected failure"}
	}
	v.faults.mu.Lock()
	defer v.faults.mu.Unlock()
	v.faults.nextCall[method] = append(v.faults.nextCall[method], fault)
}

// ClearFaults removes every delay, task duration and pending injected failure, including those
// set through Options.
func (v *VCenter) ClearFaults() {
	v.faults.mu.Lock()
	defer v.faults.mu.Unlock()
	v.faults.delays = map[string]time.Duration{}
	v.faults.durations = map[string]time.Duration{}
	v.faults.nextTask = map[string][]types.BaseMethodFault{}
	v.faults.nextCall = map[string][]types.BaseMethodFault{}
	v.faults.armed = map[types.ManagedObjectReference][]types.BaseMethodFault{}
}

// SetDown takes the vCenter off the network (DownReset, DownHang) or brings it back (Up). Its state
// is untouched: sessions stay valid, tasks keep running.
func (v *VCenter) SetDown(mode DownMode) {
	v.srvMu.Lock()
	defer v.srvMu.Unlock()
	prev := DownMode(v.down.Swap(int32(mode)))
	if prev == Up && mode != Up {
		v.downCh = make(chan struct{})
	}
	if prev != Up && mode == Up {
		close(v.downCh)
	}
}

// Down reports how the vCenter currently answers.
func (v *VCenter) Down() DownMode { return DownMode(v.down.Load()) }

// upChan returns a channel closed when the vCenter is (back) up.
func (v *VCenter) upChan() chan struct{} {
	v.srvMu.Lock()
	defer v.srvMu.Unlock()
	return v.downCh
}

// Restart simulates a vCenter (vpxd) restart: for `outage` the server resets every connection,
// and every session that existed before, with its views, property filters and update versions,
// is gone (its calls fail with NotAuthenticated); clients must log in again and recreate them.
// The inventory itself survives, as it does in vCenter's database. Restart blocks for `outage`.
func (v *VCenter) Restart(outage time.Duration) {
	v.SetDown(DownReset)
	v.revokedBefore.Store(time.Now().UnixNano())
	select {
	case <-time.After(outage):
	case <-v.closing:
	}
	v.SetDown(Up)
}

// NewFault returns a zero-valued VIM fault of the named type (for example "InvalidState",
// "FileNotFound", "NotAuthenticated"), for FailNextTask and FailNextCall.
func NewFault(name string) (types.BaseMethodFault, error) {
	t, ok := types.TypeFunc()(strings.TrimSuffix(name, "Fault"))
	if !ok {
		t, ok = types.TypeFunc()(name)
	}
	if !ok || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("unknown fault type %q", name)
	}
	f, ok := reflect.New(t).Interface().(types.BaseMethodFault)
	if !ok {
		return nil, fmt.Errorf("%q is not a fault type", name)
	}
	return f, nil
}

// faultName is the VIM type name of a fault.
func faultName(f types.BaseMethodFault) string {
	t := reflect.TypeOf(f)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// faultMessage is the text a vCenter puts in faultstring and TaskInfo.error.localizedMessage.
func faultMessage(f types.BaseMethodFault) string {
	switch x := f.(type) {
	case *types.InvalidPowerState:
		return fmt.Sprintf("The attempted operation cannot be performed in the current state (%s).", powerStateText(x.ExistingState))
	case *types.InvalidArgument:
		if x.InvalidProperty != "" {
			return "A specified parameter was not correct: " + x.InvalidProperty
		}
		return "A specified parameter was not correct: "
	case *types.ManagedObjectNotFound:
		return fmt.Sprintf("The object 'vim.%s:%s' has already been deleted or has not been completely created", x.Obj.Type, x.Obj.Value)
	case *types.FileNotFound:
		return fmt.Sprintf("File %s was not found", x.File)
	case *types.AlreadyExists:
		return fmt.Sprintf("The specified key, name, or identifier '%s' already exists.", x.Name)
	case *types.DuplicateName:
		return fmt.Sprintf("The name '%s' already exists.", x.Name)
	case *types.InvalidName:
		return fmt.Sprintf("Name '%s' is invalid.", x.Name)
	case *types.InvalidDatastorePath:
		return fmt.Sprintf("Invalid datastore path '%s'.", x.DatastorePath)
	case *types.InvalidDatastore:
		return fmt.Sprintf("The datastore '%s' is not accessible.", x.Name)
	case *types.NicSettingMismatch:
		return fmt.Sprintf("The number of network adapter settings in the customization specification: %d does not match the number of network adapters present in the virtual machine: %d.", x.NumberOfNicsInSpec, x.NumberOfNicsInVM)
	case *types.ResourceInUse:
		return fmt.Sprintf("The resource '%s' is in use.", x.Name)
	case *types.SystemError:
		return "A general system error occurred: " + x.Reason
	case *types.InvalidDeviceSpec:
		return fmt.Sprintf("Invalid configuration for device '%d'.", x.DeviceIndex)
	case *types.InvalidDeviceBacking:
		return fmt.Sprintf("Invalid configuration for device '%d'.", x.DeviceIndex)
	case *types.GenericVmConfigFault:
		return x.Reason
	}
	return faultTextByName(faultName(f))
}

// faultTextByName gives the fixed text of faults whose message has no parameters.
func faultTextByName(name string) string {
	switch name {
	case "InvalidState":
		return "The operation is not allowed in the current state."
	case "NotAuthenticated":
		return "The session is not authenticated."
	case "InvalidLogin":
		return "Cannot complete login due to an incorrect user name or password."
	case "NotSupported":
		return "The operation is not supported on the object."
	case "InvalidRequest":
		return "The request refers to an unexpected or unknown type."
	case "MethodNotFound":
		return "The requested method is not implemented."
	case "TaskInProgress":
		return "The object is busy completing another operation."
	case "CustomizationPending":
		return "Customization of the guest operating system is already pending."
	case "ToolsUnavailable":
		return "Cannot complete operation because VMware Tools is not running in this virtual machine."
	case "RequestCanceled":
		return "The task was canceled by a user."
	case "NotFound":
		return "The object or item referred to could not be found."
	case "InvalidVmConfig":
		return "Invalid virtual machine configuration."
	case "HostConfigFault":
		return "An error occurred during host configuration."
	case "InvalidCollectorVersion":
		return "The collector version is invalid."
	case "InvalidProperty":
		return "The property is not valid."
	case "InvalidType":
		return "The type is not valid."
	case "ManagedObjectNotFound":
		return "The object has already been deleted or has not been completely created"
	case "SystemError":
		return "A general system error occurred."
	}
	return "vim.fault." + name
}

func powerStateText(s types.VirtualMachinePowerState) string {
	switch s {
	case types.VirtualMachinePowerStatePoweredOn:
		return "Powered on"
	case types.VirtualMachinePowerStatePoweredOff:
		return "Powered off"
	case types.VirtualMachinePowerStateSuspended:
		return "Suspended"
	}
	return string(s)
}

// soapFault wraps a fault with its vCenter message.
func soapFault(f types.BaseMethodFault) *soap.Fault { return simulator.Fault(faultMessage(f), f) }

func invalidArgument(prop string) *soap.Fault {
	return soapFault(&types.InvalidArgument{InvalidProperty: prop})
}
