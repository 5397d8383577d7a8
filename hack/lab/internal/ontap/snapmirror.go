package ontap

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"vmdr.local/lab/internal/topology"
)

// /api/snapmirror/relationships (docs/ontap-api.md §6): GET (destination view, and the
// source view with list_destinations_only=true), POST and DELETE. PATCH and the state machine
// live in smstate.go, transfers in transfers.go.

// mirrored is the "in sync" state of r's policy type: snapmirrored (async) or in_sync (sync).
func (r *relationship) mirrored() string {
	if r.policy != nil && r.policy.typ == "sync" {
		return "in_sync"
	}
	return "snapmirrored"
}

func endpointRecord(path string, cl *Cluster) record {
	return record{
		"path":    path,
		"svm":     ref(cl.svm.name, cl.svm.uuid, "/api/svm/svms/"+cl.svm.uuid),
		"cluster": ref(cl.name, cl.uuid, "/api/cluster/peers/"+cl.uuid),
	}
}

// renderRelationship renders every field r has at the lab's version. Callers hold l.mu.
func (l *Lab) renderRelationship(r *relationship) record {
	rec := record{
		"uuid":        r.uuid,
		"source":      endpointRecord(r.srcPath(), r.srcCluster),
		"destination": endpointRecord(r.dstPath(), r.dstCluster),
		"policy": record{
			"name": r.policy.name, "uuid": r.policy.uuid, "type": r.policy.typ,
			"_links": selfLink("/api/snapmirror/policies/" + r.policy.uuid),
		},
		"state":   r.state,
		"healthy": r.healthy,
		"restore": r.restore,
		"_links":  selfLink("/api/snapmirror/relationships/" + r.uuid),
	}
	if r.exportedSnap != nil {
		rec["exported_snapshot"] = r.exportedSnap.name
		rec["lag_time"] = isoDuration(l.clk.Now().Sub(r.exportedSnap.createTime))
	}
	if len(r.unhealthy) > 0 {
		reasons := make([]any, 0, len(r.unhealthy))
		for _, u := range r.unhealthy {
			args := make([]any, 0, len(u.args))
			for _, a := range u.args {
				args = append(args, a)
			}
			if l.version.AtLeast(v991) {
				reasons = append(reasons, record{"code": strconv.Itoa(u.code), "message": u.message, "arguments": args})
			} else {
				reasons = append(reasons, record{"code": u.code, "message": u.message, "parameters": args})
			}
		}
		rec["unhealthy_reason"] = reasons
	}
	if t := r.transfer; t != nil {
		tr := record{"state": t.state, "bytes_transferred": l.bytesSoFar(t)}
		if t.active() {
			tr["uuid"] = t.uuid
			tr["_links"] = selfLink("/api/snapmirror/relationships/" + r.uuid + "/transfers/" + t.uuid)
		}
		if l.version.AtLeast(v991) && !t.end.IsZero() {
			tr["end_time"] = isoTime(t.end)
			tr["total_duration"] = isoDuration(t.end.Sub(t.start))
		}
		rec["transfer"] = tr
	}
	if l.version.AtLeast(l.tsVersion) {
		if r.lastTransferType != "" {
			rec["last_transfer_type"] = r.lastTransferType
		}
		if r.schedule != "" {
			rec["transfer_schedule"] = record{"name": r.schedule, "uuid": scheduleUUID(r.dstCluster, r.schedule)}
		}
		rec["throttle"] = r.throttle
	}
	return rec
}

func scheduleUUID(c *Cluster, name string) string {
	return topology.UUIDFor("ontap-schedule", c.name+"/"+name)
}

// relationshipRecords renders the relationships whose destination is here, by uuid.
func (c *Cluster) relationshipRecords() map[string]record {
	c.lab.mu.RLock()
	defer c.lab.mu.RUnlock()
	out := map[string]record{}
	for id, r := range c.rels {
		out[id] = c.lab.renderRelationship(r)
	}
	return out
}

func (c *Cluster) getRelationships(rc *reqCtx, _ []string) *apiError {
	src, err := rc.q.boolParam("list_destinations_only")
	if err != nil {
		return err
	}
	l := c.lab
	l.mu.RLock()
	set := c.rels
	if src {
		set = c.srcEntries
	}
	recs := make([]record, 0, len(set))
	for _, r := range set {
		recs = append(recs, l.renderRelationship(r))
	}
	l.mu.RUnlock()
	return rc.list(relResource, recs)
}

func (c *Cluster) getRelationship(rc *reqCtx, args []string) *apiError {
	src, err := rc.q.boolParam("list_destinations_only")
	if err != nil {
		return err
	}
	l := c.lab
	l.mu.RLock()
	r := c.rels[args[0]]
	if src || r == nil {
		r = c.srcEntries[args[0]]
	}
	var rec record
	if r != nil {
		rec = l.renderRelationship(r)
	}
	l.mu.RUnlock()
	if rec == nil {
		return errNotFound("uuid")
	}
	return rc.instance(relResource, rec)
}

// splitPath splits "svm:volume".
func splitPath(p string) (svmName, vol string, ok bool) {
	i := strings.Index(p, ":")
	if i <= 0 {
		return "", "", false
	}
	return p[:i], p[i+1:], true
}

func (c *Cluster) postRelationship(rc *reqCtx, _ []string) *apiError {
	if err := rc.checkBody("relationship", "uuid", "healthy", "lag_time", "exported_snapshot",
		"unhealthy_reason", "transfer", "last_transfer_type"); err != nil {
		return err
	}
	srcPath, ok, err := rc.str("source.path")
	if err != nil {
		return err
	}
	if !ok || srcPath == "" {
		return errMissing("source.path")
	}
	dstPath, ok, err := rc.str("destination.path")
	if err != nil {
		return err
	}
	if !ok || dstPath == "" {
		return errMissing("destination.path")
	}
	dstSVM, dstVol, ok := splitPath(dstPath)
	if !ok {
		return errBadRequest(CodeSMNoColon, "destination.path", `destination.path provided does not contain ":".`)
	}
	srcSVM, srcVol, ok := splitPath(srcPath)
	if !ok {
		return errBadRequest(CodeSMNoColon, "source.path", `source.path provided does not contain ":".`)
	}
	if srcVol == "" || dstVol == "" {
		return errBadRequest(CodeSMNotSupported, "destination.path",
			"This operation is not supported for SnapMirror relationships between these endpoints.")
	}
	polName, _, err := rc.str("policy.name")
	if err != nil {
		return err
	}
	polUUID, _, err := rc.str("policy.uuid")
	if err != nil {
		return err
	}
	state, hasState, err := rc.str("state")
	if err != nil {
		return err
	}
	createDst, _, err := rc.boolean("create_destination.enabled")
	if err != nil {
		return err
	}
	if hasState && !createDst {
		return errBadRequest(CodeSMStateOnCreate, "state",
			"Specifying a state when creating a relationship is only supported when creating a destination endpoint.")
	}
	if restore, _, err := rc.boolean("restore"); err != nil {
		return err
	} else if restore {
		return errBadRequest(CodeSMNotSupported, "restore",
			"This operation is not supported for SnapMirror relationships between these endpoints.")
	}
	schedule, _, err := rc.str("transfer_schedule.name")
	if err != nil {
		return err
	}
	throttle, _, err := rc.integer("throttle")
	if err != nil {
		return err
	}

	l := c.lab
	l.mu.RLock()
	pol, aerr := c.resolvePolicy(polName, polUUID)
	if aerr == nil && hasState && state != pol.mirrorState() {
		aerr = errBadRequest(13303874, "state", "Specified state is not supported when creating this relationship.")
	}
	if aerr == nil {
		aerr = c.checkCreate(srcSVM, srcVol, dstSVM, dstVol, schedule, createDst)
	}
	l.mu.RUnlock()
	if aerr != nil {
		return aerr
	}

	validateOnly, err := rc.q.boolParam("validate_only")
	if err != nil {
		return err
	}
	var newUUID string
	j := c.startJob(http.MethodPost, "/api/snapmirror/relationships", func() *apiError {
		if validateOnly {
			return nil
		}
		if createDst {
			if err := c.provisionDestination(srcSVM, srcVol, dstVol); err != nil {
				return err
			}
		}
		l.mu.Lock()
		r, err := c.createRelationship(srcSVM, srcVol, dstSVM, dstVol, pol.name, schedule)
		if err != nil {
			l.mu.Unlock()
			return err
		}
		r.throttle = throttle
		newUUID = r.uuid
		c.armSchedule(r)
		if hasState {
			l.startTransfer(r, "initialize", "")
		}
		l.mu.Unlock()
		return nil
	})
	loc := "/api/snapmirror/relationships/?destination.path=" + url.QueryEscape(dstPath)
	if l.opts.RelationshipLocationByUUID && !validateOnly {
		// The uuid is only known once the job ran; wait for it briefly.
		<-j.done
		loc = "/api/snapmirror/relationships/" + newUUID
	}
	rec := record{"source": record{"path": srcPath}, "destination": record{"path": dstPath}}
	return rc.accepted(j, loc, rec)
}

func (p *smPolicy) mirrorState() string {
	if p.typ == "sync" {
		return "in_sync"
	}
	return "snapmirrored"
}

// resolvePolicy finds a policy by name and/or uuid; none given selects "Asynchronous". Callers
// hold l.mu.
func (c *Cluster) resolvePolicy(name, uuid string) (*smPolicy, *apiError) {
	if name == "" && uuid == "" {
		name = "Asynchronous"
	}
	p := c.smPolicyByRef(name, uuid)
	if p == nil {
		return nil, errBadRequest(CodeSMInvalidPolicy, "policy", "Invalid SnapMirror policy name/UUID %q.", name+uuid)
	}
	return p, nil
}

// checkCreate validates a new relationship's endpoints on destination cluster c. Callers hold
// l.mu.
func (c *Cluster) checkCreate(srcSVM, srcVol, dstSVM, dstVol, schedule string, createDst bool) *apiError {
	l := c.lab
	if dstSVM != c.svm.name {
		return errBadRequest(CodeSMPeerSVMUnknown, "destination.path",
			"Could not retrieve the UUID of SVM %q: the destination endpoint must be on this cluster.", dstSVM)
	}
	src := l.clusterBySVM(srcSVM)
	if src == nil {
		return errBadRequest(CodeSMPeerSVMUnknown, "source.path", "Could not retrieve the UUID of SVM %q.", srcSVM)
	}
	if !l.reachable(c, src) {
		return errBadRequest(CodeSMPeerClusterUnknown, "source.path",
			"Could not retrieve information for the peer cluster %q.", src.name)
	}
	if src == c && srcVol == dstVol {
		return errBadRequest(CodeSMSameVolume, "destination.path", "Source volume is the same as the destination volume.")
	}
	sv := src.volumeByName(srcVol)
	if sv == nil || src.creating(sv) {
		return errBadRequest(CodeVolNotFound, "source.path", "Volume %q does not exist in Vserver %q.", srcVol, srcSVM)
	}
	if sv.state != "online" {
		return errBadRequest(CodeSMNotSupported, "source.path", "Source volume %q is not online.", srcVol)
	}
	dv := c.volumeByName(dstVol)
	if createDst {
		if dv != nil {
			return errorf(http.StatusConflict, CodeDuplicate, "destination.path", "Duplicate volume name %q.", dstVol)
		}
	} else {
		if dv == nil || c.creating(dv) {
			return errBadRequest(CodeVolNotFound, "destination.path", "Volume %q does not exist in Vserver %q.", dstVol, dstSVM)
		}
		if dv.state != "online" {
			return errBadRequest(CodeSMNotSupported, "destination.path", "Destination volume %q is not online.", dstVol)
		}
		if dv.typ != "dp" && l.opts.RejectCreateOverRW {
			return errBadRequest(CodeSMDestNotDP, "destination.path", "Destination must be a dp volume.")
		}
	}
	for _, r := range c.rels {
		if r.dstVol == dstVol {
			return errorf(http.StatusConflict, CodeSMDuplicateDestination, "destination.path",
				"Relationship with destination %q already exists.", dstSVM+":"+dstVol)
		}
	}
	if schedule != "" {
		if _, ok := l.opts.Schedules[schedule]; !ok {
			return errBadRequest(CodeSMScheduleNotFound, "transfer_schedule", "Schedule %q not found.", schedule)
		}
	}
	return nil
}

// provisionDestination creates the DP destination volume for create_destination.
func (c *Cluster) provisionDestination(srcSVM, srcVol, dstVol string) *apiError {
	l := c.lab
	l.mu.Lock()
	defer l.mu.Unlock()
	src := l.clusterBySVM(srcSVM)
	if src == nil {
		return errBadRequest(CodeSMPeerSVMUnknown, "source.path", "Could not retrieve the UUID of SVM %q.", srcSVM)
	}
	sv := src.volumeByName(srcVol)
	if sv == nil {
		return errBadRequest(CodeVolNotFound, "source.path", "Volume %q does not exist in Vserver %q.", srcVol, srcSVM)
	}
	if c.volumeByName(dstVol) != nil {
		return errorf(http.StatusConflict, CodeDuplicate, "destination.path", "Duplicate volume name %q.", dstVol)
	}
	v := c.addVolume(dstVol, "dp", sv.size, sv.san, l.clk.Now())
	v.policy = c.policyByName("default")
	return nil
}

// createRelationship registers a relationship on destination cluster c. Callers hold l.mu.
func (c *Cluster) createRelationship(srcSVM, srcVol, dstSVM, dstVol, policy, schedule string) (*relationship, *apiError) {
	l := c.lab
	if err := c.checkCreate(srcSVM, srcVol, dstSVM, dstVol, schedule, false); err != nil {
		return nil, err
	}
	pol, err := c.resolvePolicy(policy, "")
	if err != nil {
		return nil, err
	}
	dv := c.volumeByName(dstVol)
	r := &relationship{
		uuid:   c.newUUID("relationship"),
		srcSVM: srcSVM, srcVol: srcVol, dstSVM: dstSVM, dstVol: dstVol,
		srcCluster: l.clusterBySVM(srcSVM), dstCluster: c,
		policy: pol, state: "uninitialized", schedule: schedule, healthy: true,
	}
	if dv.typ != "dp" {
		// The 9.8 reverse-resync path: a relationship over an RW volume reports broken_off until
		// it is resynchronized.
		r.state = "broken_off"
	}
	c.rels[r.uuid] = r
	return r, nil
}

func (c *Cluster) deleteRelationship(rc *reqCtx, args []string) *apiError {
	flag, err := rc.deleteFlag()
	if err != nil {
		return err
	}
	r := c.relationshipToDelete(args[0], flag)
	if r == nil {
		return errNotFound("uuid")
	}
	return rc.accepted(c.startRelationshipDelete(r, flag), "", nil)
}

// deleteRelationshipsByQuery deletes every relationship matching the query (destination view).
func (c *Cluster) deleteRelationshipsByQuery(rc *reqCtx, _ []string) *apiError {
	flag, err := rc.deleteFlag()
	if err != nil {
		return err
	}
	recs := c.relationshipRecords()
	if flag == "source_only" || flag == "source_info_only" {
		c.lab.mu.RLock()
		recs = map[string]record{}
		for id, r := range c.srcEntries {
			recs[id] = c.lab.renderRelationship(r)
		}
		c.lab.mu.RUnlock()
	}
	return c.byQuery(rc, recs, func(id string) (*job, *apiError) {
		r := c.relationshipToDelete(id, flag)
		if r == nil {
			return nil, errNotFound("uuid")
		}
		return c.startRelationshipDelete(r, flag), nil
	})
}

// deleteFlag reads the mutually exclusive destination_only / source_only / source_info_only.
func (rc *reqCtx) deleteFlag() (string, *apiError) {
	var flags []string
	for _, f := range []string{"destination_only", "source_only", "source_info_only"} {
		b, err := rc.q.boolParam(f)
		if err != nil {
			return "", err
		}
		if b {
			flags = append(flags, f)
		}
	}
	if len(flags) > 1 {
		return "", errBadRequest(CodeInvalidContext, flags[1], "The %q and %q flags are mutually exclusive.", flags[0], flags[1])
	}
	if len(flags) == 1 {
		return flags[0], nil
	}
	return "", nil
}

// relationshipToDelete finds the relationship a DELETE with flag addresses on this cluster: the
// source's entries for source_only / source_info_only, the destination's otherwise.
func (c *Cluster) relationshipToDelete(id, flag string) *relationship {
	l := c.lab
	l.mu.RLock()
	defer l.mu.RUnlock()
	if flag == "source_only" || flag == "source_info_only" {
		if r := c.srcEntries[id]; r != nil {
			return r
		}
		if l.version.AtLeast(v991) && flag == "source_info_only" {
			return c.rels[id]
		}
		return nil
	}
	return c.rels[id]
}

func (c *Cluster) startRelationshipDelete(r *relationship, flag string) *job {
	l := c.lab
	return c.startJob(http.MethodDelete, "/api/snapmirror/relationships/"+r.uuid, func() *apiError {
		var dirs []string
		var err *apiError
		l.mu.Lock()
		switch flag {
		case "destination_only":
			l.dropRelationship(r)
		case "source_only":
			dirs, err = l.release(r, true)
		case "source_info_only":
			dirs, err = l.release(r, false)
		default:
			if !l.reachable(r.dstCluster, r.srcCluster) {
				err = errBadRequest(CodeSMReleaseFailed, "",
					"SnapMirror release has failed: could not contact the source cluster %q.", r.srcCluster.name)
				break
			}
			dirs, err = l.release(r, true)
			if err == nil {
				dirs = append(dirs, l.dropRelationshipSnapshots(r, r.dstCluster, r.dstVol)...)
				l.dropRelationship(r)
			}
		}
		l.mu.Unlock()
		removeDirs(dirs)
		return err
	})
}

// dropRelationship removes r from its destination cluster, stopping its schedule and any
// transfer. Callers hold l.mu.
func (l *Lab) dropRelationship(r *relationship) {
	if r.schedTimer != nil {
		r.schedTimer.Stop()
		r.schedTimer = nil
	}
	if t := r.transfer; t.active() {
		l.endTransfer(r, t, "aborted", "")
	}
	delete(r.dstCluster.rels, r.uuid)
}

// release removes the source's knowledge of r (list_destinations_only) and, with snapshots,
// the relationship's snapshots on the source volume. Callers hold l.mu.
func (l *Lab) release(r *relationship, snapshots bool) ([]string, *apiError) {
	if t := r.transfer; t.active() && r.dstCluster.rels[r.uuid] == r {
		return nil, errBadRequest(CodeSMReleaseFailed, "", "SnapMirror release has failed: a transfer is in progress.")
	}
	delete(r.srcCluster.srcEntries, r.uuid)
	if !snapshots {
		return nil, nil
	}
	return l.dropRelationshipSnapshots(r, r.srcCluster, r.srcVol), nil
}

// dropRelationshipSnapshots deletes r's SnapMirror snapshots (those no clone holds) on a volume
// and returns their directories. Callers hold l.mu.
func (l *Lab) dropRelationshipSnapshots(r *relationship, c *Cluster, volName string) []string {
	v := c.volumeByName(volName)
	if v == nil {
		return nil
	}
	var dirs []string
	for _, s := range append([]*snapshot(nil), v.snapshots...) {
		if s.relUUID == r.uuid && len(s.clones) == 0 {
			dirs = append(dirs, c.dropSnapshot(v, s))
			if r.exportedSnap == s {
				r.exportedSnap = nil
			}
		}
	}
	return dirs
}

// isProtected reports whether v is the source of a SnapMirror relationship. Callers hold l.mu.
func (l *Lab) isProtected(c *Cluster, v *volume) bool {
	for _, o := range l.clusters {
		for _, r := range o.rels {
			if r.srcCluster == c && r.srcVol == v.name {
				return true
			}
		}
	}
	return false
}

// isEndpoint reports whether v is the source or destination of a relationship. Callers hold
// l.mu.
func (l *Lab) isEndpoint(c *Cluster, v *volume) bool {
	if l.isProtected(c, v) {
		return true
	}
	for _, r := range c.rels {
		if r.dstVol == v.name {
			return true
		}
	}
	return false
}

// snapshotInUse reports whether a SnapMirror snapshot is the newest one its (still existing)
// relationship has on the volume, i.e. the base of its next update. Callers hold l.mu.
func (l *Lab) snapshotInUse(c *Cluster, v *volume, s *snapshot) bool {
	alive := false
	for _, o := range l.clusters {
		if o.rels[s.relUUID] != nil {
			alive = true
		}
	}
	if !alive {
		return false
	}
	for i := len(v.snapshots) - 1; i >= 0; i-- {
		if v.snapshots[i].relUUID == s.relUUID {
			return v.snapshots[i] == s
		}
	}
	return false
}
