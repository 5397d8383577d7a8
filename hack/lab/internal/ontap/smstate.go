package ontap

import (
	"context"
	"net/http"
)

// PATCH /api/snapmirror/relationships/{uuid}: the §6.4 state machine (initialize, quiesce,
// resume, break, resync), policy and schedule changes, and the 9.9.1+ reverse (swapped paths).

// smOp is one state operation.
type smOp int

const (
	opNone smOp = iota
	opInitialize
	opResume
	opQuiesce
	opBreak
	opResync
	opReverse
)

var asyncStates = map[string]bool{"snapmirrored": true, "paused": true, "broken_off": true, "uninitialized": true}
var syncOnlyStates = map[string]bool{"in_sync": true, "out_of_sync": true, "synchronizing": true}

// smPatch is a validated relationship PATCH.
type smPatch struct {
	state             string
	hasState          bool
	policy            *smPolicy
	schedule          string
	hasSchedule       bool
	throttle          int64
	hasThrottle       bool
	restoreToSnapshot string
	reverse           bool
}

func (c *Cluster) patchRelationship(rc *reqCtx, args []string) *apiError {
	if err := rc.checkRelationshipPatch(); err != nil {
		return err
	}
	l := c.lab
	l.mu.RLock()
	r := c.rels[args[0]]
	l.mu.RUnlock()
	if r == nil {
		return errNotFound("uuid")
	}
	j, err := c.startRelationshipPatch(rc, r)
	if err != nil {
		return err
	}
	return rc.accepted(j, "", nil)
}

// patchRelationshipsByQuery applies a PATCH to every relationship matching the query.
func (c *Cluster) patchRelationshipsByQuery(rc *reqCtx, _ []string) *apiError {
	if err := rc.checkRelationshipPatch(); err != nil {
		return err
	}
	return c.byQuery(rc, c.relationshipRecords(), func(id string) (*job, *apiError) {
		c.lab.mu.RLock()
		r := c.rels[id]
		c.lab.mu.RUnlock()
		if r == nil {
			return nil, errNotFound("uuid")
		}
		return c.startRelationshipPatch(rc, r)
	})
}

func (rc *reqCtx) checkRelationshipPatch() *apiError {
	return rc.checkBody("relationship", "uuid", "healthy", "lag_time", "exported_snapshot",
		"unhealthy_reason", "transfer", "last_transfer_type", "restore", "create_destination")
}

// startRelationshipPatch validates a PATCH of r and starts its job. Policy and schedule changes
// are applied before the state change (a state failure after them is 13303820).
func (c *Cluster) startRelationshipPatch(rc *reqCtx, r *relationship) (*job, *apiError) {
	l := c.lab
	p, err := c.parseSMPatch(rc, r)
	if err != nil {
		return nil, err
	}
	validateOnly, err := rc.q.boolParam("validate_only")
	if err != nil {
		return nil, err
	}
	l.mu.RLock()
	op, opErr := l.classify(r, p)
	transient := r.transient
	l.mu.RUnlock()
	if transient != "" && p.hasState {
		return nil, errBadRequest(CodeSMTransientState, "state",
			"The relationship is in a transient state (%s). Retry the operation later.", transient)
	}
	if opErr != nil && !l.opts.TransitionErrorsAsJobFailures {
		return nil, opErr
	}
	path := "/api/snapmirror/relationships/" + r.uuid
	if validateOnly {
		return c.startJob(http.MethodPatch, path, func() *apiError { return opErr }), nil
	}
	return c.startJob(http.MethodPatch, path, func() *apiError {
		l.mu.Lock()
		if p.policy != nil {
			r.policy = p.policy
		}
		if p.hasSchedule {
			r.schedule = p.schedule
			if r.dstCluster.rels[r.uuid] == r {
				r.dstCluster.armSchedule(r)
			}
		}
		if p.hasThrottle {
			r.throttle = p.throttle
		}
		l.mu.Unlock()
		if opErr != nil {
			if p.policy != nil || p.hasSchedule {
				return errBadRequest(CodeSMPolicyThenState, "", "The policy was updated but the state transition failed: %s", opErr.Message)
			}
			return opErr
		}
		return l.runStateOp(r, op, p)
	}), nil
}

// parseSMPatch validates the body of a relationship PATCH.
func (c *Cluster) parseSMPatch(rc *reqCtx, r *relationship) (*smPatch, *apiError) {
	l := c.lab
	l.mu.RLock()
	policyType, mirrored, srcP, dstP := r.policy.typ, r.mirrored(), r.srcPath(), r.dstPath()
	l.mu.RUnlock()
	p := &smPatch{}
	var err *apiError
	if p.state, p.hasState, err = rc.str("state"); err != nil {
		return nil, err
	}
	if p.hasState {
		switch {
		case syncOnlyStates[p.state] && policyType != "sync":
			return nil, errBadRequest(CodeSMInvalidStateAsync, "state", "Invalid state %q for an asynchronous SnapMirror relationship.", p.state)
		case p.state == "snapmirrored" && policyType == "sync":
			return nil, errBadRequest(CodeSMInvalidState, "state", "Invalid state %q for a synchronous SnapMirror relationship.", p.state)
		case p.state == "uninitialized":
			return nil, errBadRequest(l.opts.InvalidTargetStateCode, "state", "Invalid state transition requested.")
		case !asyncStates[p.state] && !syncOnlyStates[p.state]:
			return nil, errBadRequest(CodeSMUnknownState, "state", "Unknown value %q for the SnapMirror state.", p.state)
		}
	}
	if s, ok, err := rc.str("restore_to_snapshot"); err != nil {
		return nil, err
	} else if ok {
		if !p.hasState || p.state != "broken_off" {
			return nil, errBadRequest(CodeSMFlagOnlyBreak, "restore_to_snapshot", "Given flag is valid only when PATCH state is broken_off.")
		}
		p.restoreToSnapshot = s
	}
	for _, f := range []string{"preserve", "quick_resync"} {
		b, ok, err := rc.boolean(f)
		if err != nil {
			return nil, err
		}
		if ok && b && (!p.hasState || p.state != mirrored) {
			return nil, errBadRequest(CodeSMFlagOnlyResync, f, "Given flag is valid only when PATCH state is snapmirrored or in_sync.")
		}
	}
	if _, ok, err := rc.boolean("recover_after_break"); err != nil {
		return nil, err
	} else if ok {
		return nil, errBadRequest(13303834, "recover_after_break", "Given input is valid only for FlexGroup SnapMirror relationships.")
	}
	name, hasName, err := rc.str("policy.name")
	if err != nil {
		return nil, err
	}
	id, hasID, err := rc.str("policy.uuid")
	if err != nil {
		return nil, err
	}
	if hasName || hasID {
		l.mu.RLock()
		pol, perr := c.resolvePolicy(name, id)
		l.mu.RUnlock()
		if perr != nil {
			return nil, perr
		}
		if pol.typ != policyType {
			return nil, errBadRequest(13303866, "policy", "Cannot use policy %q with this relationship: its type differs.", pol.name)
		}
		p.policy = pol
	}
	if raw, ok := rc.raw("transfer_schedule"); ok {
		p.hasSchedule = true
		if raw != nil {
			s, _, err := rc.str("transfer_schedule.name")
			if err != nil {
				return nil, err
			}
			if _, ok := l.opts.Schedules[s]; !ok {
				return nil, errBadRequest(CodeSMScheduleNotFound, "transfer_schedule.name", "Schedule %q not found.", s)
			}
			p.schedule = s
		}
	}
	if n, ok, err := rc.integer("throttle"); err != nil {
		return nil, err
	} else if ok {
		p.throttle, p.hasThrottle = n, true
	}
	srcPath, hasSrc, err := rc.str("source.path")
	if err != nil {
		return nil, err
	}
	dstPath, hasDst, err := rc.str("destination.path")
	if err != nil {
		return nil, err
	}
	if hasSrc || hasDst {
		if !l.version.AtLeast(v991) {
			if hasSrc {
				return nil, errUnexpectedArg("source.path")
			}
			return nil, errUnexpectedArg("destination.path")
		}
		if srcPath != dstP || dstPath != srcP {
			return nil, errBadRequest(CodeSMPathMismatch, "source.path",
				"The source.path and destination.path do not match the relationship's destination and source paths.")
		}
		if !p.hasState || p.state != mirrored {
			return nil, errBadRequest(CodeSMStateChangeImpossible, "state", "Reversing a relationship requires state %q.", mirrored)
		}
		if p.hasSchedule || p.hasThrottle {
			return nil, errBadRequest(CodeInvalidContext, "transfer_schedule", "transfer_schedule and throttle cannot be modified while reversing a relationship.")
		}
		p.reverse = true
	}
	if (p.hasSchedule || p.hasThrottle) && !l.version.AtLeast(l.tsVersion) {
		return nil, errUnexpectedArg("transfer_schedule")
	}
	return p, nil
}

// classify maps the requested state onto an operation for r's current state, or the error the
// transition gets. Callers hold l.mu.
func (l *Lab) classify(r *relationship, p *smPatch) (smOp, *apiError) {
	if !p.hasState {
		return opNone, nil
	}
	o := l.opts
	invalid := func(code int) *apiError {
		return errBadRequest(code, "state", "Invalid state transition requested: %s to %s.", r.state, p.state)
	}
	if p.reverse {
		if r.transfer.active() {
			return opNone, errBadRequest(CodeSMResyncFailed, "", "Transition to %s state failed. Reason:Another transfer is in progress.", p.state)
		}
		if r.state == "uninitialized" {
			return opNone, invalid(CodeSMInvalidTransition)
		}
		return opReverse, nil
	}
	switch p.state {
	case r.mirrored():
		switch r.state {
		case "uninitialized":
			return opInitialize, nil
		case "paused":
			return opResume, nil
		case "broken_off":
			return opResync, nil
		case r.mirrored():
			if o.AlreadyInitializedError {
				return opNone, errBadRequest(CodeSMAlreadyInitialized, "state", "SnapMirror relationship is already initialized.")
			}
			return opNone, nil
		}
	case "paused":
		switch r.state {
		case r.mirrored():
			return opQuiesce, nil
		case "uninitialized":
			if o.RejectQuiesceUninitialized {
				return opNone, invalid(o.InvalidTargetStateCode)
			}
			return opQuiesce, nil
		case "paused":
			return opNone, nil
		case "broken_off":
			if o.AllowQuiesceBrokenOff {
				return opNone, nil
			}
			return opNone, invalid(CodeSMInvalidTransition)
		}
	case "broken_off":
		switch r.state {
		case r.mirrored(), "paused":
			if r.state == "paused" && r.quiescedFrom == "uninitialized" {
				return opNone, invalid(o.BreakUninitializedCode)
			}
			return opBreak, nil
		case "uninitialized":
			return opNone, invalid(o.BreakUninitializedCode)
		case "broken_off":
			return opNone, nil
		}
	}
	return opNone, invalid(CodeSMInvalidTransition)
}

// runStateOp carries out a state operation inside its job.
func (l *Lab) runStateOp(r *relationship, op smOp, p *smPatch) *apiError {
	switch op {
	case opInitialize:
		return l.opInitialize(r)
	case opResume:
		l.mu.Lock()
		defer l.mu.Unlock()
		if r.state != "paused" {
			return errBadRequest(CodeSMResumeFailed, "", "Transition from paused state failed: the relationship is %s.", r.state)
		}
		r.state = r.mirrored()
		if r.quiescedFrom == "uninitialized" {
			r.state = "uninitialized"
		}
		r.quiescedFrom = ""
		return nil
	case opQuiesce:
		return l.opQuiesce(r)
	case opBreak:
		return l.opBreak(r, p.restoreToSnapshot)
	case opResync:
		return l.opResync(r)
	case opReverse:
		return l.opReverse(r)
	}
	return nil
}

func (l *Lab) opInitialize(r *relationship) *apiError {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.state != "uninitialized" {
		return nil
	}
	if r.transfer.active() {
		return errBadRequest(CodeSMInitializeFailed, "", "Initialize operation failed. Reason:Another transfer is in progress.")
	}
	if !l.reachable(r.dstCluster, r.srcCluster) {
		return errBadRequest(CodeSMResyncFailed, "",
			"Transition to snapmirrored state failed. Reason:Failed to connect to the source cluster %q.", r.srcCluster.name)
	}
	l.startTransfer(r, "initialize", "")
	return nil
}

// opQuiesce stops new transfers and waits (lab time, up to QuiesceTimeout) for a running one.
func (l *Lab) opQuiesce(r *relationship) *apiError {
	l.mu.Lock()
	if r.state == "paused" {
		l.mu.Unlock()
		return nil
	}
	from := r.state
	r.transient = "quiescing"
	t := r.transfer
	l.mu.Unlock()
	if t.active() {
		if !l.waitLab(context.Background(), l.opts.QuiesceTimeout, t.done) {
			l.mu.Lock()
			r.transient = ""
			l.mu.Unlock()
			return errBadRequest(CodeSMQuiesceTimeout, "", "Quiesce operation timed out.")
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r.transient = ""
	if r.state == "broken_off" {
		return errBadRequest(CodeSMPauseFailed, "", "Transition to paused state failed: the relationship is broken_off.")
	}
	if from == "uninitialized" && r.state != "uninitialized" {
		from = r.state
	}
	r.quiescedFrom = from
	r.state = "paused"
	return nil
}

// opBreak makes the destination writable. A running transfer makes it fail with 13303808.
func (l *Lab) opBreak(r *relationship, restoreTo string) *apiError {
	l.mu.Lock()
	if r.transfer.active() {
		l.mu.Unlock()
		return errBadRequest(CodeSMBreakFailed, "", "Transition to broken_off state failed. Reason:Another transfer is in progress.")
	}
	if r.state == "uninitialized" {
		l.mu.Unlock()
		return errBadRequest(l.opts.BreakUninitializedCode, "", "Transition to broken_off state failed. Reason:The relationship is not initialized.")
	}
	dv := r.dstCluster.volumeByName(r.dstVol)
	if dv == nil {
		l.mu.Unlock()
		return errBadRequest(CodeSMBreakFailed, "", "Transition to broken_off state failed. Reason:Volume %q does not exist.", r.dstVol)
	}
	var restore *snapshot
	if restoreTo != "" {
		for _, s := range dv.snapshots {
			if s.name == restoreTo {
				restore = s
			}
		}
		if restore == nil {
			l.mu.Unlock()
			return errBadRequest(CodeSMBreakFailed, "restore_to_snapshot",
				"Transition to broken_off state failed. Reason:Snapshot copy %q does not exist.", restoreTo)
		}
	}
	r.state = "broken_off"
	r.quiescedFrom = ""
	dv.typ = "rw"
	dv.initialized = true
	l.mu.Unlock()
	if restore != nil {
		if _, err := syncTree(restore.dir, dv.dir); err != nil {
			return errorf(http.StatusInternalServerError, CodeInternal, "", "Failed to restore Snapshot copy %q: %v", restoreTo, err)
		}
	}
	return nil
}

// opResync turns the destination back into a DP volume and starts the resync transfer, which
// resets it to the newest common snapshot and then updates it.
func (l *Lab) opResync(r *relationship) *apiError {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.state != "broken_off" {
		return nil
	}
	if r.transfer.active() {
		return errBadRequest(CodeSMResyncFailed, "", "Transition to snapmirrored state failed. Reason:Another transfer is in progress.")
	}
	if !l.reachable(r.dstCluster, r.srcCluster) {
		return errBadRequest(CodeSMResyncFailed, "",
			"Transition to snapmirrored state failed. Reason:Failed to connect to the source cluster %q.", r.srcCluster.name)
	}
	sv, dv := r.srcCluster.volumeByName(r.srcVol), r.dstCluster.volumeByName(r.dstVol)
	if sv == nil || dv == nil {
		return errBadRequest(CodeSMResyncFailed, "", "Transition to snapmirrored state failed. Reason:Volume does not exist.")
	}
	if commonSnapshot(sv, dv) == nil {
		return errBadRequest(CodeSMResyncFailed, "",
			"Transition to snapmirrored state failed. Reason:No common Snapshot copy found between %q and %q.", r.srcPath(), r.dstPath())
	}
	dv.typ = "dp"
	l.startTransfer(r, "resync", "")
	return nil
}

// opReverse (9.9.1+) swaps the relationship's endpoints: it moves to the old source's cluster,
// the old destination becomes the RW source and the old source is resynchronized from it.
func (l *Lab) opReverse(r *relationship) *apiError {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.transfer.active() {
		return errBadRequest(CodeSMResyncFailed, "", "Transition to snapmirrored state failed. Reason:Another transfer is in progress.")
	}
	if !l.reachable(r.dstCluster, r.srcCluster) {
		return errBadRequest(CodeSMResyncFailed, "",
			"Transition to snapmirrored state failed. Reason:Failed to connect to the cluster %q.", r.srcCluster.name)
	}
	oldSrc, oldDst := r.srcCluster, r.dstCluster
	sv, dv := oldSrc.volumeByName(r.srcVol), oldDst.volumeByName(r.dstVol)
	if sv == nil || dv == nil {
		return errBadRequest(CodeSMResyncFailed, "", "Transition to snapmirrored state failed. Reason:Volume does not exist.")
	}
	if commonSnapshot(sv, dv) == nil {
		return errBadRequest(CodeSMResyncFailed, "", "Transition to snapmirrored state failed. Reason:No common Snapshot copy found.")
	}
	if r.schedTimer != nil {
		r.schedTimer.Stop()
		r.schedTimer = nil
	}
	delete(oldDst.rels, r.uuid)
	delete(oldSrc.srcEntries, r.uuid)
	r.srcCluster, r.dstCluster = oldDst, oldSrc
	r.srcSVM, r.dstSVM = r.dstSVM, r.srcSVM
	r.srcVol, r.dstVol = r.dstVol, r.srcVol
	r.dstCluster.rels[r.uuid] = r
	dv.typ = "rw"
	dv.initialized = true
	sv.typ = "dp"
	r.state = "broken_off"
	r.exportedSnap = nil
	r.dstCluster.armSchedule(r)
	l.startTransfer(r, "resync", "")
	return nil
}

// commonSnapshot is the newest snapshot of dst whose name src also has. Callers hold l.mu.
func commonSnapshot(src, dst *volume) *snapshot {
	names := map[string]bool{}
	for _, s := range src.snapshots {
		names[s.name] = true
	}
	for i := len(dst.snapshots) - 1; i >= 0; i-- {
		if names[dst.snapshots[i].name] {
			return dst.snapshots[i]
		}
	}
	return nil
}
