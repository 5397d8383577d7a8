package ontap

import (
	"strings"
	"sync"
	"time"
)

// Fault injection: a cluster down (its API drops connections and it fails as a replication
// peer), the replication link cut, the next jobs or requests matching a method and path failing
// with a given error, and per-endpoint response delays (lab time).

// JobFault makes jobs fail. Method ("" for any) and Path (a pattern over the job's path, "*"
// matching any run of characters, e.g. "/api/snapmirror/relationships/*") select the jobs; the
// next Count matching jobs (1 when 0) fail with Code and Message instead of running.
type JobFault struct {
	Method  string
	Path    string
	Code    int
	Message string
	Count   int
}

// RequestFault makes requests fail before they reach their handler: the next Count (1 when 0)
// requests matching Method and Path (as in JobFault, over the URL path) get an ONTAP error with
// the given HTTP Status (400 when 0), Code and Message.
type RequestFault struct {
	Method  string
	Path    string
	Status  int
	Code    int
	Message string
	Count   int
}

// Delay slows the requests matching Method and Path (as in JobFault) by Duration of lab time
// before they are handled.
type Delay struct {
	Method   string
	Path     string
	Duration time.Duration
}

type faults struct {
	mu       sync.Mutex
	jobs     []*JobFault
	requests []*RequestFault
	delays   []Delay
}

func matchFault(method, pattern, gotMethod, gotPath string) bool {
	if method != "" && !strings.EqualFold(method, gotMethod) {
		return false
	}
	if pattern == "" {
		return true
	}
	return globMatch(pattern, gotPath) || globMatch(pattern, strings.TrimSuffix(gotPath, "/"))
}

func (f *faults) takeJobFault(method, path string) (JobFault, bool) {
	if i := strings.Index(path, "?"); i >= 0 {
		path = path[:i]
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, jf := range f.jobs {
		if matchFault(jf.Method, jf.Path, method, path) {
			out := *jf
			jf.Count--
			if jf.Count <= 0 {
				f.jobs = append(f.jobs[:i], f.jobs[i+1:]...)
			}
			return out, true
		}
	}
	return JobFault{}, false
}

func (f *faults) takeRequestFault(method, path string) (RequestFault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, rf := range f.requests {
		if matchFault(rf.Method, rf.Path, method, path) {
			out := *rf
			rf.Count--
			if rf.Count <= 0 {
				f.requests = append(f.requests[:i], f.requests[i+1:]...)
			}
			if out.Status == 0 {
				out.Status = 400
			}
			return out, true
		}
	}
	return RequestFault{}, false
}

func (f *faults) delayFor(method, path string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var d time.Duration
	for _, x := range f.delays {
		if matchFault(x.Method, x.Path, method, path) && x.Duration > d {
			d = x.Duration
		}
	}
	return d
}

// FailNextJob arms a job fault.
func (c *Cluster) FailNextJob(f JobFault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	c.faults.mu.Lock()
	c.faults.jobs = append(c.faults.jobs, &f)
	c.faults.mu.Unlock()
}

// FailNextRequest arms a request fault.
func (c *Cluster) FailNextRequest(f RequestFault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	c.faults.mu.Lock()
	c.faults.requests = append(c.faults.requests, &f)
	c.faults.mu.Unlock()
}

// SetDelay adds a response delay; a zero Duration removes the delays with the same Method and
// Path.
func (c *Cluster) SetDelay(d Delay) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	kept := c.faults.delays[:0]
	for _, x := range c.faults.delays {
		if x.Method != d.Method || x.Path != d.Path {
			kept = append(kept, x)
		}
	}
	c.faults.delays = kept
	if d.Duration > 0 {
		c.faults.delays = append(c.faults.delays, d)
	}
}

// ClearFaults removes every armed job and request fault and every delay (not Down).
func (c *Cluster) ClearFaults() {
	c.faults.mu.Lock()
	c.faults.jobs, c.faults.requests, c.faults.delays = nil, nil, nil
	c.faults.mu.Unlock()
}

// SetDown takes the whole cluster down (true) or brings it back. While down its API closes
// every connection without answering, its running transfers fail, it fails as a transfer peer,
// its schedules do not start transfers and the fabric reports its LUNs offline and its exports
// gone.
func (c *Cluster) SetDown(down bool) {
	c.down.Store(down)
	if !down {
		return
	}
	l := c.lab
	l.mu.Lock()
	l.failTransfersTouching(c, "The cluster "+c.name+" is not reachable")
	l.mu.Unlock()
}

// Down reports whether the cluster is down.
func (c *Cluster) Down() bool { return c.down.Load() }

// CutLink cuts the replication network between the clusters: running inter-cluster transfers
// fail, later ones fail at once (relationships turn unhealthy and their lag grows) until
// RestoreLink.
func (l *Lab) CutLink() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.linkCut = true
	l.failTransfersTouching(nil, "The replication network to the peer cluster is down")
}

// RestoreLink restores the replication network. Relationships recover at their next transfer.
func (l *Lab) RestoreLink() {
	l.mu.Lock()
	l.linkCut = false
	l.mu.Unlock()
}

// LinkCut reports whether the replication network is cut.
func (l *Lab) LinkCut() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.linkCut
}
