package vcenter

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/clock"
	"vmdr.local/lab/internal/fabric"
	"vmdr.local/lab/internal/topology"
)

// BenchmarkStartup measures how long both sites take to build and how much memory they hold, at
// 1,000 and 10,000 VMs per protection group:
//
//	go test -run '^$' -bench Startup -benchtime 1x ./internal/vcenter/
func BenchmarkStartup(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("VMsPerGroup=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				runtime.GC()
				debug.FreeOSMemory()
				before := rssKB()
				w := topology.VMbook(topology.Options{VMsPerGroup: n, DatastoresPerGroup: 4})
				f := newStaticFabric(b, w)
				clk := clock.New()
				start := time.Now()
				var vcs []*VCenter
				total := 0
				for _, s := range w.Sites {
					v, err := New(s, f, clk, Options{})
					if err != nil {
						b.Fatal(err)
					}
					vcs = append(vcs, v)
					total += len(s.VMs)
				}
				elapsed := time.Since(start)
				runtime.GC()
				debug.FreeOSMemory()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				rss := rssKB()
				b.ReportMetric(elapsed.Seconds(), "startup-s")
				b.ReportMetric(float64(rss-before)/1024, "rss-delta-MiB")
				b.ReportMetric(float64(rss)/1024, "rss-MiB")
				b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
				b.Logf("%d VMs in %v; RSS %d MiB (+%d MiB), heap %d MiB, %d goroutines", total, elapsed, rss/1024, (rss-before)/1024, ms.HeapAlloc>>20, runtime.NumGoroutine())
				for _, v := range vcs {
					_ = v.Close()
				}
			}
		})
	}
}

func rssKB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmRSS:") {
			n, _ := strconv.ParseInt(strings.Fields(sc.Text())[1], 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkInventoryWatch measures, at 1,000 and 10,000 VMs per group, a full paged inventory read
// through a ContainerView and the latency of a power-state change through WaitForUpdatesEx:
//
//	go test -run '^$' -bench InventoryWatch -benchtime 1x ./internal/vcenter/
func BenchmarkInventoryWatch(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("VMsPerGroup=%d", n), func(b *testing.B) {
			ctx := context.Background()
			l := newLab(b, topology.Options{VMsPerGroup: n, DatastoresPerGroup: 4}, Options{GuestBootTime: -1})
			c := l.client(b, topology.Site1)
			for i := 0; i < b.N; i++ {
				cv, err := view.NewManager(c.Client).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
				if err != nil {
					b.Fatal(err)
				}
				spec := types.PropertyFilterSpec{
					ObjectSet: []types.ObjectSpec{{Obj: cv.Reference(), Skip: types.NewBool(true), SelectSet: []types.BaseSelectionSpec{
						&types.TraversalSpec{Type: "ContainerView", Path: "view", Skip: types.NewBool(false)}}}},
					PropSet: []types.PropertySpec{{Type: "VirtualMachine", PathSet: []string{"name", "parent", "config.instanceUuid",
						"config.files.vmPathName", "runtime.powerState", "runtime.question", "datastore", "network"}}},
				}
				start := time.Now()
				pc := c.PropertyCollector().Reference()
				res, err := methods.RetrievePropertiesEx(ctx, c.Client, &types.RetrievePropertiesEx{This: pc, SpecSet: []types.PropertyFilterSpec{spec}, Options: types.RetrieveOptions{MaxObjects: 1000}})
				if err != nil {
					b.Fatal(err)
				}
				total := len(res.Returnval.Objects)
				for tok := res.Returnval.Token; tok != ""; {
					next, err := methods.ContinueRetrievePropertiesEx(ctx, c.Client, &types.ContinueRetrievePropertiesEx{This: pc, Token: tok})
					if err != nil {
						b.Fatal(err)
					}
					total += len(next.Returnval.Objects)
					tok = next.Returnval.Token
				}
				read := time.Since(start)

				pcol, err := property.DefaultCollector(c.Client).Create(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := pcol.CreateFilter(ctx, types.CreateFilter{Spec: spec}); err != nil {
					b.Fatal(err)
				}
				secs := int32(30)
				version := ""
				start = time.Now()
				for {
					r, err := methods.WaitForUpdatesEx(ctx, c.Client, &types.WaitForUpdatesEx{This: pcol.Reference(), Version: version, Options: &types.WaitOptions{MaxWaitSeconds: &secs}})
					if err != nil {
						b.Fatal(err)
					}
					version = r.Returnval.Version
					if r.Returnval.Truncated == nil || !*r.Returnval.Truncated {
						break
					}
				}
				initial := time.Since(start)
				vm := mustVM(b, finder(b, c, topology.Site1Datacenter), "Desktops/Desktop-01")
				start = time.Now()
				task, _ := vm.PowerOff(ctx)
				if _, err := waitTask(b, task); err != nil {
					b.Fatal(err)
				}
				seen := false
				for !seen {
					r, err := methods.WaitForUpdatesEx(ctx, c.Client, &types.WaitForUpdatesEx{This: pcol.Reference(), Version: version, Options: &types.WaitOptions{MaxWaitSeconds: &secs}})
					if err != nil || r.Returnval == nil {
						b.Fatal(err)
					}
					version = r.Returnval.Version
					for _, fs := range r.Returnval.FilterSet {
						for _, ou := range fs.ObjectSet {
							seen = seen || ou.Obj == vm.Reference()
						}
					}
				}
				latency := time.Since(start)
				b.ReportMetric(read.Seconds(), "read-s")
				b.ReportMetric(initial.Seconds(), "initial-wait-s")
				b.ReportMetric(latency.Seconds()*1000, "update-ms")
				b.Logf("%d VMs: paged read %v, initial WaitForUpdatesEx pages %v, power-off seen after %v", total, read, initial, latency)
				_ = pcol.Destroy(ctx)
			}
		})
	}
}

// BenchmarkRegisterPowerOn measures, at Site 2 after a break, registering every VM of a replicated
// datastore and powering them on (answering the question) with 16 clients at a time:
//
//	go test -run '^$' -bench RegisterPowerOn -benchtime 1x ./internal/vcenter/
func BenchmarkRegisterPowerOn(b *testing.B) {
	ctx := context.Background()
	l := newLab(b, topology.Options{VMsPerGroup: 1000, DatastoresPerGroup: 2}, Options{GuestBootTime: -1})
	replicate(b, l.fabric, topology.Site1, "RG1FV1", topology.Site2, "RG1FV1_SM")
	l.fabric.update(b, topology.Site2, "RG1FV1_SM", func(d *fabric.Device) { d.Writable = true })
	c := l.client(b, topology.Site2)
	f := finder(b, c, topology.Site2Datacenter)
	for _, n := range []string{"bcdr1.site2.vmbook.lab", "bcdr2.site2.vmbook.lab"} {
		h, _ := f.HostSystem(ctx, n)
		ss, _ := h.ConfigManager().StorageSystem(ctx)
		if err := ss.RescanAllHba(ctx); err != nil {
			b.Fatal(err)
		}
	}
	var paths []string
	for _, vm := range l.world.Sites[0].VMs {
		if vm.Datastore == "RP1" {
			paths = append(paths, fmt.Sprintf("[RP1] %s/%s.vmx", vmDirName(vm.Name), vmDirName(vm.Name)))
		}
	}
	dc, _ := f.Datacenter(ctx, topology.Site2Datacenter)
	folders, _ := dc.Folders(ctx)
	pool, _ := f.ResourcePool(ctx, topology.Site2BCDRCluster+"/Resources")
	const workers = 16
	parallel := func(n int, do func(i int) error) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		next := make(chan int)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					if err := do(i); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		return time.Since(start)
	}
	for i := 0; i < b.N; i++ {
		vms := make([]*object.VirtualMachine, len(paths))
		reg := parallel(len(paths), func(i int) error {
			task, err := folders.VmFolder.RegisterVM(ctx, paths[i], "", false, pool, nil)
			if err != nil {
				return err
			}
			res, err := task.WaitForResult(ctx, nil)
			if err != nil {
				return err
			}
			vms[i] = object.NewVirtualMachine(c.Client, res.Result.(types.ManagedObjectReference))
			return nil
		})
		on := parallel(len(vms), func(i int) error {
			task, err := vms[i].PowerOn(ctx)
			if err != nil {
				return err
			}
			for {
				var m mo.VirtualMachine
				if err := vms[i].Properties(ctx, vms[i].Reference(), []string{"runtime.question"}, &m); err != nil {
					return err
				}
				if q := m.Runtime.Question; q != nil {
					if err := vms[i].Answer(ctx, q.Id, AnswerMoved); err != nil {
						return err
					}
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			return task.Wait(ctx)
		})
		b.ReportMetric(float64(len(paths))/reg.Seconds(), "registers/s")
		b.ReportMetric(float64(len(paths))/on.Seconds(), "power-ons/s")
		b.Logf("%d VMs: registered in %v (%.0f/s), powered on with the question answered in %v (%.0f/s), %d clients",
			len(paths), reg, float64(len(paths))/reg.Seconds(), on, float64(len(paths))/on.Seconds(), workers)
	}
}
