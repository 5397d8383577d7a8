package vcenter

import (
	"context"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/topology"
)

func TestRestartDropsSessionsButKeepsInventory(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{})
	old := l.client(t, topology.Site1)
	l.vc[topology.Site1].Restart(50 * time.Millisecond)
	if _, err := methods.CurrentTime(ctx, old.Client, &types.CurrentTime{This: vim25.ServiceInstance}); !isNotAuthenticated(err) {
		t.Fatalf("a session from before the restart still works: %v", err)
	}
	fresh := l.client(t, topology.Site1)
	if _, err := find.NewFinder(fresh.Client).VirtualMachine(ctx, "/Site 1/vm/Protection Group 1/Database/HR Database"); err != nil {
		t.Fatalf("inventory lost across the restart: %v", err)
	}
}

func TestAddVMProvisionsAVMWithItsFiles(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{})
	ref, err := l.vc[topology.Site1].AddVM(topology.VM{
		Name: "HR-App9", Folder: "Protection Group 1/Application", ResourcePool: topology.HRPool,
		Datastore: "RP1", Portgroup: topology.Site1LAN, IP: "20.1.1.199", PoweredOn: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	vm, ok := l.vc[topology.Site1].VM("HR-App9")
	if !ok || vm.Ref != ref || vm.PowerState != "poweredOn" || vm.InstanceUUID != topology.UUIDFor("instance", "site1/HR-App9") {
		t.Fatalf("unexpected VM %+v (ref %s)", vm, ref)
	}
	c := l.client(t, topology.Site1)
	if _, err := find.NewFinder(c.Client).VirtualMachine(ctx, "/Site 1/vm/Protection Group 1/Application/HR-App9"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.vc[topology.Site1].AddVM(topology.VM{Name: "x", Datastore: "NOPE"}); err == nil {
		t.Fatal("a VM on an unknown datastore was accepted")
	}
}

func TestANewResourcePoolIsReportedToContainerViewWatchers(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{})
	c := l.client(t, topology.Site2)
	m := view.NewManager(c.Client)
	dc, err := find.NewFinder(c.Client).Datacenter(ctx, "Site 2")
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.CreateContainerView(ctx, dc.Reference(), []string{"ResourcePool"}, true)
	if err != nil {
		t.Fatal(err)
	}
	root, err := find.NewFinder(c.Client).ResourcePool(ctx, "/Site 2/host/Site2-BCDR/Resources")
	if err != nil {
		t.Fatal(err)
	}
	child, err := root.Create(ctx, "Site1-HRServers", types.DefaultResourceConfigSpec())
	if err != nil {
		t.Fatal(err)
	}
	var got mo.ContainerView
	if err := v.Properties(ctx, v.Reference(), []string{"view"}, &got); err != nil {
		t.Fatal(err)
	}
	for _, r := range got.View {
		if r == child.Reference() {
			return
		}
	}
	t.Fatalf("the container view does not list the new pool %s: %v", child.Reference(), got.View)
}
