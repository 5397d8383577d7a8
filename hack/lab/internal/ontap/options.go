package ontap

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Options configure the simulated clusters. The zero value of every field selects its default, so
// Options{} is the documented ONTAP 9.8 behaviour.
//
// Behaviours the spec (docs/ontap-api.md §16) marks UNCONFIRMED are options too; each one's
// default is the spec's stated (or most likely) behaviour:
//
//   - SnapshotRetention (default 2): SnapMirror snapshots each relationship keeps per volume.
//   - TransferScheduleVersion (default "9.11.1"): first version that shows transfer_schedule,
//     throttle and last_transfer_type on relationships.
//   - UnauthorizedJSON (default false): a 401 carries the web server's HTML page and a
//     WWW-Authenticate header; true sends an ONTAP JSON error body instead.
//   - TransitionErrorsAsJobFailures (default false): an illegal SnapMirror state transition is a
//     synchronous 400 with its 13303xxx code; true accepts the PATCH (202) and fails the job.
//     "Another transfer is in progress" on break is always a job failure (13303808).
//   - AlreadyInitializedError (default false): PATCH state=snapmirrored on a snapmirrored
//     relationship is a successful no-op; true fails it with 13303832.
//   - RejectQuiesceUninitialized (default false): quiescing an uninitialized relationship makes it
//     paused (resume returns it to uninitialized); true refuses it with InvalidTargetStateCode.
//   - AllowQuiesceBrokenOff (default false): quiescing a broken_off relationship is refused with
//     13303818; true makes it a no-op success.
//   - AllowUpdateWhenPaused (default false): POST /transfers on a paused relationship fails with
//     13303844; true runs the update.
//   - BreakUninitializedCode (default 13303818): code for breaking an uninitialized relationship.
//   - InvalidTargetStateCode (default 13303818): code for PATCH state=uninitialized (values that
//     are not states at all get 13303817).
//   - UpdateBrokenOffCode (default 13303844): code for POST /transfers on a broken_off relationship.
//   - RejectCreateOverRW (default false): POST of a relationship whose destination volume is RW
//     (the 9.8 reverse-resync path) creates it in state broken_off; true refuses it with 6619546.
//   - ReturnFailedJobAsJob (default false): an async call whose job fails within return_timeout
//     answers with the job's error as an HTTP error; true answers 200/201 with the job link.
//   - OmitUUIDInRecords (default false): POST ?return_records=true echoes the new object's uuid.
//   - RelationshipLocationByUUID (default false): the Location header of a relationship POST is
//     query-shaped (/api/snapmirror/relationships/?destination.path=...); true gives /…/<uuid>.
//   - KeepCompletedTransfers (default false): GET …/transfers lists only the active transfer; true
//     also keeps finished transfers visible.
//   - RejectDeleteMounted (default false): DELETE of a mounted volume unmounts and offlines it
//     implicitly; true fails the job with code 8 ("unmount first").
//   - RejectDeleteSnapMirrorEndpoint (default false): a volume that is a SnapMirror endpoint can be
//     deleted (the relationship then fails its transfers); true fails the job with code 8.
//   - CloneMissingSnapshotCode (default 262177): code of the 400 for a FlexClone of a DP volume
//     without clone.parent_snapshot.
//   - CloneInheritsExportPolicy (default false): a FlexClone gets the SVM's "default" export policy;
//     true copies the parent's.
//   - ReplicaKeepsSourceSerial (default false): LUNs that appear on a SnapMirror destination get
//     serial numbers of their own; true copies the source LUN's serial.
//   - CloneStopsReplication (default false): with a FlexClone on a destination snapshot transfers
//     continue (9.12.1+ XDP behaviour); true makes them fail until the clone is split or deleted
//     (pre-9.12.1 DP behaviour).
//
// Fixed choices in the same class (not options): relationship uuids are identical on source and
// destination; SnapMirror snapshot names are snapmirror.<destination SVM uuid>_<destination volume
// MSID>.<YYYY-MM-DD_HHMMSS> (UTC); the 9.9.1+ swap-path PATCH is accepted by the cluster that owns
// the relationship, which then moves to the other cluster; an async POST that completes within
// return_timeout answers 201 (PATCH/DELETE 200); domain errors are 400, except not-found (404)
// and duplicates/in-use (409); 13303830 (transient state) is returned while a quiesce waits for
// a running transfer; unhealthy_reason has the 9.8 shape (integer code, parameters) before 9.9.1
// and the later one (string code, arguments) from 9.9.1; an unknown name in fields= is 262197
// ("The value "x" is invalid for field "fields" (<field,...>)"), an unknown filter or body field
// 262179; LUN maps are not replicated (the topology's maps of replica LUNs are applied when the
// LUN first arrives); a release (source_only) deletes the relationship's snapshots on the source,
// source_info_only keeps them; SnapMirror snapshots a FlexClone holds are kept beyond the
// retention count; schedules are evaluated in UTC; relationships created over REST before
// TransferScheduleVersion have no schedule (the operator drives their updates).
type Options struct {
	// Version is the ONTAP version the clusters report, "9.8.0" by default. Fields and
	// behaviours that differ by version follow it.
	Version string
	// User and Password are the basic-auth credentials; "admin" / "netapp1!" by default.
	User, Password string

	// JobQueueTime is the lab time a job stays queued; JobRunTime the lab time it then runs before
	// its operation takes effect. Both 0 by default (jobs finish as soon as their goroutine runs).
	JobQueueTime, JobRunTime time.Duration
	// JobRetention is how long a finished job stays visible (300 s).
	JobRetention time.Duration
	// TransferThroughput is the replication speed in bytes per lab second (100 MiB/s).
	TransferThroughput int64
	// TransferSetup is the fixed lab time every transfer takes on top of its data (1 s).
	TransferSetup time.Duration
	// QuiesceTimeout bounds how long a quiesce waits for a running transfer (5 min lab time).
	QuiesceTimeout time.Duration
	// Schedules adds or overrides cron schedules by name. The built-ins are ONTAP's: "5min",
	// "8hour", "hourly", "daily", "weekly".
	Schedules map[string]Schedule

	SnapshotRetention              int
	TransferScheduleVersion        string
	UnauthorizedJSON               bool
	TransitionErrorsAsJobFailures  bool
	AlreadyInitializedError        bool
	RejectQuiesceUninitialized     bool
	AllowQuiesceBrokenOff          bool
	AllowUpdateWhenPaused          bool
	BreakUninitializedCode         int
	InvalidTargetStateCode         int
	UpdateBrokenOffCode            int
	RejectCreateOverRW             bool
	ReturnFailedJobAsJob           bool
	OmitUUIDInRecords              bool
	RelationshipLocationByUUID     bool
	KeepCompletedTransfers         bool
	RejectDeleteMounted            bool
	RejectDeleteSnapMirrorEndpoint bool
	CloneMissingSnapshotCode       int
	CloneInheritsExportPolicy      bool
	ReplicaKeepsSourceSerial       bool
	CloneStopsReplication          bool
}

// Schedule is a cron schedule: it fires at every minute listed in Minutes of every hour in Hours
// (all hours when empty) of every weekday in Weekdays (0 = Sunday; all days when empty).
type Schedule struct {
	Minutes  []int
	Hours    []int
	Weekdays []int
}

func everyNMinutes(n int) []int {
	var m []int
	for i := 0; i < 60; i += n {
		m = append(m, i)
	}
	return m
}

// builtinSchedules are ONTAP's default cron schedules.
func builtinSchedules() map[string]Schedule {
	return map[string]Schedule{
		"5min":   {Minutes: everyNMinutes(5)},
		"8hour":  {Minutes: []int{15}, Hours: []int{2, 10, 18}},
		"hourly": {Minutes: []int{5}},
		"daily":  {Minutes: []int{10}, Hours: []int{0}},
		"weekly": {Minutes: []int{15}, Hours: []int{0}, Weekdays: []int{0}},
	}
}

// next returns the first firing time strictly after t (in t's location), or the zero time when
// the schedule never fires.
func (s Schedule) next(t time.Time) time.Time {
	if len(s.Minutes) == 0 {
		return time.Time{}
	}
	in := func(v int, set []int) bool {
		if len(set) == 0 {
			return true
		}
		for _, x := range set {
			if x == v {
				return true
			}
		}
		return false
	}
	c := t.Truncate(time.Minute).Add(time.Minute)
	for i := 0; i < 8*24*60; i++ {
		if in(c.Minute(), s.Minutes) && in(c.Hour(), s.Hours) && in(int(c.Weekday()), s.Weekdays) {
			return c
		}
		c = c.Add(time.Minute)
	}
	return time.Time{}
}

// withDefaults fills in the zero fields.
func (o Options) withDefaults() Options {
	if o.Version == "" {
		o.Version = "9.8.0"
	}
	if o.User == "" {
		o.User = "admin"
	}
	if o.Password == "" {
		o.Password = "netapp1!"
	}
	if o.JobRetention <= 0 {
		o.JobRetention = 300 * time.Second
	}
	if o.TransferThroughput <= 0 {
		o.TransferThroughput = 100 << 20
	}
	if o.TransferSetup <= 0 {
		o.TransferSetup = time.Second
	}
	if o.QuiesceTimeout <= 0 {
		o.QuiesceTimeout = 5 * time.Minute
	}
	sched := builtinSchedules()
	for k, v := range o.Schedules {
		sched[k] = v
	}
	o.Schedules = sched
	if o.SnapshotRetention <= 0 {
		o.SnapshotRetention = 2
	}
	if o.TransferScheduleVersion == "" {
		o.TransferScheduleVersion = "9.11.1"
	}
	if o.BreakUninitializedCode == 0 {
		o.BreakUninitializedCode = CodeSMInvalidTransition
	}
	if o.InvalidTargetStateCode == 0 {
		o.InvalidTargetStateCode = CodeSMInvalidTransition
	}
	if o.UpdateBrokenOffCode == 0 {
		o.UpdateBrokenOffCode = CodeSMUpdateFailed
	}
	if o.CloneMissingSnapshotCode == 0 {
		o.CloneMissingSnapshotCode = CodeMissingValue
	}
	return o
}

// Version is an ONTAP release number: generation.major.minor (9.8.0, 9.12.1).
type Version struct{ Generation, Major, Minor int }

// ParseVersion parses "9.8", "9.8.0" or "9.12.1".
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("ontap: bad version %q", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Version{}, fmt.Errorf("ontap: bad version %q", s)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// AtLeast reports whether v is the same as or later than o.
func (v Version) AtLeast(o Version) bool {
	if v.Generation != o.Generation {
		return v.Generation > o.Generation
	}
	if v.Major != o.Major {
		return v.Major > o.Major
	}
	return v.Minor >= o.Minor
}

func (v Version) String() string {
	if v.Minor == 0 {
		return fmt.Sprintf("%d.%d", v.Generation, v.Major)
	}
	return fmt.Sprintf("%d.%d.%d", v.Generation, v.Major, v.Minor)
}

func mustVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Versions at which fields and behaviours used here change (docs/ontap-api.md §0).
var v991 = mustVersion("9.9.1")
