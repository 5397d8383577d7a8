package vcenter

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/topology"
)

// TestDestroyChildrenRemovesNestedPoolsAndKeepsTheirVMs: DestroyChildren leaves no pool below the
// one it is called on, however deep, and a VM of a removed pool comes to that pool.
func TestDestroyChildrenRemovesNestedPoolsAndKeepsTheirVMs(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{GuestBootTime: -1})
	c := l.client(t, topology.Site1)
	f := finder(t, c, topology.Site1Datacenter)
	hr, err := f.ResourcePool(ctx, topology.Site1Cluster+"/Resources/"+topology.HRPool)
	if err != nil {
		t.Fatal(err)
	}
	outer, err := hr.Create(ctx, "Outer", types.DefaultResourceConfigSpec())
	if err != nil {
		t.Fatal(err)
	}
	inner, err := outer.Create(ctx, "Inner", types.DefaultResourceConfigSpec())
	if err != nil {
		t.Fatal(err)
	}
	var before mo.ResourcePool
	if err := hr.Properties(ctx, hr.Reference(), []string{"vm"}, &before); err != nil {
		t.Fatal(err)
	}
	folder, err := f.Folder(ctx, "vm/Protection Group 1/Application")
	if err != nil {
		t.Fatal(err)
	}
	task, err := folder.CreateVM(ctx, types.VirtualMachineConfigSpec{Name: "In-Inner", GuestId: "rhel9_64Guest",
		NumCPUs: 1, MemoryMB: 1024, Files: &types.VirtualMachineFileInfo{VmPathName: "[RP1]"}}, inner, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := waitTask(t, task)
	if err != nil {
		t.Fatalf("creating a VM in the inner pool: %v", err)
	}
	vm := object.NewVirtualMachine(c.Client, res.(types.ManagedObjectReference))

	if err := hr.DestroyChildren(ctx); err != nil {
		t.Fatal(err)
	}
	var after mo.ResourcePool
	if err := hr.Properties(ctx, hr.Reference(), []string{"resourcePool", "vm"}, &after); err != nil {
		t.Fatal(err)
	}
	if len(after.ResourcePool) != 0 {
		t.Errorf("pools left below HR: %v", after.ResourcePool)
	}
	if len(after.Vm) != len(before.Vm)+1 {
		t.Errorf("HR holds %d VMs after, %d before and one from the inner pool", len(after.Vm), len(before.Vm))
	}
	if got := vmProps(t, vm, "resourcePool").ResourcePool; got == nil || *got != hr.Reference() {
		t.Errorf("the VM of the inner pool is in %v, not HR", got)
	}
}

// TestConcurrentDestroyChildrenAnswers: calls on the same pool from several clients while pools
// are created under it all return. The simulator's own method could leave a child's destroy task
// holding the child while it waited for the pool that the next call held, and both hung.
func TestConcurrentDestroyChildrenAnswers(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{GuestBootTime: -1})
	root, err := finder(t, l.client(t, topology.Site1), topology.Site1Datacenter).ResourcePool(ctx, topology.Site1Cluster+"/Resources/"+topology.HRPool)
	if err != nil {
		t.Fatal(err)
	}
	const clients, rounds = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, clients*rounds*2)
	for i := range clients {
		c := l.client(t, topology.Site1)
		pool := object.NewResourcePool(c.Client, root.Reference())
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				for k := range 3 {
					if _, err := pool.Create(cctx, fmt.Sprintf("c%d-r%d-%d", i, r, k), types.DefaultResourceConfigSpec()); err != nil {
						errs <- fmt.Errorf("client %d round %d create: %w", i, r, err)
					}
				}
				if err := pool.DestroyChildren(cctx); err != nil {
					errs <- fmt.Errorf("client %d round %d destroy: %w", i, r, err)
				}
				cancel()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("DestroyChildren calls hung") // a lock cycle; the calls themselves take milliseconds
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
