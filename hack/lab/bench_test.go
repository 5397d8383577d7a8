package main

// Benchmarks of the whole program (issue 3, "Benchmark"). They print numbers and assert none:
//
//	go test -run '^$' -bench . -benchtime 1x .
//
// BenchmarkProgramStartup starts the real program as a child process (both vCenters, both
// arrays, seeding the SnapMirror baselines) at 1,000 and 10,000 VMs per protection group and
// reports the time until lab.json appears, the process's resident memory then and at its peak,
// and the size of its state directory (the volumes are real files: a slow disk shows here).
//
// BenchmarkRegisterPowerOn breaks RG1FV1_SM, rescans, and registers and powers on (answering the
// moved-or-copied question) every VM of datastore RP1 at Site 2 with a fixed number of concurrent
// clients, with vCenter method delays off and on. Knobs (environment):
//
//	VMDR_LAB_BENCH_VMS_PER_GROUP  VMs per group (default 1000: 500 of them on RP1)
//	VMDR_LAB_BENCH_CONCURRENCY    concurrent clients (default 16)
//	VMDR_LAB_BENCH_DELAYS         the "on" delays (default RegisterVM_Task=200ms,PowerOnVM_Task=200ms,AnswerVM=100ms)

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/topology"
)

func BenchmarkProgramStartup(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("VMsPerGroup=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				dir := b.TempDir()
				start := time.Now()
				p := startProcess(b, dir, "--vms-per-group", strconv.Itoa(n))
				p.awaitReady(b, 15*time.Minute)
				ready := time.Since(start)
				rss, peak := procMemKB(p.cmd.Process.Pid)
				size, disk := dirBytes(dir)
				start = time.Now()
				if err := p.terminate(b); err != nil {
					b.Fatalf("exit: %v\n%s", err, p.stderr.String())
				}
				stopped := time.Since(start)
				self := ""
				if m := regexp.MustCompile(`lab ready in ([0-9.]+s)`).FindStringSubmatch(p.stdout.String()); m != nil {
					self = m[1]
				}
				b.ReportMetric(ready.Seconds(), "startup-s")
				b.ReportMetric(float64(rss)/1024, "rss-MiB")
				b.ReportMetric(float64(peak)/1024, "peak-rss-MiB")
				b.ReportMetric(float64(disk)/(1<<20), "state-disk-MiB")
				b.Logf("%d VMs per group (%d VMs in all): ready after %v (the program says %s), RSS %d MiB (peak %d MiB), state directory %d MiB of files taking %d MiB of disk, stopped %v after SIGTERM",
					n, 2*n+13, ready.Round(time.Millisecond), self, rss/1024, peak/1024, size>>20, disk>>20, stopped.Round(time.Millisecond))
			}
		})
	}
}

// procMemKB reads VmRSS and VmHWM of a process.
func procMemKB(pid int) (rss, peak int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			peak = n
		}
	}
	return rss, peak
}

// dirBytes returns the apparent size of the files below dir and the disk space they take (as
// du counts it: every small file costs at least a block).
func dirBytes(dir string) (size, onDisk int64) {
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			if !d.IsDir() {
				size += fi.Size()
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				onDisk += st.Blocks * 512
			}
		}
		return nil
	})
	return size, onDisk
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func BenchmarkRegisterPowerOn(b *testing.B) {
	perGroup := envInt("VMDR_LAB_BENCH_VMS_PER_GROUP", 1000)
	workers := envInt("VMDR_LAB_BENCH_CONCURRENCY", 16)
	on := os.Getenv("VMDR_LAB_BENCH_DELAYS")
	if on == "" {
		on = "RegisterVM_Task=200ms,PowerOnVM_Task=200ms,AnswerVM=100ms"
	}
	for _, mode := range []struct{ name, delays string }{{"delays=off", ""}, {"delays=on", on}} {
		b.Run(fmt.Sprintf("%s/concurrency=%d", mode.name, workers), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				e := startLab(b, "--vms-per-group", strconv.Itoa(perGroup), "--guest-boot", "-1ns", "--vcenter-method-delay", mode.delays)
				s2 := e.site(topology.Site2)
				e.setState(topology.Site2, smPath, "paused")
				e.setState(topology.Site2, smPath, "broken_off")
				s2.rescan(s2.hosts(topology.Site2BCDRCluster))
				ds := s2.datastore("RP1")
				if ds == nil {
					b.Fatal("no RP1 after break and rescan")
				}
				paths := s2.search(ds, true, "*.vmx")
				folder := s2.folder("Recovered")
				pool := s2.pool(topology.Site2BCDRCluster, "")
				vms := make([]*object.VirtualMachine, len(paths))
				ctx := e.ctx

				b.StartTimer()
				reg := parallel(b, workers, len(paths), func(i int) error {
					task, err := folder.RegisterVM(ctx, paths[i], "", false, pool, nil)
					if err != nil {
						return err
					}
					info, err := task.WaitForResult(ctx, nil)
					if err != nil {
						return err
					}
					vms[i] = object.NewVirtualMachine(s2.c.Client, info.Result.(types.ManagedObjectReference))
					return nil
				})
				pow := parallel(b, workers, len(vms), func(i int) error { return powerOnMoved(ctx, vms[i]) })
				b.StopTimer()

				n := float64(len(paths))
				b.ReportMetric(n/reg.Seconds(), "registers/s")
				b.ReportMetric(n/pow.Seconds(), "power-ons/s")
				b.Logf("%d VMs, %d clients, method delays %q: registered in %v (%.0f/s), powered on answering the question in %v (%.0f/s)",
					len(paths), workers, mode.delays, reg.Round(time.Millisecond), n/reg.Seconds(), pow.Round(time.Millisecond), n/pow.Seconds())
				e.r.stop()
			}
		})
	}
}

// parallel runs do(0..n-1) on `workers` goroutines and returns the wall time.
func parallel(b *testing.B, workers, n int, do func(i int) error) time.Duration {
	start := time.Now()
	next := make(chan int)
	var wg sync.WaitGroup
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

// powerOnMoved powers a VM on and answers its moved-or-copied question with "moved".
func powerOnMoved(ctx context.Context, vm *object.VirtualMachine) error {
	task, err := vm.PowerOn(ctx)
	if err != nil {
		return err
	}
	for {
		var m mo.VirtualMachine
		if err := vm.Properties(ctx, vm.Reference(), []string{"runtime.question"}, &m); err != nil {
			return err
		}
		if q := m.Runtime.Question; q != nil {
			if err := vm.Answer(ctx, q.Id, "1"); err != nil {
				return err
			}
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return task.Wait(ctx)
}
