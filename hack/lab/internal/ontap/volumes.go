package ontap

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"vmdr.local/lab/internal/topology"
)

// /api/storage/volumes (docs/ontap-api.md §8): GET, POST (plain and FlexClone), PATCH (state,
// nas.path, export policy, split, size, comment, name) and DELETE, all writes as jobs.

const defaultVolumeSize = 20 << 20

func (c *Cluster) aggregateRef() record {
	name := strings.ReplaceAll(c.name, "-", "_") + "_aggr1"
	id := topology.UUIDFor("ontap-aggregate", c.name+"/"+name)
	return ref(name, id, "/api/storage/aggregates/"+id)
}

func (c *Cluster) volumeRef(v *volume) record {
	return ref(v.name, v.uuid, "/api/storage/volumes/"+v.uuid)
}

// renderVolume renders every field, expensive ones included. Callers hold l.mu.
func (c *Cluster) renderVolume(v *volume) record {
	r := record{
		"uuid":            v.uuid,
		"name":            v.name,
		"type":            v.typ,
		"state":           v.state,
		"style":           "flexvol",
		"size":            v.size,
		"create_time":     isoTime(v.createTime),
		"language":        "c.utf_8",
		"svm":             c.svmRef(),
		"aggregates":      []any{c.aggregateRef()},
		"is_svm_root":     false,
		"snapmirror":      record{"is_protected": c.lab.isProtected(c, v)},
		"space":           record{"size": v.size, "available": v.size},
		"guarantee":       record{"type": "none", "honored": true},
		"snapshot_policy": c.snapshotPolicyRef(v),
		"error_state":     record{"has_bad_blocks": false, "is_inconsistent": false},
		"_links":          selfLink("/api/storage/volumes/" + v.uuid),
	}
	if v.comment != "" {
		r["comment"] = v.comment
	}
	cl := record{"is_flexclone": v.clone != nil}
	if v.clone != nil {
		cl["parent_volume"] = ref(v.clone.parentVolName, v.clone.parentVolUUID, "/api/storage/volumes/"+v.clone.parentVolUUID)
		cl["parent_snapshot"] = ref(v.clone.parentSnapName, v.clone.parentSnapUUID,
			"/api/storage/volumes/"+v.clone.parentVolUUID+"/snapshots/"+v.clone.parentSnapUUID)
		cl["parent_svm"] = ref(v.clone.parentSVMName, v.clone.parentSVMUUID, "/api/svm/svms/"+v.clone.parentSVMUUID)
		cl["split_initiated"] = v.clone.splitInitiated
		cl["split_complete_percent"] = v.clone.splitPercent
		cl["split_estimate"] = 0
	}
	r["clone"] = cl
	nas := record{"security_style": "unix", "uid": 0, "gid": 0, "unix_permissions": 493}
	if v.policy != nil {
		nas["export_policy"] = record{"name": v.policy.name, "id": v.policy.id}
	}
	if v.junction != "" {
		nas["path"] = v.junction
	}
	r["nas"] = nas
	return r
}

// snapshotPolicyRef is the volume's snapshot policy: "none" for DP volumes, else "default".
func (c *Cluster) snapshotPolicyRef(v *volume) record {
	name := "default"
	if v.typ == "dp" {
		name = "none"
	}
	return record{"name": name, "uuid": topology.UUIDFor("ontap-snapshot-policy", c.name+"/"+name)}
}

// volumeRecords renders the volumes the API shows (not those still being created).
func (c *Cluster) volumeRecords() []record {
	recs := make([]record, 0, len(c.vols))
	for _, v := range c.vols {
		if !c.creating(v) {
			recs = append(recs, c.renderVolume(v))
		}
	}
	return recs
}

// creating reports whether v is a volume whose create job has not finished.
func (c *Cluster) creating(v *volume) bool { return v.state == "creating" }

func (c *Cluster) getVolumes(rc *reqCtx, _ []string) *apiError {
	c.lab.mu.RLock()
	recs := c.volumeRecords()
	c.lab.mu.RUnlock()
	return rc.list(volumeResource, recs)
}

func (c *Cluster) getVolume(rc *reqCtx, args []string) *apiError {
	c.lab.mu.RLock()
	v := c.vols[args[0]]
	var rec record
	if v != nil && !c.creating(v) {
		rec = c.renderVolume(v)
	}
	c.lab.mu.RUnlock()
	if rec == nil {
		return errNotFound("uuid")
	}
	return rc.instance(volumeResource, rec)
}

// svmFromBody checks svm.name / svm.uuid in the body (required when required is set).
func (rc *reqCtx) svmFromBody(required bool) *apiError {
	name, hasName, err := rc.str("svm.name")
	if err != nil {
		return err
	}
	id, hasID, err := rc.str("svm.uuid")
	if err != nil {
		return err
	}
	if !hasName && !hasID {
		if required && !rc.tunneled {
			return errBadRequest(CodeSVMMissing, "svm", `No SVM was specified. Either "svm.name" or "svm.uuid" must be supplied.`)
		}
		return nil
	}
	s := rc.c.svm
	if hasName && hasID && (name != s.name || id != s.uuid) && (name == s.name || id == s.uuid) {
		return errBadRequest(CodeSVMMismatch, "svm", `The specified "svm.uuid" and "svm.name" do not refer to the same SVM.`)
	}
	if (hasName && name != s.name) || (hasID && id != s.uuid) {
		return errorf(http.StatusNotFound, CodeSVMNotFound, "svm.name", "SVM %q does not exist.", name+id)
	}
	return nil
}

func (c *Cluster) postVolume(rc *reqCtx, _ []string) *apiError {
	if err := rc.checkBody("volume", "uuid", "create_time"); err != nil {
		return err
	}
	if err := rc.svmFromBody(true); err != nil {
		return err
	}
	name, ok, err := rc.str("name")
	if err != nil {
		return err
	}
	if !ok || name == "" {
		return errMissing("name")
	}
	if !validName(name) {
		return errInvalidValue("name", name, "")
	}
	typ, hasType, err := rc.str("type")
	if err != nil {
		return err
	}
	typ = strings.ToLower(typ)
	if !hasType {
		typ = "rw"
	}
	if typ != "rw" && typ != "dp" {
		return errInvalidValue("type", typ, "")
	}
	size := int64(defaultVolumeSize)
	if raw, ok := rc.raw("size"); ok {
		n, ok := parseSize(raw)
		if !ok {
			return errInvalidValue("size", scalarString(raw), "")
		}
		size = n
	}
	comment, _, err := rc.str("comment")
	if err != nil {
		return err
	}
	path, hasPath, err := rc.str("nas.path")
	if err != nil {
		return err
	}
	if hasPath && path != "" && !strings.HasPrefix(path, "/") {
		return errBadRequest(CodeVolNASPathInvalid, "nas.path", `"nas.path" is invalid.`)
	}
	polName, hasPol, err := rc.str("nas.export_policy.name")
	if err != nil {
		return err
	}
	isClone, _, err := rc.boolean("clone.is_flexclone")
	if err != nil {
		return err
	}
	_, hasParentName := rc.raw("clone.parent_volume")
	if hasParentName {
		isClone = true
	}
	state, hasState, err := rc.str("state")
	if err != nil {
		return err
	}
	if hasState && state != "online" && state != "offline" {
		return errInvalidValue("state", state, "")
	}

	l := c.lab
	l.mu.Lock()
	if c.volumeByName(name) != nil {
		l.mu.Unlock()
		return errorf(http.StatusConflict, CodeDuplicate, "name", "Duplicate volume name %q.", name)
	}
	var pol *exportPolicy
	if hasPol {
		if pol = c.policyByName(polName); pol == nil {
			l.mu.Unlock()
			return errBadRequest(CodeExportPolicyNotFound, "nas.export_policy.name", "Export policy %q does not exist.", polName)
		}
	}
	var plan *clonePlan
	if isClone {
		p, aerr := c.planClone(rc, name)
		if aerr != nil {
			l.mu.Unlock()
			return aerr
		}
		plan = p
	} else if _, ok := rc.raw("aggregates"); !ok {
		if _, ok := rc.raw("style"); !ok {
			l.mu.Unlock()
			return errBadRequest(787140, "aggregates", `One of "aggregates.uuid", "aggregates.name", or "style" must be provided.`)
		}
	}
	// Reserve the name: the volume exists, hidden, until its job completes.
	v := c.addVolume(name, typ, size, false, l.clk.Now())
	v.state = "creating"
	v.comment = comment
	if plan != nil {
		size = plan.parent.size
		v.size = size
		v.san = plan.parent.san
		v.typ = "rw"
		if hasType {
			v.typ = typ
		}
		if plan.snap != nil {
			plan.snap.clones[v.uuid] = true
		}
	}
	l.mu.Unlock()

	finalState := "online"
	if hasState {
		finalState = state
	}
	j := c.startJob(http.MethodPost, "/api/storage/volumes/?name="+url.QueryEscape(name), func() *apiError {
		if plan != nil {
			if err := c.materializeClone(v, plan); err != nil {
				return err
			}
		} else if err := os.MkdirAll(v.dir, 0o755); err != nil {
			c.abortCreate(v, plan)
			return errorf(http.StatusInternalServerError, CodeInternal, "", "Failed to create volume: %v", err)
		}
		l.mu.Lock()
		if hasPath && path != "" {
			if aerr := c.checkMount(v, path, finalState); aerr != nil {
				l.mu.Unlock()
				c.abortCreate(v, plan)
				return aerr
			}
			v.junction = path
		}
		v.state = finalState
		if pol != nil {
			v.policy = pol
		} else if v.policy == nil {
			v.policy = c.policyByName("default")
		}
		l.mu.Unlock()
		return nil
	}, func() { c.abortCreate(v, plan) })
	rec := record{"name": name, "svm": record{"name": c.svm.name}}
	if !l.opts.OmitUUIDInRecords {
		rec["uuid"] = v.uuid
	}
	c.mutated("CreateVolume", name)
	return rc.accepted(j, "/api/storage/volumes/?name="+url.QueryEscape(name), rec)
}

// abortCreate removes a volume whose create job failed.
func (c *Cluster) abortCreate(v *volume, plan *clonePlan) {
	l := c.lab
	l.mu.Lock()
	delete(c.vols, v.uuid)
	for _, ln := range v.luns {
		c.removeLUN(ln)
	}
	if plan != nil {
		delete(plan.snap.clones, v.uuid)
	}
	l.mu.Unlock()
	_ = os.RemoveAll(v.dir)
}

func validName(s string) bool {
	if s == "" || len(s) > 203 {
		return false
	}
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '.'))
		if !ok {
			return false
		}
	}
	return true
}

// lookupVolume returns the visible volume with this uuid. Callers hold l.mu.
func (c *Cluster) lookupVolume(id string) *volume {
	v := c.vols[id]
	if v == nil || c.creating(v) {
		return nil
	}
	return v
}

func (c *Cluster) patchVolume(rc *reqCtx, args []string) *apiError {
	if err := rc.checkBody("volume", "uuid", "create_time"); err != nil {
		return err
	}
	c.lab.mu.RLock()
	v := c.lookupVolume(args[0])
	c.lab.mu.RUnlock()
	if v == nil {
		return errNotFound("uuid")
	}
	j, err := c.startVolumePatch(rc, v)
	if err != nil {
		return err
	}
	return rc.accepted(j, "", nil)
}

// volumePatch is a validated PATCH body.
type volumePatch struct {
	state, path, polName, comment, name string
	hasState, hasPath, hasPol           bool
	hasComment, hasName, split          bool
	size                                int64
	hasSize                             bool
}

func (rc *reqCtx) parseVolumePatch() (*volumePatch, *apiError) {
	p := &volumePatch{}
	var err *apiError
	if p.state, p.hasState, err = rc.str("state"); err != nil {
		return nil, err
	}
	if p.hasState && p.state != "online" && p.state != "offline" {
		return nil, errInvalidValue("state", p.state, "")
	}
	if p.path, p.hasPath, err = rc.str("nas.path"); err != nil {
		return nil, err
	}
	if p.hasPath && p.path != "" && !strings.HasPrefix(p.path, "/") {
		return nil, errBadRequest(CodeVolNASPathInvalid, "nas.path", `specified "nas.path" is invalid.`)
	}
	if p.polName, p.hasPol, err = rc.str("nas.export_policy.name"); err != nil {
		return nil, err
	}
	if id, ok, err := rc.integer("nas.export_policy.id"); err != nil {
		return nil, err
	} else if ok {
		rc.l.mu.RLock()
		pol := rc.c.policies[id]
		rc.l.mu.RUnlock()
		if pol == nil {
			return nil, errBadRequest(CodeExportPolicyNotFound, "nas.export_policy.id", "Export policy %d does not exist.", id)
		}
		p.polName, p.hasPol = pol.name, true
	}
	if p.comment, p.hasComment, err = rc.str("comment"); err != nil {
		return nil, err
	}
	if p.name, p.hasName, err = rc.str("name"); err != nil {
		return nil, err
	}
	if p.hasName && !validName(p.name) {
		return nil, errInvalidValue("name", p.name, "")
	}
	split, hasSplit, err := rc.boolean("clone.split_initiated")
	if err != nil {
		return nil, err
	}
	if hasSplit && !split {
		return nil, errBadRequest(CodeVolSplitInvalid, "clone.split_initiated", "Specifying a value is not valid for initiating volume FlexClone split operation.")
	}
	p.split = split
	if raw, ok := rc.raw("size"); ok {
		n, ok := parseSize(raw)
		if !ok {
			return nil, errInvalidValue("size", scalarString(raw), "")
		}
		p.size, p.hasSize = n, true
	}
	if t, ok, err := rc.str("type"); err != nil {
		return nil, err
	} else if ok {
		return nil, errBadRequest(CodeInvalidContext, "type", "Field \"type\" cannot be modified (volume type %q).", t)
	}
	return p, nil
}

// startVolumePatch validates a PATCH of v and starts its job.
func (c *Cluster) startVolumePatch(rc *reqCtx, v *volume) (*job, *apiError) {
	p, err := rc.parseVolumePatch()
	if err != nil {
		return nil, err
	}
	l := c.lab
	l.mu.RLock()
	var pol *exportPolicy
	if p.hasPol {
		pol = c.policyByName(p.polName)
	}
	isClone := v.clone != nil
	l.mu.RUnlock()
	if p.hasPol && pol == nil {
		return nil, errBadRequest(CodeExportPolicyNotFound, "nas.export_policy.name", "Export policy %q does not exist.", p.polName)
	}
	if p.split && !isClone {
		return nil, errBadRequest(CodeVolSplitInvalid, "clone.split_initiated", "Volume %q is not a FlexClone volume.", v.name)
	}
	return c.startJob(http.MethodPatch, "/api/storage/volumes/"+v.uuid, func() *apiError {
		return c.applyVolumePatch(v, p, pol)
	}), nil
}

func (c *Cluster) applyVolumePatch(v *volume, p *volumePatch, pol *exportPolicy) *apiError {
	l := c.lab
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.vols[v.uuid] != v {
		return errNotFound("uuid")
	}
	if p.hasName && p.name != v.name {
		if c.volumeByName(p.name) != nil {
			return errorf(http.StatusConflict, CodeDuplicate, "name", "Duplicate volume name %q.", p.name)
		}
		v.name = p.name
	}
	if p.hasComment {
		v.comment = p.comment
	}
	if p.hasSize {
		v.size = p.size
	}
	if p.hasPol {
		v.policy = pol
	}
	if p.hasState {
		v.state = p.state
		if v.state == "offline" {
			v.junction = ""
		}
	}
	if p.hasPath {
		if p.path != "" {
			if err := c.checkMount(v, p.path, v.state); err != nil {
				return err
			}
		}
		v.junction = p.path
	}
	if p.split && v.clone != nil {
		c.completeSplit(v)
	}
	return nil
}

// checkMount validates mounting v at path when v is (or will be) in state. Callers hold l.mu.
func (c *Cluster) checkMount(v *volume, path, state string) *apiError {
	if state != "online" {
		return errBadRequest(CodeVolBusy, "nas.path", "Cannot mount volume %q: the volume is offline.", v.name)
	}
	if v.typ == "dp" && !v.initialized {
		return errBadRequest(CodeVolDPNotInitialized, "nas.path",
			"Cannot mount volume %q: the volume is a data protection volume that has not been initialized.", v.name)
	}
	for _, o := range c.vols {
		if o != v && o.junction == path {
			return errBadRequest(CodeVolNASPathInvalid, "nas.path", "Junction path %q is already in use by volume %q.", path, o.name)
		}
	}
	return nil
}

func (c *Cluster) deleteVolume(rc *reqCtx, args []string) *apiError {
	c.lab.mu.RLock()
	v := c.lookupVolume(args[0])
	c.lab.mu.RUnlock()
	if v == nil {
		return errNotFound("uuid")
	}
	return rc.accepted(c.startVolumeDelete(v), "", nil)
}

func (c *Cluster) startVolumeDelete(v *volume) *job {
	return c.startJob(http.MethodDelete, "/api/storage/volumes/"+v.uuid, func() *apiError {
		dirs, err := c.removeVolume(v)
		for _, d := range dirs {
			_ = os.RemoveAll(d)
		}
		if err == nil {
			c.mutated("DeleteVolume", v.name)
		}
		return err
	})
}

// removeVolume deletes v and returns the directories to remove.
func (c *Cluster) removeVolume(v *volume) ([]string, *apiError) {
	l := c.lab
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.vols[v.uuid] != v {
		return nil, errNotFound("uuid")
	}
	for _, o := range c.vols {
		if o.clone != nil && o.clone.parentVolUUID == v.uuid {
			return nil, errorf(http.StatusConflict, CodeVolHasClones, "",
				"Failed to delete volume %q because it has one or more clones.", v.name)
		}
	}
	if v.junction != "" && l.opts.RejectDeleteMounted {
		return nil, errorf(http.StatusConflict, CodeInUse, "",
			"Volume %q in Vserver %q is mounted at %q. Unmount the volume by specifying nas.path as empty before deleting it.",
			v.name, c.svm.name, v.junction)
	}
	if l.opts.RejectDeleteSnapMirrorEndpoint && l.isEndpoint(c, v) {
		return nil, errorf(http.StatusConflict, CodeInUse, "",
			"Volume %q in Vserver %q is a SnapMirror endpoint. Delete the relationship first.", v.name, c.svm.name)
	}
	for _, ln := range v.luns {
		c.removeLUN(ln)
	}
	if v.clone != nil {
		c.releaseCloneLock(v)
	}
	delete(c.vols, v.uuid)
	return []string{v.dir, filepath.Join(c.root, "snapshots", v.uuid)}, nil
}

// patchVolumesByQuery and deleteVolumesByQuery apply a PATCH or DELETE to every volume matching
// the query's filters, one job each.
func (c *Cluster) patchVolumesByQuery(rc *reqCtx, _ []string) *apiError {
	if err := rc.checkBody("volume", "uuid", "create_time"); err != nil {
		return err
	}
	return c.byQuery(rc, c.volumeRecordsByUUID(), func(id string) (*job, *apiError) {
		v := c.visibleVolume(id)
		if v == nil {
			return nil, errNotFound("uuid")
		}
		return c.startVolumePatch(rc, v)
	})
}

func (c *Cluster) deleteVolumesByQuery(rc *reqCtx, _ []string) *apiError {
	return c.byQuery(rc, c.volumeRecordsByUUID(), func(id string) (*job, *apiError) {
		v := c.visibleVolume(id)
		if v == nil {
			return nil, errNotFound("uuid")
		}
		return c.startVolumeDelete(v), nil
	})
}

func (c *Cluster) visibleVolume(id string) *volume {
	c.lab.mu.RLock()
	defer c.lab.mu.RUnlock()
	return c.lookupVolume(id)
}

func (c *Cluster) volumeRecordsByUUID() map[string]record {
	c.lab.mu.RLock()
	defer c.lab.mu.RUnlock()
	out := map[string]record{}
	for _, v := range c.vols {
		if !c.creating(v) {
			out[v.uuid] = c.renderVolume(v)
		}
	}
	return out
}
