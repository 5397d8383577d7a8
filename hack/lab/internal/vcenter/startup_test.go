package vcenter

import (
	"context"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/topology"
)

func TestTwoSitesStart(t *testing.T) {
	l := newLab(t, topology.DefaultOptions(), Options{})
	ctx := context.Background()
	c1 := l.client(t, topology.Site1)
	c2 := l.client(t, topology.Site2)
	if c1.ServiceContent.About.InstanceUuid == c2.ServiceContent.About.InstanceUuid {
		t.Fatal("both vCenters report the same instance UUID")
	}
	tr1 := l.vc[topology.Site1].Truth()
	tr2 := l.vc[topology.Site2].Truth()
	t.Logf("site1: %d VMs, datastores %v", len(tr1.VMs), dsNames(tr1))
	t.Logf("site2: %d VMs, datastores %v", len(tr2.VMs), dsNames(tr2))
	s1, _ := l.world.Site(topology.Site1)
	if len(tr1.VMs) != len(s1.VMs) {
		t.Fatalf("site1 has %d VMs, want %d", len(tr1.VMs), len(s1.VMs))
	}
	f1 := finder(t, c1, topology.Site1Datacenter)
	vm := mustVM(t, f1, "Protection Group 1/Database/HR Database")
	m := vmProps(t, vm, "config", "runtime", "guest")
	if m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		t.Fatalf("power state %s", m.Runtime.PowerState)
	}
	if m.Config.InstanceUuid != topology.UUIDFor("instance", "site1/HR Database") {
		t.Fatalf("instance uuid %s", m.Config.InstanceUuid)
	}
	if m.Guest.IpAddress == "" || m.Guest.ToolsRunningStatus != "guestToolsRunning" {
		t.Fatalf("guest %+v", m.Guest)
	}
	hosts, err := f1.HostSystemList(ctx, "*")
	if err != nil {
		t.Fatal(err)
	}
	var hs mo.HostSystem
	if err := hosts[0].Properties(ctx, hosts[0].Reference(), []string{"config.storageDevice"}, &hs); err != nil {
		t.Fatal(err)
	}
	_ = object.NewReference
}

func dsNames(t Truth) []string {
	var out []string
	for _, d := range t.Datastores {
		out = append(out, d.Name)
	}
	return out
}
