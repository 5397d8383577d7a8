// Command lab runs the VMbook's two datacenters as one world for the operator's tests, benchmarks
// and demo: a simulated vCenter and a simulated ONTAP cluster per site, coupled by a storage
// fabric and a replication network, served over HTTPS on loopback with a CA generated at start.
// A control API (plain HTTP on loopback) advances the lab clock, injects faults and reads ground
// truth. When ready it writes <state-dir>/lab.json describing every endpoint. See README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"vmdr.local/lab/internal/clock"
	"vmdr.local/lab/internal/ontap"
	"vmdr.local/lab/internal/topology"
	"vmdr.local/lab/internal/vcenter"
)

type config struct {
	stateDir          string
	listen            string
	vmsPerGroup       int
	datastoresPerGrp  int
	ontapVersion      string
	ontapJobTime      time.Duration
	throughputMiB     int64
	ontapOptions      []string // NAME=VALUE settings of ontap.Options fields (--ontap-option)
	vcenterOptions    []string // NAME=VALUE settings of vcenter.Options' behaviour fields (--vcenter-option)
	vcenterDelays     string
	vcenterTaskTimes  string
	guestBoot         time.Duration
	standardPortgroup bool
	mountByLabel      bool
	hostCores         map[string]int // --host-cores site2=8
	hostMemoryGB      map[string]int // --host-memory-gb site2=48
	logLevel          string
	logOut            io.Writer // where slog writes; nil means os.Stderr
}

// Credentials every lab endpoint accepts (written to lab.json; they are test fixtures).
const (
	vcenterUser = "administrator@vsphere.local"
	vcenterPass = "VMware1!"
	ontapUser   = "admin"
	ontapPass   = "netapp1!"
)

func main() {
	c := parseFlags(os.Args[1:])
	if err := run(c); err != nil {
		fmt.Fprintf(os.Stderr, "lab: %v\n", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line; a bad flag or -h exits as the flag package does.
func parseFlags(args []string) config {
	var c config
	fs := flag.NewFlagSet("lab", flag.ExitOnError)
	fs.StringVar(&c.stateDir, "state-dir", "", "directory for volumes, certificates and lab.json (default: a new temporary directory)")
	fs.StringVar(&c.listen, "listen", "127.0.0.1", "address every endpoint listens on (ports are chosen freely)")
	fs.IntVar(&c.vmsPerGroup, "vms-per-group", 6, "VMs in each of the HR and Finance protection groups")
	fs.IntVar(&c.datastoresPerGrp, "datastores-per-group", 2, "VMFS datastores (volumes) per protection group")
	fs.StringVar(&c.ontapVersion, "ontap-version", "9.8.0", "ONTAP version both clusters report")
	fs.DurationVar(&c.ontapJobTime, "ontap-job-time", 0, "how long every ONTAP job runs (lab clock)")
	fs.Int64Var(&c.throughputMiB, "transfer-mibps", 100, "SnapMirror transfer throughput")
	fs.Func("ontap-option", "set an ONTAP simulator option, NAME=VALUE (a field of ontap.Options, e.g. CloneStopsReplication=true; repeatable)", func(s string) error {
		c.ontapOptions = append(c.ontapOptions, s)
		return applyOntapOptions(&ontap.Options{}, []string{s}) // reject a bad one at parse time
	})
	fs.Func("vcenter-option", "set a vCenter simulator option, NAME=VALUE (MountCopiesByLabel, KeepLostDevices; repeatable)", func(s string) error {
		c.vcenterOptions = append(c.vcenterOptions, s)
		return applyVCenterOptions(&vcenter.Options{}, []string{s})
	})
	fs.BoolVar(&c.mountByLabel, "mount-copies-by-label", false, "hosts mount VMFS copies under their label at a rescan (LVM.DisallowSnapshotLun=0, as in the VMbook) instead of listing them as unresolved")
	fs.StringVar(&c.vcenterDelays, "vcenter-method-delay", "", "per-method answer delays, e.g. PowerOnVM_Task=200ms,RegisterVM_Task=100ms")
	fs.StringVar(&c.vcenterTaskTimes, "vcenter-task-duration", "", "per-method task durations (lab clock), e.g. PowerOnVM_Task=2s")
	fs.DurationVar(&c.guestBoot, "guest-boot", 0, "time from power-on to tools running (lab clock; 0 = 2s, negative = at once)")
	fs.BoolVar(&c.standardPortgroup, "standard-portgroups", false, "standard vSwitch portgroups instead of one distributed switch per site")
	fs.Func("host-cores", "cores of every host of a site, SITE=N[,SITE=N] (default: sized to run every VM of the world)", func(s string) error {
		return parseSiteInts(s, &c.hostCores)
	})
	fs.Func("host-memory-gb", "memory (GB) of every host of a site, SITE=N[,SITE=N] (default: sized to run every VM of the world)", func(s string) error {
		return parseSiteInts(s, &c.hostMemoryGB)
	})
	fs.StringVar(&c.logLevel, "log-level", "warn", "debug, info, warn or error")
	_ = fs.Parse(args) // ExitOnError: never returns an error
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "lab: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		os.Exit(2)
	}
	return c
}

// parseSiteInts reads "site1=4,site2=8" into m (positive numbers of the lab's two sites).
func parseSiteInts(s string, m *map[string]int) error {
	if *m == nil {
		*m = map[string]int{}
	}
	for _, kv := range strings.Split(s, ",") {
		site, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.Atoi(val)
		if !ok || err != nil || n <= 0 || (site != topology.Site1 && site != topology.Site2) {
			return fmt.Errorf("%q: want site1=N or site2=N with N > 0", kv)
		}
		(*m)[site] = n
	}
	return nil
}

// run starts the lab, announces it and serves until SIGINT or SIGTERM.
func run(c config) error {
	// Listen for the signals before starting, so a stop during start-up is not lost.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	started := time.Now()
	r, err := start(c)
	if err != nil {
		return err
	}
	defer r.stop()
	fmt.Printf("lab ready in %.1fs: %s\n", time.Since(started).Seconds(), filepath.Join(r.desc.StateDir, "lab.json"))
	printEndpoints(os.Stdout, r.desc)
	<-sigs
	return nil
}

// running is a started lab: the world behind the control API, what lab.json describes, and what
// stop must undo.
type running struct {
	lab      *lab
	desc     description
	undo     []func() // in the order they were added; stop runs them backwards
	stopOnce sync.Once
}

// stop shuts the lab down: listeners first, then the vCenters, then the arrays (waiting for their
// transfers and jobs). It is idempotent. The state directory is left as it is.
func (r *running) stop() {
	r.stopOnce.Do(func() {
		for i := len(r.undo) - 1; i >= 0; i-- {
			r.undo[i]()
		}
	})
}

// start builds both sites, seeds replication, serves every endpoint and writes lab.json. On error
// everything started so far is stopped again.
func start(c config) (_ *running, err error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	if c.logOut == nil {
		c.logOut = os.Stderr
	}
	logger := slog.New(slog.NewTextHandler(c.logOut, &slog.HandlerOptions{Level: level}))
	log.SetOutput(io.Discard) // the simulator's chatter; our own diagnostics go through slog
	delays, err := parseDurations(c.vcenterDelays)
	if err != nil {
		return nil, fmt.Errorf("--vcenter-method-delay: %w", err)
	}
	taskTimes, err := parseDurations(c.vcenterTaskTimes)
	if err != nil {
		return nil, fmt.Errorf("--vcenter-task-duration: %w", err)
	}
	ontapOpts := ontap.Options{
		Version: c.ontapVersion, User: ontapUser, Password: ontapPass, JobRunTime: c.ontapJobTime, TransferThroughput: c.throughputMiB << 20,
	}
	if err := applyOntapOptions(&ontapOpts, c.ontapOptions); err != nil {
		return nil, fmt.Errorf("--ontap-option: %w", err)
	}
	if c.stateDir == "" {
		if c.stateDir, err = os.MkdirTemp("", "vmdr-lab-"); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(c.stateDir, 0o755); err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(c.stateDir, "lab.json"))

	r := &running{}
	defer func() {
		if err != nil {
			r.stop()
		}
	}()
	pki, err := newPKI(c.stateDir)
	if err != nil {
		return nil, err
	}
	clk := clock.New()
	world := topology.VMbook(topology.Options{
		VMsPerGroup: c.vmsPerGroup, DatastoresPerGroup: c.datastoresPerGrp, HostCores: c.hostCores, HostMemoryGB: c.hostMemoryGB,
	})
	storage, err := ontap.New(world, filepath.Join(c.stateDir, "storage"), clk, ontapOpts)
	if err != nil {
		return nil, fmt.Errorf("start ONTAP: %w", err)
	}
	r.undo = append(r.undo, storage.Close)

	l := &lab{clock: clk, storage: storage, world: world, vcenters: map[string]*vcenter.VCenter{}, pki: pki, stateDir: c.stateDir}
	r.lab = l
	for _, s := range world.Sites {
		vcOpts := vcenter.Options{
			User: vcenterUser, Password: vcenterPass, MethodDelays: delays, TaskDurations: taskTimes,
			GuestBootTime: c.guestBoot, StandardPortgroups: c.standardPortgroup, Logger: logger,
			MountCopiesByLabel: c.mountByLabel,
		}
		if err := applyVCenterOptions(&vcOpts, c.vcenterOptions); err != nil {
			return nil, fmt.Errorf("--vcenter-option: %w", err)
		}
		vc, err := vcenter.New(s, storage, clk, vcOpts)
		if err != nil {
			return nil, fmt.Errorf("start vCenter %s: %w", s.ID, err)
		}
		r.undo = append(r.undo, func() { _ = vc.Close() })
		ln, err := net.Listen("tcp", net.JoinHostPort(c.listen, "0"))
		if err != nil {
			return nil, err
		}
		if err := vc.Serve(ln, pki.serverConfig()); err != nil {
			_ = ln.Close()
			return nil, err
		}
		l.vcenters[s.ID] = vc
	}
	// The VMs exist now; the baseline transfers carry them to the replicas.
	if err := storage.Seed(context.Background()); err != nil {
		return nil, fmt.Errorf("seed SnapMirror relationships: %w", err)
	}

	serve := func(h http.Handler, tlsOn bool) (string, error) {
		ln, err := net.Listen("tcp", net.JoinHostPort(c.listen, "0"))
		if err != nil {
			return "", err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
		r.undo = append(r.undo, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if srv.Shutdown(ctx) != nil {
				_ = srv.Close()
			}
		})
		scheme := "http"
		if tlsOn {
			srv.TLSConfig = pki.serverConfig()
			scheme = "https"
			go func() { _ = srv.ServeTLS(ln, "", "") }()
		} else {
			go func() { _ = srv.Serve(ln) }()
		}
		return scheme + "://" + ln.Addr().String(), nil
	}
	desc := description{StateDir: c.stateDir, CAFile: pki.caFile, UntrustedCAFile: pki.untrustedFile, Sites: map[string]siteEndpoints{}}
	for _, s := range world.Sites {
		cl := storage.Cluster(s.ID)
		ontapURL, err := serve(cl.Handler(), true)
		if err != nil {
			return nil, err
		}
		vcURL := l.vcenters[s.ID].URL()
		desc.Sites[s.ID] = siteEndpoints{
			Datacenter: s.Datacenter,
			VCenter: endpoint{URL: "https://" + vcURL.Host, Username: vcenterUser, Password: vcenterPass,
				InstanceUUID: l.vcenters[s.ID].InstanceUUID()},
			ONTAP: endpoint{URL: ontapURL, Username: ontapUser, Password: ontapPass, Cluster: cl.Name(), SVM: cl.SVM()},
		}
	}
	if desc.Control, err = serve(l.controlHandler(), false); err != nil {
		return nil, err
	}
	l.desc = desc
	r.desc = desc
	if err := writeJSONAtomic(filepath.Join(c.stateDir, "lab.json"), desc); err != nil {
		return nil, err
	}
	return r, nil
}

// printEndpoints writes a human-readable summary of lab.json.
func printEndpoints(w io.Writer, d description) {
	fmt.Fprintf(w, "  control API  %s\n", d.Control)
	for _, id := range []string{topology.Site1, topology.Site2} {
		s, ok := d.Sites[id]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "  %s (%s)  vCenter %s/sdk (%s / %s)  ONTAP %s (%s / %s)\n", id, s.Datacenter,
			s.VCenter.URL, s.VCenter.Username, s.VCenter.Password, s.ONTAP.URL, s.ONTAP.Username, s.ONTAP.Password)
	}
	fmt.Fprintf(w, "  CA           %s\n", d.CAFile)
}

// description is lab.json: everything a client needs to reach the lab.
type description struct {
	Control         string                   `json:"control"`
	StateDir        string                   `json:"stateDir"`
	CAFile          string                   `json:"caFile"`
	UntrustedCAFile string                   `json:"untrustedCaFile"`
	Sites           map[string]siteEndpoints `json:"sites"`
}

type siteEndpoints struct {
	Datacenter string   `json:"datacenter"`
	VCenter    endpoint `json:"vcenter"`
	ONTAP      endpoint `json:"ontap"`
}

type endpoint struct {
	URL          string `json:"url"`
	Username     string `json:"username"`
	Password     string `json:"password"`
	InstanceUUID string `json:"instanceUuid,omitempty"`
	Cluster      string `json:"cluster,omitempty"`
	SVM          string `json:"svm,omitempty"`
}

func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// parseDurations reads "A=1s,B=200ms".
func parseDurations(s string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for _, kv := range strings.Split(s, ",") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not NAME=DURATION", kv)
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, err
		}
		out[strings.TrimSpace(k)] = d
	}
	return out, nil
}

// vcenterSettable are the vcenter.Options fields --vcenter-option sets (the others have flags
// of their own).
var vcenterSettable = map[string]bool{"mountcopiesbylabel": true, "keeplostdevices": true}

// applyVCenterOptions sets behaviour fields of vcenter.Options from NAME=VALUE strings.
func applyVCenterOptions(o *vcenter.Options, settings []string) error {
	for _, kv := range settings {
		name, _, _ := strings.Cut(kv, "=")
		if !vcenterSettable[strings.ToLower(strings.TrimSpace(name))] {
			return fmt.Errorf("no vCenter option %q (MountCopiesByLabel, KeepLostDevices)", strings.TrimSpace(name))
		}
	}
	return applyOptions(reflect.ValueOf(o).Elem(), settings, "vCenter")
}

// applyOntapOptions sets fields of o from NAME=VALUE strings (--ontap-option): booleans,
// integers, durations ("90s") and strings, by their Go field name (case-insensitive). Version,
// credentials and schedules have flags or fixed values of their own and are refused here.
func applyOntapOptions(o *ontap.Options, settings []string) error {
	for _, kv := range settings {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "version", "user", "password", "schedules":
			return fmt.Errorf("option %q cannot be set with --ontap-option", strings.TrimSpace(name))
		}
	}
	return applyOptions(reflect.ValueOf(o).Elem(), settings, "ONTAP")
}

// applyOptions sets struct fields by name (case-insensitive) from NAME=VALUE strings.
func applyOptions(rv reflect.Value, settings []string, what string) error {
	for _, kv := range settings {
		name, val, ok := strings.Cut(kv, "=")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if !ok || name == "" {
			return fmt.Errorf("%q is not NAME=VALUE", kv)
		}
		f := rv.FieldByNameFunc(func(n string) bool { return strings.EqualFold(n, name) })
		if !f.IsValid() {
			return fmt.Errorf("no %s option %q", what, name)
		}
		switch {
		case f.Type() == reflect.TypeOf(time.Duration(0)):
			d, err := time.ParseDuration(val)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			f.SetInt(int64(d))
		case f.Kind() == reflect.Bool:
			b, err := strconv.ParseBool(val)
			if err != nil {
				return fmt.Errorf("%s: %q is not a boolean", name, val)
			}
			f.SetBool(b)
		case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return fmt.Errorf("%s: %q is not an integer", name, val)
			}
			f.SetInt(n)
		case f.Kind() == reflect.String:
			f.SetString(val)
		default:
			return fmt.Errorf("option %q cannot be set from the command line", name)
		}
	}
	return nil
}
