package vcenter

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/topology"
)

func TestFaultInjection(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{GuestBootTime: -1})
	v := l.vc[topology.Site1]
	c := l.client(t, topology.Site1)
	now := func(ctx context.Context) error {
		_, err := methods.CurrentTime(ctx, c.Client, &types.CurrentTime{This: vim25.ServiceInstance})
		return err
	}

	v.SetMethodDelay("CurrentTime", 300*time.Millisecond)
	start := time.Now()
	if err := now(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("delayed call took %v", d)
	}
	v.SetMethodDelay("CurrentTime", 0)

	v.FailNextCall("CurrentTime", &types.NotAuthenticated{})
	err := now(ctx)
	if !fault.Is(err, &types.NotAuthenticated{}) || !strings.Contains(err.Error(), "not authenticated") {
		t.Fatalf("injected call fault: %v", err)
	}
	if err := now(ctx); err != nil {
		t.Fatal(err)
	}

	f := finder(t, c, topology.Site1Datacenter)
	vm := mustVM(t, f, "Desktops/Desktop-03")
	v.FailNextTask("PowerOffVM_Task", &types.TaskInProgress{})
	task, err := vm.PowerOff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitTask(t, task); !fault.Is(err, &types.TaskInProgress{}) {
		t.Fatalf("injected task fault: %v", err)
	}
	if st := vmProps(t, vm, "runtime.powerState").Runtime.PowerState; st != types.VirtualMachinePowerStatePoweredOn {
		t.Fatalf("failed power-off changed the VM: %s", st)
	}

	// A task of a stock simulator method fails the same way.
	injected, err := NewFault("InsufficientResourcesFault")
	if err != nil {
		t.Fatal(err)
	}
	v.FailNextTask("CreateSnapshot_Task", injected)
	task, err = vm.CreateSnapshot(ctx, "s1", "", false, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitTask(t, task); !fault.Is(err, &types.InsufficientResourcesFault{}) {
		t.Fatalf("injected fault on a simulator task: %v", err)
	}

	// Task duration on the lab clock.
	v.SetTaskDuration("PowerOffVM_Task", time.Minute)
	task, err = vm.PowerOff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	var ti mo.Task
	if err := task.Properties(ctx, task.Reference(), []string{"info"}, &ti); err != nil {
		t.Fatal(err)
	}
	if ti.Info.State != types.TaskInfoStateRunning || ti.Info.Name != "PowerOffVM_Task" || ti.Info.DescriptionId != "VirtualMachine.powerOff" {
		t.Fatalf("task info %+v", ti.Info)
	}
	l.clock.Advance(time.Minute)
	if _, err := waitTask(t, task); err != nil {
		t.Fatal(err)
	}
	if _, err := methods.CancelTask(ctx, c.Client, &types.CancelTask{This: task.Reference()}); err == nil {
		t.Fatal("cancel of a finished task accepted")
	}
	v.SetTaskDuration("PowerOffVM_Task", 0)

	// Down: connections are refused, then the same session works again.
	v.SetDown(DownReset)
	if err := now(ctx); err == nil {
		t.Fatal("call answered while down")
	}
	v.SetDown(Up)
	if err := now(ctx); err != nil {
		t.Fatalf("after coming back: %v", err)
	}
	v.SetDown(DownHang)
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err = now(tctx)
	cancel()
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung vCenter: %v", err)
	}
	v.SetDown(Up)
	if err := now(ctx); err != nil {
		t.Fatalf("after hanging: %v", err)
	}
	v.ClearFaults()
}

func TestAuthentication(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{})
	u := l.vc[topology.Site1].URL()
	u.User = url.UserPassword(testUser, "wrong")
	if _, err := newClient(ctx, u, l.pool); !fault.Is(err, &types.InvalidLogin{}) {
		t.Fatalf("wrong password: %v", err)
	}
	sc := soapClient(l.vc[topology.Site1].URL(), l.pool)
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	vm := object.NewVirtualMachine(vc, types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-1"})
	if _, err := vm.PowerOn(ctx); !fault.Is(err, &types.NotAuthenticated{}) {
		t.Fatalf("power-on without a session: %v", err)
	}
	var folder mo.Folder
	err = property.DefaultCollector(vc).RetrieveOne(ctx, vc.ServiceContent.RootFolder, []string{"name"}, &folder)
	if !fault.Is(err, &types.NotAuthenticated{}) {
		t.Fatalf("property read without a session: %v", err)
	}
	var sm mo.SessionManager
	if err := property.DefaultCollector(vc).RetrieveOne(ctx, *vc.ServiceContent.SessionManager, []string{"currentSession"}, &sm); (err != nil && !fault.Is(err, &types.NotAuthenticated{})) || sm.CurrentSession != nil {
		t.Fatalf("session probe without a session: %v %+v", err, sm.CurrentSession)
	}
	c := l.client(t, topology.Site1)
	l.clock.Advance(time.Hour)
	if now, err := methods.CurrentTime(ctx, c.Client, &types.CurrentTime{This: vim25.ServiceInstance}); err != nil || now.Returnval.Before(time.Now().Add(59*time.Minute)) {
		t.Fatalf("CurrentTime does not follow the lab clock: %v %v", now, err)
	}
	bogus := object.NewVirtualMachine(c.Client, types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-999999"})
	_, err = bogus.PowerOn(ctx)
	if !fault.Is(err, &types.ManagedObjectNotFound{}) || !strings.Contains(err.Error(), "has already been deleted") {
		t.Fatalf("unknown VM: %v", err)
	}
	override := object.NewVirtualMachine(c.Client, types.ManagedObjectReference{Type: overrideType, Value: "VirtualMachine"})
	if _, err := override.PowerOn(ctx); !fault.Is(err, &types.ManagedObjectNotFound{}) {
		t.Fatalf("call to the lab's override object: %v", err)
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := methods.CurrentTime(ctx, c.Client, &types.CurrentTime{This: vim25.ServiceInstance}); !isNotAuthenticated(err) {
		t.Fatalf("after logout: %v", err)
	}
}

func isNotAuthenticated(err error) bool {
	return err != nil && soap.IsSoapFault(err) && fault.Is(err, &types.NotAuthenticated{})
}
