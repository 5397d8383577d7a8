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
	"strings"
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
	vcenterDelays     string
	vcenterTaskTimes  string
	guestBoot         time.Duration
	standardPortgroup bool
	logLevel          string
}

// Credentials every lab endpoint accepts (written to lab.json; they are test fixtures).
const (
	vcenterUser = "administrator@vsphere.local"
	vcenterPass = "VMware1!"
	ontapUser   = "admin"
	ontapPass   = "netapp1!"
)

func main() {
	var c config
	flag.StringVar(&c.stateDir, "state-dir", "", "directory for volumes, certificates and lab.json (default: a new temporary directory)")
	flag.StringVar(&c.listen, "listen", "127.0.0.1", "address every endpoint listens on (ports are chosen freely)")
	flag.IntVar(&c.vmsPerGroup, "vms-per-group", 6, "VMs in each of the HR and Finance protection groups")
	flag.IntVar(&c.datastoresPerGrp, "datastores-per-group", 2, "VMFS datastores (volumes) per protection group")
	flag.StringVar(&c.ontapVersion, "ontap-version", "9.8.0", "ONTAP version both clusters report")
	flag.DurationVar(&c.ontapJobTime, "ontap-job-time", 0, "how long every ONTAP job runs (lab clock)")
	flag.Int64Var(&c.throughputMiB, "transfer-mibps", 100, "SnapMirror transfer throughput")
	flag.StringVar(&c.vcenterDelays, "vcenter-method-delay", "", "per-method answer delays, e.g. PowerOnVM_Task=200ms,RegisterVM_Task=100ms")
	flag.StringVar(&c.vcenterTaskTimes, "vcenter-task-duration", "", "per-method task durations (lab clock), e.g. PowerOnVM_Task=2s")
	flag.DurationVar(&c.guestBoot, "guest-boot", 0, "time from power-on to tools running (lab clock; 0 = 2s, negative = at once)")
	flag.BoolVar(&c.standardPortgroup, "standard-portgroups", false, "standard vSwitch portgroups instead of one distributed switch per site")
	flag.StringVar(&c.logLevel, "log-level", "warn", "debug, info, warn or error")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintf(os.Stderr, "lab: %v\n", err)
		os.Exit(1)
	}
}

func run(c config) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	log.SetOutput(io.Discard) // the simulator's chatter; our own diagnostics go through slog
	delays, err := parseDurations(c.vcenterDelays)
	if err != nil {
		return fmt.Errorf("--vcenter-method-delay: %w", err)
	}
	taskTimes, err := parseDurations(c.vcenterTaskTimes)
	if err != nil {
		return fmt.Errorf("--vcenter-task-duration: %w", err)
	}
	if c.stateDir == "" {
		if c.stateDir, err = os.MkdirTemp("", "vmdr-lab-"); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(c.stateDir, 0o755); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(c.stateDir, "lab.json"))
	started := time.Now()

	pki, err := newPKI(c.stateDir)
	if err != nil {
		return err
	}
	clk := clock.New()
	world := topology.VMbook(topology.Options{VMsPerGroup: c.vmsPerGroup, DatastoresPerGroup: c.datastoresPerGrp})
	storage, err := ontap.New(world, filepath.Join(c.stateDir, "storage"), clk, ontap.Options{
		Version: c.ontapVersion, User: ontapUser, Password: ontapPass, JobRunTime: c.ontapJobTime, TransferThroughput: c.throughputMiB << 20,
	})
	if err != nil {
		return fmt.Errorf("start ONTAP: %w", err)
	}
	defer storage.Close()

	l := &lab{clock: clk, storage: storage, world: world, vcenters: map[string]*vcenter.VCenter{}, pki: pki, stateDir: c.stateDir}
	for _, s := range world.Sites {
		vc, err := vcenter.New(s, storage, clk, vcenter.Options{
			User: vcenterUser, Password: vcenterPass, MethodDelays: delays, TaskDurations: taskTimes,
			GuestBootTime: c.guestBoot, StandardPortgroups: c.standardPortgroup, Logger: logger,
		})
		if err != nil {
			return fmt.Errorf("start vCenter %s: %w", s.ID, err)
		}
		defer func() { _ = vc.Close() }()
		ln, err := net.Listen("tcp", net.JoinHostPort(c.listen, "0"))
		if err != nil {
			return err
		}
		if err := vc.Serve(ln, pki.serverConfig()); err != nil {
			return err
		}
		l.vcenters[s.ID] = vc
	}
	// The VMs exist now; the baseline transfers carry them to the replicas.
	if err := storage.Seed(context.Background()); err != nil {
		return fmt.Errorf("seed SnapMirror relationships: %w", err)
	}

	var servers []*http.Server
	serve := func(h http.Handler, tlsOn bool) (string, error) {
		ln, err := net.Listen("tcp", net.JoinHostPort(c.listen, "0"))
		if err != nil {
			return "", err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
		servers = append(servers, srv)
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
			return err
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
		return err
	}
	l.desc = desc
	if err := writeJSONAtomic(filepath.Join(c.stateDir, "lab.json"), desc); err != nil {
		return err
	}
	fmt.Printf("lab ready in %.1fs: %s\n", time.Since(started).Seconds(), filepath.Join(c.stateDir, "lab.json"))

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(ctx)
	}
	return nil
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
