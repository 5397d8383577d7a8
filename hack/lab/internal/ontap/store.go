package ontap

import (
	"sort"
	"time"

	"vmdr.local/lab/internal/clock"
)

// The in-memory objects of one cluster. All of them are guarded by the Lab's mutex (Lab.mu);
// nothing here is safe to touch without it.

type svm struct {
	uuid, name string
	dataLIF    string
}

type volume struct {
	uuid, name string
	msid       int64
	typ        string // "rw" | "dp"
	state      string // "online" | "offline"
	size       int64
	comment    string
	createTime time.Time
	dir        string // active file system
	san        bool   // LUN directories inside (else the directory is the NFS export)
	junction   string // nas.path; "" when not mounted
	policy     *exportPolicy
	// initialized is false for a DP volume that never received a baseline transfer.
	initialized bool
	snapshots   []*snapshot // oldest first
	clone       *cloneInfo
	// pendingMaps are the topology's initial maps of LUNs that arrive with the first transfer.
	pendingMaps map[string]pendingLUN
	// luns caches the LUNs of this volume by leaf name.
	luns map[string]*lun
}

type pendingLUN struct {
	id      int
	igroups []string
}

type cloneInfo struct {
	parentVolUUID, parentVolName   string
	parentSnapUUID, parentSnapName string
	parentSVMUUID, parentSVMName   string
	splitInitiated                 bool
	splitPercent                   int
}

type snapshot struct {
	uuid, name string
	createTime time.Time
	comment    string
	label      string
	dir        string
	size       int64
	// owners: "snapmirror" for transfer snapshots, plus "volume_clone" while clones use it.
	snapmirror bool
	relUUID    string // relationship that created it (transfer snapshots)
	clones     map[string]bool
	luns       []lunMeta // LUNs captured in the snapshot (SAN volumes)
}

// lunMeta is what a snapshot records about a LUN so that a transfer or clone can recreate it.
type lunMeta struct {
	leaf, osType, serial, comment string
	size                          int64
}

func (s *snapshot) owners() []string {
	var o []string
	if s.snapmirror {
		o = append(o, "snapmirror")
	}
	if len(s.clones) > 0 {
		o = append(o, "volume_clone")
	}
	return o
}

type lun struct {
	uuid       string
	vol        *volume
	leaf       string
	serial     string
	enabled    bool
	size       int64
	osType     string
	comment    string
	createTime time.Time
}

func (l *lun) name() string { return "/vol/" + l.vol.name + "/" + l.leaf }

type igroup struct {
	uuid, name, protocol, osType, comment string
	initiators                            []string
}

type lunMap struct {
	lun *lun
	ig  *igroup
	id  int
}

type exportPolicy struct {
	id        int64
	name      string
	rules     []*exportRule
	nextIndex int
}

type exportRule struct {
	index                 int
	clients               []string
	ro, rw, su, protocols []string
	anon                  string
}

type smPolicy struct {
	uuid, name, typ, syncType, comment string
}

// relationship is a SnapMirror relationship, owned by its destination cluster.
type relationship struct {
	uuid             string
	srcSVM, srcVol   string
	dstSVM, dstVol   string
	srcCluster       *Cluster
	dstCluster       *Cluster
	policy           *smPolicy
	state            string
	quiescedFrom     string // state a quiesce came from (uninitialized or snapmirrored)
	schedule         string
	throttle         int64
	restore          bool
	exportedSnap     *snapshot // newest snapshot on the destination
	lastTransferType string
	healthy          bool
	unhealthy        []unhealthyReason
	transfer         *transfer // active or last transfer
	transfers        []*transfer
	schedTimer       *clock.Timer
	transient        string // "quiescing" / "breaking" / ... while a state change job runs
}

func (r *relationship) srcPath() string { return r.srcSVM + ":" + r.srcVol }
func (r *relationship) dstPath() string { return r.dstSVM + ":" + r.dstVol }

type unhealthyReason struct {
	code    int
	message string
	args    []string
}

// transfer is one SnapMirror transfer of a relationship.
type transfer struct {
	uuid      string
	kind      string // initialize | update | resync
	state     string // queued | transferring | success | failed | aborted | hard_aborted
	bytes     int64  // bytes to move (changed data)
	start     time.Time
	end       time.Time
	snapName  string
	srcSnap   *snapshot
	timer     *clock.Timer
	done      chan struct{}
	errMsg    string
	sourceOpt string // source_snapshot requested by the client
	landing   bool   // the data is being written to the destination; too late to fail or abort
}

func (t *transfer) active() bool {
	return t != nil && (t.state == "queued" || t.state == "transferring")
}

type job struct {
	uuid        string
	description string
	state       string // queued | running | success | failure
	message     string
	code        int
	start, end  time.Time
	done        chan struct{}
}

func (j *job) terminal() bool { return j.state == "success" || j.state == "failure" }

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
