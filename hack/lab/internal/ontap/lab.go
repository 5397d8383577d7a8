package ontap

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"vmdr.local/lab/internal/clock"
	"vmdr.local/lab/internal/fabric"
	"vmdr.local/lab/internal/topology"
)

// Lab is the storage half of the lab: one simulated ONTAP cluster per site, the replication link
// between them and the storage fabric they present. It is safe for concurrent use.
type Lab struct {
	// mu guards every cluster's objects. Directory copies run without it.
	mu sync.RWMutex

	clk       *clock.Clock
	opts      Options
	version   Version
	tsVersion Version // first version with transfer_schedule / throttle / last_transfer_type
	world     topology.World
	clusters  []*Cluster
	bySite    map[string]*Cluster
	linkCut   bool

	// Background work (transfers, job operations) is tracked so that Close can wait for it.
	closed    atomic.Bool
	closeOnce sync.Once
	stop      chan struct{}
	bgMu      sync.Mutex
	bg        sync.WaitGroup

	schemaOnce sync.Once
	schema     map[string]map[string]bool
}

// Cluster is one simulated ONTAP cluster with one data SVM.
type Cluster struct {
	lab     *Lab
	site    string
	name    string
	uuid    string
	root    string // <data root>/<site>
	svm     *svm
	handler http.Handler

	vols       map[string]*volume
	luns       map[string]*lun
	igroups    map[string]*igroup
	maps       []*lunMap
	policies   map[int64]*exportPolicy
	smPolicies map[string]*smPolicy
	rels       map[string]*relationship // relationships whose destination is here
	srcEntries map[string]*relationship // relationships whose source is here, after a transfer
	jobs       map[string]*job
	seq        uint64
	nextPolID  int64
	nextMSID   int64

	down   atomic.Bool
	faults faults

	mutations map[string]int // guarded by lab.mu; see mutations.go
}

// New builds one cluster per site of w, keeping each cluster's data below
// <root>/<site ID> (which New empties first). Read-write volumes get their directories, and SAN
// ones their LUN directory with a VMFS header labelled with the volume's Datastore; DP volumes
// start empty and uninitialized. The topology's relationships are not created here: call Seed
// once the protected data has been written.
func New(w topology.World, root string, clk *clock.Clock, opts Options) (*Lab, error) {
	if clk == nil {
		return nil, fmt.Errorf("ontap: nil clock")
	}
	opts = opts.withDefaults()
	v, err := ParseVersion(opts.Version)
	if err != nil {
		return nil, err
	}
	tsv, err := ParseVersion(opts.TransferScheduleVersion)
	if err != nil {
		return nil, err
	}
	l := &Lab{clk: clk, opts: opts, version: v, tsVersion: tsv, world: w, bySite: map[string]*Cluster{}, stop: make(chan struct{})}
	for _, s := range w.Sites {
		c, err := l.newCluster(s, filepath.Join(root, s.ID))
		if err != nil {
			return nil, err
		}
		l.clusters = append(l.clusters, c)
		l.bySite[s.ID] = c
	}
	return l, nil
}

// Cluster returns the cluster of a site, or nil.
func (l *Lab) Cluster(site string) *Cluster { return l.bySite[site] }

// Clusters returns the clusters in topology order.
func (l *Lab) Clusters() []*Cluster { return append([]*Cluster(nil), l.clusters...) }

// Clock returns the lab clock the clusters run on.
func (l *Lab) Clock() *clock.Clock { return l.clk }

// Options returns the effective options (defaults filled in).
func (l *Lab) Options() Options { return l.opts }

// Close shuts the clusters down for good: their APIs drop connections, schedules stop, waits
// end, and Close returns once running transfers and job operations have finished. Call it
// before removing the data root.
func (l *Lab) Close() {
	l.closeOnce.Do(func() {
		l.bgMu.Lock()
		l.closed.Store(true)
		l.bgMu.Unlock()
		l.mu.Lock()
		for _, c := range l.clusters {
			for _, r := range c.rels {
				if r.schedTimer != nil {
					r.schedTimer.Stop()
					r.schedTimer = nil
				}
			}
		}
		l.mu.Unlock()
		close(l.stop)
		l.bg.Wait()
	})
}

// track runs f as background work unless the lab is closed.
func (l *Lab) track(f func()) {
	l.bgMu.Lock()
	if l.closed.Load() {
		l.bgMu.Unlock()
		return
	}
	l.bg.Add(1)
	l.bgMu.Unlock()
	defer l.bg.Done()
	f()
}

// afterFunc runs f as background work after d of lab time.
func (l *Lab) afterFunc(d time.Duration, f func()) *clock.Timer {
	return l.clk.AfterFunc(d, func() { l.track(f) })
}

// Site returns the topology site ID of the cluster.
func (c *Cluster) Site() string { return c.site }

// Name returns the ONTAP cluster name.
func (c *Cluster) Name() string { return c.name }

// UUID returns the cluster uuid.
func (c *Cluster) UUID() string { return c.uuid }

// SVM returns the name of the cluster's data SVM.
func (c *Cluster) SVM() string { return c.svm.name }

// Handler returns the cluster's REST API (paths below /api). TLS is the caller's business.
func (c *Cluster) Handler() http.Handler { return c.handler }

// clusterBySVM finds the cluster hosting an SVM. Callers hold l.mu.
func (l *Lab) clusterBySVM(name string) *Cluster {
	for _, c := range l.clusters {
		if c.svm.name == name {
			return c
		}
	}
	return nil
}

// reachable reports whether cluster b can be reached from cluster a for replication: both up
// and, between different clusters, the link intact. Callers hold l.mu.
func (l *Lab) reachable(a, b *Cluster) bool {
	if a.down.Load() || b.down.Load() {
		return false
	}
	return a == b || !l.linkCut
}

func (l *Lab) newCluster(s topology.Site, root string) (*Cluster, error) {
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	for _, d := range []string{"volumes", "snapshots"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, err
		}
	}
	a := s.Array
	c := &Cluster{
		lab: l, site: s.ID, name: a.Cluster, root: root,
		uuid:       topology.UUIDFor("ontap-cluster", a.Cluster),
		vols:       map[string]*volume{},
		luns:       map[string]*lun{},
		igroups:    map[string]*igroup{},
		policies:   map[int64]*exportPolicy{},
		smPolicies: map[string]*smPolicy{},
		rels:       map[string]*relationship{},
		srcEntries: map[string]*relationship{},
		jobs:       map[string]*job{},
		nextPolID:  8589934593,
		nextMSID:   2147484673,
	}
	c.svm = &svm{uuid: topology.UUIDFor("ontap-svm", a.Cluster+"/"+a.SVM), name: a.SVM, dataLIF: a.DataLIF}
	for _, p := range builtinSMPolicies {
		c.smPolicies[p.name] = &smPolicy{
			uuid: topology.UUIDFor("ontap-smpolicy", a.Cluster+"/"+p.name),
			name: p.name, typ: p.typ, syncType: p.syncType, comment: p.comment,
		}
	}

	c.addExportPolicy("default")
	for _, ep := range s.Array.ExportPolicies {
		p := c.addExportPolicy(ep.Name)
		p.nextIndex++
		p.rules = append(p.rules, &exportRule{
			index: p.nextIndex, clients: append([]string(nil), ep.Clients...),
			ro: []string{"sys"}, rw: []string{"sys"}, su: []string{"sys"}, protocols: []string{"any"}, anon: "65534",
		})
	}
	for _, ig := range s.Array.Igroups {
		id := c.newUUID("igroup")
		c.igroups[id] = &igroup{
			uuid: id, name: ig.Name, protocol: ig.Protocol, osType: "vmware",
			initiators: append([]string(nil), ig.Initiators...),
		}
	}

	now := l.clk.Now()
	for _, tv := range s.Array.Volumes {
		v := c.addVolume(tv.Name, tv.Type, int64(tv.SizeGB)<<30, tv.LUN != nil, now)
		if err := os.MkdirAll(v.dir, 0o755); err != nil {
			return nil, err
		}
		v.policy = c.policyByName("default")
		if tv.NAS != nil {
			if p := c.policyByName(tv.NAS.ExportPolicy); p != nil {
				v.policy = p
			}
			if tv.Type == "rw" {
				v.junction = tv.NAS.JunctionPath
			}
		}
		if tv.LUN == nil {
			continue
		}
		if tv.Type == "dp" {
			v.pendingMaps[tv.LUN.Name] = pendingLUN{id: tv.LUN.ID, igroups: tv.LUN.MapsTo}
			continue
		}
		if err := os.MkdirAll(filepath.Join(v.dir, tv.LUN.Name), 0o755); err != nil {
			return nil, err
		}
		ln := c.addLUN(v, tv.LUN.Name, v.size, "vmware", "", now)
		// Formatted on this LUN: the VMFS signature names its device.
		hdr := fabric.Header{Label: tv.Datastore, UUID: topology.UUIDFor("vmfs", s.ID+"/"+tv.Name), Device: fabric.NAAFromSerial(ln.serial)}
		if err := fabric.WriteHeader(filepath.Join(v.dir, tv.LUN.Name), hdr); err != nil {
			return nil, err
		}
		for _, ig := range tv.LUN.MapsTo {
			if g := c.igroupByName(ig); g != nil {
				c.maps = append(c.maps, &lunMap{lun: ln, ig: g, id: tv.LUN.ID})
			}
		}
	}
	c.handler = c.newHandler()
	return c, nil
}

// builtinSMPolicies are ONTAP's system SnapMirror policies (§7).
var builtinSMPolicies = []smPolicy{
	{name: "Asynchronous", typ: "async", comment: "A unified Asynchronous SnapMirror and SnapVault policy for mirroring the latest active file system and daily and weekly Snapshot copies with an hourly transfer schedule."},
	{name: "MirrorAllSnapshots", typ: "async", comment: "Asynchronous SnapMirror policy for mirroring all Snapshot copies and the latest active file system."},
	{name: "MirrorAllSnapshotsDiscardNetwork", typ: "async", comment: "Asynchronous SnapMirror policy for mirroring all Snapshot copies and the latest active file system excluding the network configurations."},
	{name: "MirrorAndVault", typ: "async", comment: "A unified Asynchronous SnapMirror and SnapVault policy for mirroring the latest active file system and daily and weekly Snapshot copies."},
	{name: "MirrorAndVaultDiscardNetwork", typ: "async", comment: "A unified Asynchronous SnapMirror and SnapVault policy excluding the network configurations."},
	{name: "MirrorLatest", typ: "async", comment: "Asynchronous SnapMirror policy for mirroring the latest active file system."},
	{name: "DPDefault", typ: "async", comment: "Asynchronous SnapMirror policy for mirroring all Snapshot copies and the latest active file system."},
	{name: "XDPDefault", typ: "async", comment: "Vault policy with daily and weekly rules."},
	{name: "Unified7year", typ: "async", comment: "Unified SnapMirror policy with 7year retention."},
	{name: "DailyBackup", typ: "async", comment: "Vault policy with a daily rule and a daily transfer schedule."},
	{name: "CloudBackupDefault", typ: "async", comment: "Vault policy with daily rule."},
	{name: "Sync", typ: "sync", syncType: "sync", comment: "Policy for SnapMirror Synchronous for Business Continuity."},
	{name: "StrictSync", typ: "sync", syncType: "strict_sync", comment: "Policy for SnapMirror Synchronous with zero RPO guarantee."},
	{name: "SnapCenterSync", typ: "sync", syncType: "sync", comment: "Policy for SnapMirror Synchronous for Snap Center with Application Created Snapshot configuration."},
}

// newUUID returns a deterministic uuid unique within the cluster. Callers hold l.mu or are
// building the cluster.
func (c *Cluster) newUUID(kind string) string {
	c.seq++
	return topology.UUIDFor("ontap-"+kind, fmt.Sprintf("%s/%d", c.name, c.seq))
}

func (c *Cluster) addExportPolicy(name string) *exportPolicy {
	p := &exportPolicy{id: c.nextPolID, name: name}
	c.nextPolID++
	c.policies[p.id] = p
	return p
}

func (c *Cluster) addVolume(name, typ string, size int64, san bool, now time.Time) *volume {
	v := &volume{
		uuid: c.newUUID("volume"), name: name, msid: c.nextMSID, typ: typ, state: "online", size: size,
		// The MSID keeps the directory unique across renames and re-creations of a name.
		createTime: now, dir: filepath.Join(c.root, "volumes", fmt.Sprintf("%s.%d", name, c.nextMSID)), san: san,
		initialized: typ != "dp", pendingMaps: map[string]pendingLUN{}, luns: map[string]*lun{},
	}
	c.nextMSID++
	c.vols[v.uuid] = v
	return v
}

func (c *Cluster) addLUN(v *volume, leaf string, size int64, osType, serial string, now time.Time) *lun {
	id := c.newUUID("lun")
	if serial == "" {
		serial = makeSerial(c.uuid + "/" + id)
	}
	ln := &lun{uuid: id, vol: v, leaf: leaf, serial: serial, enabled: true, size: size, osType: osType, createTime: now}
	c.luns[id] = ln
	v.luns[leaf] = ln
	return ln
}

func (c *Cluster) removeLUN(ln *lun) {
	delete(c.luns, ln.uuid)
	delete(ln.vol.luns, ln.leaf)
	kept := c.maps[:0]
	for _, m := range c.maps {
		if m.lun != ln {
			kept = append(kept, m)
		}
	}
	c.maps = kept
}

func (c *Cluster) volumeByName(name string) *volume {
	for _, v := range c.vols {
		if v.name == name {
			return v
		}
	}
	return nil
}

func (c *Cluster) igroupByName(name string) *igroup {
	for _, g := range c.igroups {
		if g.name == name {
			return g
		}
	}
	return nil
}

func (c *Cluster) policyByName(name string) *exportPolicy {
	for _, p := range c.policies {
		if p.name == name {
			return p
		}
	}
	return nil
}

// sortedVolumes returns the volumes ordered by name.
func (c *Cluster) sortedVolumes() []*volume {
	out := make([]*volume, 0, len(c.vols))
	for _, v := range c.vols {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Seed creates the topology's SnapMirror relationships on their destination clusters and runs
// each one's baseline transfer synchronously (no lab time passes), then starts their schedules.
// Call it after the protected volumes hold their data (the vCenter side writes the VMs first).
func (l *Lab) Seed(ctx context.Context) error {
	for _, tr := range l.world.Relationships {
		if err := ctx.Err(); err != nil {
			return err
		}
		src, dst := l.bySite[tr.SourceSite], l.bySite[tr.DestSite]
		if src == nil || dst == nil {
			return fmt.Errorf("ontap: relationship %s→%s: unknown site", tr.SourceVolume, tr.DestVolume)
		}
		l.mu.Lock()
		r, aerr := dst.createRelationship(src.svm.name, tr.SourceVolume, dst.svm.name, tr.DestVolume, tr.Policy, tr.Schedule)
		l.mu.Unlock()
		if aerr != nil {
			return fmt.Errorf("ontap: seeding %s:%s: %s", dst.svm.name, tr.DestVolume, aerr.Message)
		}
		if err := l.runTransferSync(r, "initialize"); err != nil {
			return fmt.Errorf("ontap: seeding %s:%s: %w", dst.svm.name, tr.DestVolume, err)
		}
		l.mu.Lock()
		dst.armSchedule(r)
		l.mu.Unlock()
	}
	return nil
}
