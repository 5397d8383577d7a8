package ontap

import (
	"net/http"
	"os"
)

// FlexClone volumes (docs/ontap-api.md §8, §9): a writable copy of a named snapshot whose
// LUNs come up online, unmapped and with new serial numbers. The base snapshot is locked
// (owner volume_clone) until the clone is split or deleted, and the parent cannot be deleted
// meanwhile.

type clonePlan struct {
	parent   *volume
	snap     *snapshot // nil: snapshot the (RW) parent first
	snapName string
}

// planClone validates the clone part of a volume POST. Callers hold l.mu (write).
func (c *Cluster) planClone(rc *reqCtx, name string) (*clonePlan, *apiError) {
	pName, hasPName, err := rc.str("clone.parent_volume.name")
	if err != nil {
		return nil, err
	}
	pUUID, hasPUUID, err := rc.str("clone.parent_volume.uuid")
	if err != nil {
		return nil, err
	}
	if !hasPName && !hasPUUID {
		return nil, errBadRequest(CodeVolParentMissing, "clone.parent_volume",
			`"volume.clone.parent_volume.name" or "volume.clone.parent_volume.uuid" must be provided.`)
	}
	if svmName, ok, err := rc.str("clone.parent_svm.name"); err != nil {
		return nil, err
	} else if ok && svmName != c.svm.name {
		return nil, errorf(http.StatusNotFound, CodeSVMNotFound, "clone.parent_svm.name", "SVM %q does not exist.", svmName)
	}
	var parent *volume
	if hasPUUID {
		parent = c.lookupVolume(pUUID)
		if parent != nil && hasPName && parent.name != pName {
			return nil, errBadRequest(918236, "clone.parent_volume",
				`The specified "parent_volume.uuid" and "parent_volume.name" do not refer to the same volume.`)
		}
	} else {
		parent = c.volumeByName(pName)
		if parent != nil && c.creating(parent) {
			parent = nil
		}
	}
	if parent == nil {
		return nil, errorf(http.StatusNotFound, CodeVolParentNotFound, "clone.parent_volume",
			"Parent volume %q does not exist in Vserver %q.", pName+pUUID, c.svm.name)
	}
	sName, hasSName, err := rc.str("clone.parent_snapshot.name")
	if err != nil {
		return nil, err
	}
	sUUID, hasSUUID, err := rc.str("clone.parent_snapshot.uuid")
	if err != nil {
		return nil, err
	}
	plan := &clonePlan{parent: parent}
	if !hasSName && !hasSUUID {
		if parent.typ == "dp" {
			return nil, errBadRequest(c.lab.opts.CloneMissingSnapshotCode, "clone.parent_snapshot",
				"Parent volume %q is a data protection volume: a parent Snapshot copy must be specified with \"clone.parent_snapshot.name\" or \"clone.parent_snapshot.uuid\".", parent.name)
		}
		plan.snapName = "clone_" + name + "." + c.lab.clk.Now().UTC().Format("2006-01-02_150405")
		return plan, nil
	}
	for _, s := range parent.snapshots {
		if (hasSUUID && s.uuid == sUUID) || (!hasSUUID && s.name == sName) {
			if hasSUUID && hasSName && s.name != sName {
				return nil, errBadRequest(CodeVolSnapshotMismatch, "clone.parent_snapshot",
					"The specified Snapshot copy UUID is not correct for the specified Snapshot copy name.")
			}
			plan.snap = s
			return plan, nil
		}
	}
	return nil, errorf(http.StatusNotFound, CodeSnapNotFound, "clone.parent_snapshot",
		"Snapshot copy %q does not exist on volume %q.", sName+sUUID, parent.name)
}

// materializeClone copies the base snapshot into the clone and creates its LUNs. It runs in the
// create job, without the lock.
func (c *Cluster) materializeClone(v *volume, plan *clonePlan) *apiError {
	l := c.lab
	if plan.snap == nil {
		s, err := c.takeSnapshot(plan.parent, plan.snapName, "", "")
		if err != nil {
			c.abortCreate(v, nil)
			return err
		}
		l.mu.Lock()
		s.clones[v.uuid] = true
		plan.snap = s
		l.mu.Unlock()
	}
	if _, err := syncTree(plan.snap.dir, v.dir); err != nil {
		c.abortCreate(v, plan)
		return errorf(http.StatusInternalServerError, CodeInternal, "", "Failed to create the FlexClone: %v", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := plan.parent
	v.clone = &cloneInfo{
		parentVolUUID: p.uuid, parentVolName: p.name,
		parentSnapUUID: plan.snap.uuid, parentSnapName: plan.snap.name,
		parentSVMUUID: c.svm.uuid, parentSVMName: c.svm.name,
	}
	v.initialized = true
	if l.opts.CloneInheritsExportPolicy {
		v.policy = p.policy
	}
	now := l.clk.Now()
	for _, m := range plan.snap.luns {
		c.addLUN(v, m.leaf, m.size, m.osType, "", now)
	}
	return nil
}

// completeSplit turns a FlexClone into an independent volume. Callers hold l.mu.
func (c *Cluster) completeSplit(v *volume) {
	c.releaseCloneLock(v)
	v.clone = nil
}

// releaseCloneLock drops v's lock on its base snapshot. Callers hold l.mu.
func (c *Cluster) releaseCloneLock(v *volume) {
	if v.clone == nil {
		return
	}
	if p := c.vols[v.clone.parentVolUUID]; p != nil {
		for _, s := range p.snapshots {
			if s.uuid == v.clone.parentSnapUUID {
				delete(s.clones, v.uuid)
			}
		}
	}
}

// removeDirs deletes directories in the background of a job.
func removeDirs(dirs []string) {
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
}
