package vcenter

import (
	"context"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/topology"
)

// A cluster reports its hosts' capacity in vCenter's units, as the operator's capacity pre-flight
// reads it: effectiveCpu in MHz over every core, effectiveMemory in MB, totalMemory in bytes; and
// a site's hosts take the size the options give them.
func TestClustersReportTheirHostsCapacityInVCenterUnits(t *testing.T) {
	o := topology.DefaultOptions()
	o.HostCores = map[string]int{topology.Site2: 8}
	o.HostMemoryGB = map[string]int{topology.Site2: 48}
	l := newLab(t, o, Options{GuestBootTime: -1})
	ctx := context.Background()
	c := l.client(t, topology.Site2)
	f := find.NewFinder(c.Client, false)
	dc, err := f.Datacenter(ctx, topology.Site2Datacenter)
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	cl, err := f.ClusterComputeResource(ctx, topology.Site2BCDRCluster)
	if err != nil {
		t.Fatal(err)
	}
	var got mo.ClusterComputeResource
	if err := cl.Properties(ctx, cl.Reference(), []string{"summary", "host"}, &got); err != nil {
		t.Fatal(err)
	}
	s := got.Summary.GetComputeResourceSummary()
	if s.NumHosts != 2 || s.NumCpuCores != 16 || s.EffectiveCpu != 16*topology.CoreMHz || s.TotalCpu != 16*topology.CoreMHz {
		t.Fatalf("cpu: hosts %d, cores %d, effectiveCpu %d MHz, totalCpu %d MHz; want 2 hosts, 16 cores, %d MHz", s.NumHosts, s.NumCpuCores, s.EffectiveCpu, s.TotalCpu, 16*topology.CoreMHz)
	}
	if s.EffectiveMemory != 2*48*1024 || s.TotalMemory != int64(2*48)<<30 {
		t.Fatalf("memory: effective %d MB, total %d bytes; want %d MB, %d bytes", s.EffectiveMemory, s.TotalMemory, 2*48*1024, int64(2*48)<<30)
	}
	var host mo.HostSystem
	if err := cl.Properties(ctx, got.Host[0], []string{"summary.hardware"}, &host); err != nil {
		t.Fatal(err)
	}
	if hw := host.Summary.Hardware; hw.NumCpuCores != 8 || hw.CpuMhz != topology.CoreMHz || hw.MemorySize != int64(48)<<30 {
		t.Fatalf("host hardware: %d cores at %d MHz, %d bytes", hw.NumCpuCores, hw.CpuMhz, hw.MemorySize)
	}
}

// Unsized, a site's hosts could each run every VM of the world, so no run in a test that does not
// ask for a small site is short of capacity.
func TestUnsizedHostsFitEveryVMOfTheWorld(t *testing.T) {
	w := topology.VMbook(topology.Options{VMsPerGroup: 500, DatastoresPerGroup: 2})
	var vcpus, memMB int64
	for _, s := range w.Sites {
		for _, v := range s.VMs {
			vcpus += int64(v.CPUs)
			memMB += int64(v.MemoryMB)
		}
	}
	for _, s := range w.Sites {
		for _, c := range s.Clusters {
			for _, h := range c.Hosts {
				if h.MemoryMB < memMB || int64(h.Cores)*4 < vcpus {
					t.Fatalf("%s: %d cores, %d MB for %d vCPUs and %d MB of VMs", h.Name, h.Cores, h.MemoryMB, vcpus, memMB)
				}
			}
		}
	}
}

// What the operator's MakeRoom and ReturnRoom change is counted as the crash tests count every
// change: a suspend once, a pool's limits once per change and not when set again as they are.
func TestSuspendAndPoolLimitChangesAreCountedOnce(t *testing.T) {
	l := newLab(t, topology.DefaultOptions(), Options{GuestBootTime: -1})
	ctx := context.Background()
	c := l.client(t, topology.Site2)
	f := find.NewFinder(c.Client, false)
	dc, err := f.Datacenter(ctx, topology.Site2Datacenter)
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	pool, err := f.ResourcePool(ctx, "/Site 2/host/Site2-Dev/Resources/Development")
	if err != nil {
		t.Fatal(err)
	}
	limit := int64(4096)
	spec := types.ResourceConfigSpec{MemoryAllocation: types.ResourceAllocationInfo{Limit: &limit}}
	for range 2 {
		if err := pool.UpdateConfig(ctx, "", &spec); err != nil {
			t.Fatal(err)
		}
	}
	var p mo.ResourcePool
	if err := pool.Properties(ctx, pool.Reference(), []string{"config.memoryAllocation.limit"}, &p); err != nil {
		t.Fatal(err)
	}
	if got := p.Config.MemoryAllocation.Limit; got == nil || *got != 4096 {
		t.Fatalf("memory limit %v, want 4096", got)
	}
	vm, err := f.VirtualMachine(ctx, "Dev-01")
	if err != nil {
		t.Fatal(err)
	}
	task, err := vm.Suspend(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	m := l.vc[topology.Site2].Mutations()
	if m["UpdateConfig "+pool.Reference().Value] != 1 || m["Suspend "+vm.Reference().Value] != 1 {
		t.Fatalf("mutations %v: want one UpdateConfig of the pool and one Suspend of Dev-01", m)
	}
}
