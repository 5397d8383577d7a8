package vcenter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/clock"
	"vmdr.local/lab/internal/fabric"
	"vmdr.local/lab/internal/topology"
)

// Options configure a VCenter. The zero value is usable.
type Options struct {
	// User and Password are the credentials Login accepts. When both are empty any non-empty
	// user name and password are accepted.
	User, Password string

	// MethodDelays delays the answer to every call of the named SOAP method, e.g.
	// "RetrievePropertiesEx" or "PowerOnVM_Task" (network and vpxd latency).
	MethodDelays map[string]time.Duration

	// TaskDurations keeps every task started by the named SOAP method running for that long on
	// the lab clock before it does its work, e.g. {"PowerOnVM_Task": 3 * time.Second}.
	TaskDurations map[string]time.Duration

	// GuestBootTime is how long after a power-on (lab clock) VMware Tools report running, the
	// guest heartbeat turns green and the guest reports its IP addresses. Zero means 2 s;
	// negative means at once.
	GuestBootTime time.Duration

	// StandardPortgroups builds the topology's portgroups as standard vSwitch portgroups on every
	// host instead of distributed portgroups on one distributed switch per site.
	StandardPortgroups bool

	// MountCopiesByLabel sets LVM.DisallowSnapshotLun=0 on every host: a rescan mounts VMFS copies
	// (replicas, clones) under their label, as ESX 3 did (the VMbook's setting). The default is
	// ESXi 7/8's: copies are unresolved until QueryUnresolvedVmfsVolume /
	// ResolveMultipleUnresolvedVmfsVolumes (or a resignature) mount them.
	MountCopiesByLabel bool

	// KeepLostDevices sets Disk.AutoremoveOnPDL=0 on every host: a device lost under a mounted
	// volume stays (lostCommunication, the mount inaccessible) until it comes back. The default is
	// ESXi's: a rescan removes it once no powered-on VM uses it.
	KeepLostDevices bool

	// Logger receives the lab's diagnostics (recovered panics, refused devices). Nil discards.
	Logger *slog.Logger
}

// About is what the simulated vCenter reports in ServiceContent.about.
const (
	aboutVersion    = "8.0.3"
	aboutBuild      = "24322831"
	aboutAPIVersion = "8.0.3.0"
)

// VCenter is one simulated vCenter Server. All methods are safe for concurrent use.
type VCenter struct {
	site   topology.Site
	fabric fabric.Fabric
	clock  *clock.Clock
	opts   Options
	log    *slog.Logger

	model *simulator.Model
	svc   *simulator.Service
	reg   *simulator.Registry

	inv inventory // built once by New, read-only afterwards

	// opMu serialises the lab's own operations (registration, power, reconfiguration, storage
	// discovery). It is taken before any simulator object lock and never from simulator callbacks.
	opMu sync.Mutex

	// mu guards the lab state below. It is the innermost lock: nothing is called while holding it.
	mu       sync.Mutex
	vms      map[types.ManagedObjectReference]*vmState
	stores   map[string]*dsState                     // by datastore key (vmfsKey, nfsKey)
	instIdx  map[string]types.ManagedObjectReference // instance UUID -> VM
	macIdx   map[string]types.ManagedObjectReference // MAC address -> VM
	pathIdx  map[string]types.ManagedObjectReference // .vmx path -> VM
	macSeq   uint32
	question int

	faults faults
	lt     labTasks
	hub    *watchHub

	srvMu sync.Mutex
	srv   *http.Server
	url   *url.URL
	down  atomic.Int32
	// revokedBefore (Unix ns): sessions that logged in earlier are gone, as after a vpxd restart.
	revokedBefore atomic.Int64
	downCh        chan struct{} // closed when the vCenter comes back up
	closing       chan struct{}
	closed        atomic.Bool
	wg            sync.WaitGroup
	overRefs      map[string]overrideEntry
	fetchRef      types.ManagedObjectReference

	hstore    map[types.ManagedObjectReference]*hostStore // guarded by mu
	faultLog  []StorageFault                              // guarded by mu
	mutations map[string]int                              // guarded by mu; see mutations.go
}

// New builds the vCenter of site from the topology: inventory, datastores from what fab presents
// to the site's hosts, and the site's VMs, created on their datastores (or registered, when their
// .vmx is already there). clk drives task durations and guest timing; nil means a new real-time
// clock.
func New(site topology.Site, fab fabric.Fabric, clk *clock.Clock, opts Options) (*VCenter, error) {
	if fab == nil {
		return nil, errors.New("vcenter: nil fabric")
	}
	if clk == nil {
		clk = clock.New()
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	v := &VCenter{
		site:    site,
		fabric:  fab,
		clock:   clk,
		opts:    opts,
		log:     logger.With("vcenter", site.ID),
		vms:     map[types.ManagedObjectReference]*vmState{},
		stores:  map[string]*dsState{},
		instIdx: map[string]types.ManagedObjectReference{},
		macIdx:  map[string]types.ManagedObjectReference{},
		pathIdx: map[string]types.ManagedObjectReference{},
		closing: make(chan struct{}),
		downCh:  make(chan struct{}),
	}
	close(v.downCh)
	v.faults.init(opts)

	m := simulator.VPX()
	m.Datacenter, m.Portgroup, m.Host, m.Cluster, m.ClusterHost, m.Datastore, m.Machine = 0, 0, 0, 0, 0, 0, 0
	m.Autostart = false
	m.ServiceContent.About.InstanceUuid = topology.UUIDFor("vcenter", site.ID)
	m.ServiceContent.About.Version = aboutVersion
	m.ServiceContent.About.Build = aboutBuild
	m.ServiceContent.About.ApiVersion = aboutAPIVersion
	m.ServiceContent.About.FullName = fmt.Sprintf("VMware vCenter Server %s build-%s", aboutVersion, aboutBuild)
	m.ServiceContent.About.LicenseProductVersion = "8.0"
	if err := m.Create(); err != nil {
		return nil, fmt.Errorf("vcenter %s: create model: %w", site.ID, err)
	}
	v.model = m
	v.svc = m.Service
	v.reg = m.Map()
	v.isolateGlobals()
	v.installHooks()

	if err := v.build(); err != nil {
		m.Remove()
		return nil, fmt.Errorf("vcenter %s: %w", site.ID, err)
	}
	v.wg.Add(1)
	go v.heartbeat()
	return v, nil
}

// SiteID returns the topology ID of the site this vCenter belongs to.
func (v *VCenter) SiteID() string { return v.site.ID }

// InstanceUUID returns ServiceContent.about.instanceUuid, which differs between the sites.
func (v *VCenter) InstanceUUID() string { return v.model.ServiceContent.About.InstanceUuid }

// Close stops serving, ends every pending task and question, and removes the simulator's scratch
// directory. Datastore contents (the fabric's directories) are left alone. Close is idempotent.
func (v *VCenter) Close() error {
	if !v.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(v.closing)
	v.SetDown(Up) // release hung connections
	v.srvMu.Lock()
	srv := v.srv
	v.srvMu.Unlock()
	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = srv.Shutdown(ctx)
		cancel()
		if err != nil {
			err = srv.Close()
		}
	}
	v.wg.Wait()
	v.opMu.Lock()
	v.mu.Lock()
	for _, s := range v.vms {
		if s.bootTimer != nil {
			s.bootTimer.Stop()
		}
	}
	v.mu.Unlock()
	v.model.Remove()
	v.opMu.Unlock()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// ctx returns a new simulator context for lab-internal work: its own lock identity, the model's
// internal session.
func (v *VCenter) ctx() *simulator.Context {
	c := *v.svc.Context
	c.Context = context.Background()
	return &c
}

// childCtx returns a copy of a request context with its own lock identity, for work that
// continues after the request returned (tasks).
func childCtx(ctx *simulator.Context) *simulator.Context {
	c := *ctx
	c.Context = context.Background()
	return &c
}
