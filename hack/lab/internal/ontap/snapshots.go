package ontap

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
)

// /api/storage/volumes/{uuid}/snapshots (docs/ontap-api.md §9). A snapshot is a directory
// copy of the volume's active file system at a point in time, taken on the lab clock.

func (c *Cluster) renderSnapshot(v *volume, s *snapshot) record {
	r := record{
		"uuid":        s.uuid,
		"name":        s.name,
		"create_time": isoTime(s.createTime),
		"state":       "valid",
		"svm":         c.svmRef(),
		"volume":      c.volumeRef(v),
		"_links":      selfLink("/api/storage/volumes/" + v.uuid + "/snapshots/" + s.uuid),
	}
	if s.comment != "" {
		r["comment"] = s.comment
	}
	if s.label != "" {
		r["snapmirror_label"] = s.label
	}
	if o := s.owners(); len(o) > 0 {
		owners := make([]any, len(o))
		for i, x := range o {
			owners[i] = x
		}
		r["owners"] = owners
	}
	return r
}

func (c *Cluster) getSnapshots(rc *reqCtx, args []string) *apiError {
	c.lab.mu.RLock()
	v := c.lookupVolume(args[0])
	var recs []record
	if v != nil {
		for _, s := range v.snapshots {
			recs = append(recs, c.renderSnapshot(v, s))
		}
	}
	c.lab.mu.RUnlock()
	if v == nil {
		return errNotFound("volume.uuid")
	}
	return rc.list(snapshotResource, recs)
}

func (c *Cluster) findSnapshot(volUUID, snapUUID string) (*volume, *snapshot, *apiError) {
	v := c.lookupVolume(volUUID)
	if v == nil {
		return nil, nil, errNotFound("volume.uuid")
	}
	for _, s := range v.snapshots {
		if s.uuid == snapUUID {
			return v, s, nil
		}
	}
	return v, nil, errNotFound("uuid")
}

func (c *Cluster) getSnapshot(rc *reqCtx, args []string) *apiError {
	c.lab.mu.RLock()
	v, s, err := c.findSnapshot(args[0], args[1])
	var rec record
	if err == nil {
		rec = c.renderSnapshot(v, s)
	}
	c.lab.mu.RUnlock()
	if err != nil {
		return err
	}
	return rc.instance(snapshotResource, rec)
}

func (c *Cluster) postSnapshot(rc *reqCtx, args []string) *apiError {
	if err := rc.checkBody("snapshot", "uuid", "create_time", "owners", "state"); err != nil {
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
		return errBadRequest(CodeSnapInvalidName, "name", "Invalid Snapshot copy name %q.", name)
	}
	comment, _, err := rc.str("comment")
	if err != nil {
		return err
	}
	label, _, err := rc.str("snapmirror_label")
	if err != nil {
		return err
	}
	l := c.lab
	l.mu.RLock()
	v := c.lookupVolume(args[0])
	var aerr *apiError
	switch {
	case v == nil:
		aerr = errNotFound("volume.uuid")
	case v.typ != "rw":
		aerr = errBadRequest(CodeSnapOnlyRW, "", "Snapshot copies can only be created on read/write (RW) volumes.")
	case v.state != "online":
		aerr = errBadRequest(CodeSnapVolumeNotOnline, "", "Volume %q is not online.", v.name)
	default:
		for _, s := range v.snapshots {
			if s.name == name {
				aerr = errorf(http.StatusConflict, CodeSnapDuplicate, "name", "Snapshot copy %q already exists.", name)
			}
		}
	}
	l.mu.RUnlock()
	if aerr != nil {
		return aerr
	}
	path := "/api/storage/volumes/" + v.uuid + "/snapshots"
	j := c.startJob(http.MethodPost, path+"/?name="+url.QueryEscape(name), func() *apiError {
		s, err := c.takeSnapshot(v, name, "", label)
		if err != nil {
			return err
		}
		l.mu.Lock()
		s.comment = comment
		l.mu.Unlock()
		return nil
	})
	rec := record{"name": name, "volume": record{"name": v.name}, "svm": record{"name": c.svm.name, "uuid": c.svm.uuid}}
	if comment != "" {
		rec["comment"] = comment
	}
	return rc.accepted(j, path+"/?name="+url.QueryEscape(name), rec)
}

// takeSnapshot copies v's active file system into a new snapshot (hard-linking what the newest
// snapshot already holds) and registers it. Without the lock.
func (c *Cluster) takeSnapshot(v *volume, name, relUUID, label string) (*snapshot, *apiError) {
	s, _, err := c.snapshotVolume(v, name, relUUID, label)
	return s, err
}

// snapshotVolume is takeSnapshot that also reports what the copy moved.
func (c *Cluster) snapshotVolume(v *volume, name, relUUID, label string) (*snapshot, copyStats, *apiError) {
	l := c.lab
	l.mu.Lock()
	if c.vols[v.uuid] != v {
		l.mu.Unlock()
		return nil, copyStats{}, errNotFound("volume.uuid")
	}
	s := &snapshot{
		uuid: c.newUUID("snapshot"), name: name, createTime: l.clk.Now(), label: label,
		snapmirror: relUUID != "", relUUID: relUUID, clones: map[string]bool{},
	}
	s.dir = filepath.Join(c.root, "snapshots", v.uuid, s.uuid)
	prev := ""
	if n := len(v.snapshots); n > 0 {
		prev = v.snapshots[n-1].dir
	}
	for _, leaf := range sortedKeys(v.luns) {
		ln := v.luns[leaf]
		s.luns = append(s.luns, lunMeta{leaf: leaf, osType: ln.osType, serial: ln.serial, size: ln.size, comment: ln.comment})
	}
	l.mu.Unlock()

	st, err := snapshotTree(v.dir, s.dir, prev)
	if err != nil {
		_ = os.RemoveAll(s.dir)
		return nil, st, errorf(http.StatusInternalServerError, CodeInternal, "", "Failed to create Snapshot copy %q: %v", name, err)
	}
	s.size = st.total
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.vols[v.uuid] != v {
		_ = os.RemoveAll(s.dir)
		return nil, st, errNotFound("volume.uuid")
	}
	c.addSnapshot(v, s)
	return s, st, nil
}

// addSnapshot inserts s in v's snapshot list (oldest first). Callers hold l.mu.
func (c *Cluster) addSnapshot(v *volume, s *snapshot) {
	v.snapshots = append(v.snapshots, s)
	sort.SliceStable(v.snapshots, func(i, j int) bool { return v.snapshots[i].createTime.Before(v.snapshots[j].createTime) })
}

// dropSnapshot removes s from v and returns its directory for deletion. Callers hold l.mu.
func (c *Cluster) dropSnapshot(v *volume, s *snapshot) string {
	kept := v.snapshots[:0]
	for _, x := range v.snapshots {
		if x != s {
			kept = append(kept, x)
		}
	}
	v.snapshots = kept
	return s.dir
}

func (c *Cluster) patchSnapshot(rc *reqCtx, args []string) *apiError {
	if err := rc.checkBody("snapshot", "uuid", "create_time", "owners", "state"); err != nil {
		return err
	}
	name, hasName, err := rc.str("name")
	if err != nil {
		return err
	}
	if hasName && !validName(name) {
		return errBadRequest(CodeSnapInvalidName, "name", "Invalid Snapshot copy name %q.", name)
	}
	comment, hasComment, err := rc.str("comment")
	if err != nil {
		return err
	}
	label, hasLabel, err := rc.str("snapmirror_label")
	if err != nil {
		return err
	}
	l := c.lab
	l.mu.RLock()
	v, s, aerr := c.findSnapshot(args[0], args[1])
	l.mu.RUnlock()
	if aerr != nil {
		return aerr
	}
	j := c.startJob(http.MethodPatch, "/api/storage/volumes/"+v.uuid+"/snapshots/"+s.uuid, func() *apiError {
		l.mu.Lock()
		defer l.mu.Unlock()
		if hasName && name != s.name {
			if s.snapmirror || len(s.clones) > 0 {
				return errBadRequest(CodeSnapHasOwner, "name", "Snapshot copy %q has owners and cannot be renamed.", s.name)
			}
			s.name = name
		}
		if hasComment {
			s.comment = comment
		}
		if hasLabel {
			s.label = label
		}
		return nil
	})
	return rc.accepted(j, "", nil)
}

func (c *Cluster) deleteSnapshot(rc *reqCtx, args []string) *apiError {
	l := c.lab
	l.mu.RLock()
	v, s, aerr := c.findSnapshot(args[0], args[1])
	l.mu.RUnlock()
	if aerr != nil {
		return aerr
	}
	j := c.startJob(http.MethodDelete, "/api/storage/volumes/"+v.uuid+"/snapshots/"+s.uuid, func() *apiError {
		l.mu.Lock()
		if c.vols[v.uuid] != v {
			l.mu.Unlock()
			return errNotFound("volume.uuid")
		}
		var err *apiError
		switch {
		case v.typ != "rw":
			err = errBadRequest(CodeSnapDeleteOnlyRW, "", "Snapshot copies can only be deleted on read/write (RW) volumes.")
		case len(s.clones) > 0:
			err = errBadRequest(CodeSnapLocked, "", "Snapshot copy %q of volume %q on Vserver %q has not expired or is locked. Use the \"snapshot show -fields owners, expiry-time, snaplock-expiry-time\" command to view the expiry and lock status of the Snapshot copy.", s.name, v.name, c.svm.name)
		case s.snapmirror && l.snapshotInUse(c, v, s):
			err = errBadRequest(CodeSnapHasOwner, "", "Snapshot copy %q of volume %q on Vserver %q has an owner (snapmirror) and cannot be deleted.", s.name, v.name, c.svm.name)
		}
		if err != nil {
			l.mu.Unlock()
			return err
		}
		dir := c.dropSnapshot(v, s)
		l.mu.Unlock()
		_ = os.RemoveAll(dir)
		return nil
	})
	return rc.accepted(j, "", nil)
}
