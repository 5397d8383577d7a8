package ontap

import (
	"net/http"
)

// Jobs (docs/ontap-api.md §3, §4): every asynchronous operation runs as a job that goes
// queued → running → success|failure on the lab clock and disappears JobRetention after it ends.

var jobResource = &resource{kind: "job", keys: []string{"uuid"}}

// startJob registers a job described as "<METHOD> <path>" and runs op as its operation once the
// job has been queued for JobQueueTime and running for JobRunTime (lab time). op runs without
// the Lab lock and returns nil for success. An injected job fault replaces op's result. Callers
// must not hold l.mu.
// An injected failure (faults) skips op; onFault undoes what the request did before the job (a
// volume create removes its half-made volume, as a real failed create leaves none).
func (c *Cluster) startJob(method, path string, op func() *apiError, onFault ...func()) *job {
	l := c.lab
	l.mu.Lock()
	j := &job{
		uuid: c.newUUID("job"), description: method + " " + path, state: "queued",
		start: l.clk.Now(), done: make(chan struct{}),
	}
	c.jobs[j.uuid] = j
	l.mu.Unlock()
	fault, faulted := c.faults.takeJobFault(method, path)
	l.afterFunc(l.opts.JobQueueTime, func() {
		l.mu.Lock()
		j.state = "running"
		l.mu.Unlock()
		l.afterFunc(l.opts.JobRunTime, func() {
			var err *apiError
			if faulted {
				err = &apiError{Code: fault.Code, Message: fault.Message}
				for _, undo := range onFault {
					undo()
				}
			} else {
				err = runGuarded(op)
			}
			c.finishJob(j, err)
		})
	})
	return j
}

// runGuarded runs op, turning a panic into an internal-error failure.
func runGuarded(op func() *apiError) (err *apiError) {
	defer func() {
		if v := recover(); v != nil {
			err = errorf(http.StatusInternalServerError, CodeInternal, "", "Internal error. %v", v)
		}
	}()
	if op == nil {
		return nil
	}
	return op()
}

func (c *Cluster) finishJob(j *job, err *apiError) {
	l := c.lab
	l.mu.Lock()
	j.end = l.clk.Now()
	if err == nil {
		j.state, j.message, j.code = "success", "success", 0
	} else {
		j.state, j.message, j.code = "failure", err.Message, err.Code
	}
	l.mu.Unlock()
	close(j.done)
	l.clk.AfterFunc(l.opts.JobRetention, func() {
		l.mu.Lock()
		delete(c.jobs, j.uuid)
		l.mu.Unlock()
	})
}

func (c *Cluster) renderJob(j *job) record {
	r := record{
		"uuid":        j.uuid,
		"description": j.description,
		"state":       j.state,
		"code":        j.code,
		"start_time":  isoTime(j.start),
		"_links":      selfLink("/api/cluster/jobs/" + j.uuid),
	}
	if j.message != "" {
		r["message"] = j.message
	}
	if j.terminal() {
		r["end_time"] = isoTime(j.end)
	}
	return r
}

func (c *Cluster) getJobs(rc *reqCtx, _ []string) *apiError {
	c.lab.mu.RLock()
	recs := make([]record, 0, len(c.jobs))
	for _, j := range c.jobs {
		recs = append(recs, c.renderJob(j))
	}
	c.lab.mu.RUnlock()
	return rc.list(jobResource, recs)
}

func (c *Cluster) getJob(rc *reqCtx, args []string) *apiError {
	c.lab.mu.RLock()
	j, ok := c.jobs[args[0]]
	var rec record
	if ok {
		rec = c.renderJob(j)
	}
	c.lab.mu.RUnlock()
	if !ok {
		return errNotFound("uuid")
	}
	return rc.instance(jobResource, rec)
}

// patchJob handles ?action=pause|resume|cancel. The simulated jobs support none of them.
func (c *Cluster) patchJob(rc *reqCtx, args []string) *apiError {
	c.lab.mu.RLock()
	j, ok := c.jobs[args[0]]
	terminal := ok && j.terminal()
	c.lab.mu.RUnlock()
	if !ok {
		return errNotFound("uuid")
	}
	action := rc.q.param("action")
	switch action {
	case "pause", "resume", "cancel":
	case "":
		return errMissing("action")
	default:
		return errInvalidValue("action", action, "")
	}
	if terminal {
		return errBadRequest(CodeJobTerminal, "", "Job is already in a terminal state.")
	}
	if action == "cancel" {
		return errBadRequest(CodeJobNoCancel, "", "This job does not support cancel.")
	}
	return errBadRequest(CodeJobNoPause, "", "This job does not support pause.")
}
