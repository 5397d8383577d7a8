package ontap

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// The SnapMirror transfer engine. A transfer snapshots the source volume (a directory copy, on
// the source cluster), waits TransferSetup plus changed-bytes/throughput of lab time, then lands
// the snapshot on the destination (hard-linked snapshot copy) and makes the destination's active
// file system identical to it. Resync transfers first reset the destination to the newest common
// snapshot, discarding its divergent writes. Transfers fail when either cluster is down or the
// replication link between them is cut, at start or at completion.

// newTransfer registers a transfer as r's current one. Callers hold l.mu.
func (l *Lab) newTransfer(r *relationship, kind, sourceSnap string) *transfer {
	t := &transfer{
		uuid: r.dstCluster.newUUID("transfer"), kind: kind, state: "transferring",
		start: l.clk.Now(), done: make(chan struct{}), sourceOpt: sourceSnap,
	}
	r.transfer = t
	r.transfers = append(r.transfers, t)
	if len(r.transfers) > 16 {
		r.transfers = r.transfers[len(r.transfers)-16:]
	}
	return t
}

// startTransfer starts a transfer of r in the background. Callers hold l.mu.
func (l *Lab) startTransfer(r *relationship, kind, sourceSnap string) *transfer {
	t := l.newTransfer(r, kind, sourceSnap)
	go l.track(func() { _ = l.runTransfer(r, t, false) })
	return t
}

// runTransferSync runs a whole transfer of r now, without lab time passing (seeding).
func (l *Lab) runTransferSync(r *relationship, kind string) error {
	l.mu.Lock()
	t := l.newTransfer(r, kind, "")
	l.mu.Unlock()
	return l.runTransfer(r, t, true)
}

var errTransferGone = errors.New("transfer aborted")

// current reports whether t is still r's running transfer. Callers hold l.mu.
func (r *relationship) current(t *transfer) bool { return r.transfer == t && t.active() }

// runTransfer takes the source snapshot and schedules the completion (or completes at once when
// immediate).
func (l *Lab) runTransfer(r *relationship, t *transfer, immediate bool) error {
	l.mu.Lock()
	if !r.current(t) {
		l.mu.Unlock()
		return errTransferGone
	}
	src, dst := r.srcCluster, r.dstCluster
	sv, dv := src.volumeByName(r.srcVol), dst.volumeByName(r.dstVol)
	var base, srcSnap *snapshot
	reason := l.transferBlocker(r, sv, dv)
	if reason == "" && t.kind == "resync" {
		if base = commonSnapshot(sv, dv); base == nil {
			reason = "No common Snapshot copy found between the source and the destination"
		}
	}
	if reason == "" && t.sourceOpt != "" {
		for _, s := range sv.snapshots {
			if s.name == t.sourceOpt {
				srcSnap = s
			}
		}
		if srcSnap == nil {
			reason = fmt.Sprintf("Snapshot copy %q does not exist on the source volume", t.sourceOpt)
		}
	}
	if reason != "" {
		l.endTransfer(r, t, "failed", reason)
		l.mu.Unlock()
		return errors.New(reason)
	}
	name := uniqueSnapName(sv, dv, snapmirrorSnapshotName(dst.svm.uuid, dv.msid, l.clk.Now()))
	l.mu.Unlock()

	if base != nil {
		if _, err := syncTree(base.dir, dv.dir); err != nil {
			return l.failTransfer(r, t, fmt.Sprintf("Failed to revert the destination to Snapshot copy %q: %v", base.name, err))
		}
		l.mu.Lock()
		var dirs []string
		for _, s := range append([]*snapshot(nil), dv.snapshots...) {
			if s.createTime.After(base.createTime) && len(s.clones) == 0 {
				dirs = append(dirs, dst.dropSnapshot(dv, s))
				if r.exportedSnap == s {
					r.exportedSnap = base
				}
			}
		}
		l.mu.Unlock()
		removeDirs(dirs)
	}
	var bytes int64
	if srcSnap == nil {
		s, st, aerr := src.snapshotVolume(sv, name, r.uuid, "")
		if aerr != nil {
			return l.failTransfer(r, t, aerr.Message)
		}
		srcSnap, bytes = s, st.copied
		if t.kind == "initialize" {
			bytes = st.total
		}
	} else {
		bytes = srcSnap.size
	}

	l.mu.Lock()
	if !r.current(t) {
		l.mu.Unlock()
		return errTransferGone
	}
	src.srcEntries[r.uuid] = r
	t.srcSnap, t.bytes, t.snapName = srcSnap, bytes, srcSnap.name
	if immediate {
		l.mu.Unlock()
		return l.completeTransfer(r, t)
	}
	t.timer = l.afterFunc(l.transferTime(r, bytes), func() { _ = l.completeTransfer(r, t) })
	l.mu.Unlock()
	return nil
}

// transferTime is the lab time a transfer of n bytes takes. Callers hold l.mu.
func (l *Lab) transferTime(r *relationship, n int64) time.Duration {
	rate := l.opts.TransferThroughput
	if r.throttle > 0 && r.throttle*1024 < rate {
		rate = r.throttle * 1024
	}
	return l.opts.TransferSetup + time.Duration(float64(n)/float64(rate)*float64(time.Second))
}

// transferBlocker says why a transfer of r cannot proceed now ("" if it can). Callers hold l.mu.
func (l *Lab) transferBlocker(r *relationship, sv, dv *volume) string {
	switch {
	case r.srcCluster.down.Load():
		return fmt.Sprintf("Failed to connect to the source cluster %q: the cluster is not reachable", r.srcCluster.name)
	case r.dstCluster.down.Load():
		return fmt.Sprintf("The destination cluster %q is not available", r.dstCluster.name)
	case !l.reachable(r.srcCluster, r.dstCluster):
		return fmt.Sprintf("Failed to connect to the source cluster %q: the replication network is down", r.srcCluster.name)
	case sv == nil:
		return fmt.Sprintf("Source volume %q does not exist", r.srcPath())
	case sv.state != "online":
		return fmt.Sprintf("Source volume %q is offline", r.srcPath())
	case dv == nil:
		return fmt.Sprintf("Destination volume %q does not exist", r.dstPath())
	case dv.state != "online":
		return fmt.Sprintf("Destination volume %q is offline", r.dstPath())
	case l.opts.CloneStopsReplication && hasCloneLock(dv):
		return fmt.Sprintf("A Snapshot copy of destination volume %q is locked by a FlexClone volume", r.dstPath())
	}
	return ""
}

func hasCloneLock(v *volume) bool {
	for _, s := range v.snapshots {
		if len(s.clones) > 0 {
			return true
		}
	}
	return false
}

// uniqueSnapName bumps the timestamp of name until neither volume has a snapshot of that name.
// Callers hold l.mu.
func uniqueSnapName(sv, dv *volume, name string) string {
	taken := map[string]bool{}
	for _, v := range []*volume{sv, dv} {
		for _, s := range v.snapshots {
			taken[s.name] = true
		}
	}
	if !taken[name] {
		return name
	}
	// snapmirror.<uuid>_<msid>.YYYY-MM-DD_HHMMSS: bump the seconds.
	const layout = "2006-01-02_150405"
	prefix, ts := name[:len(name)-len(layout)], name[len(name)-len(layout):]
	t, err := time.Parse(layout, ts)
	if err != nil {
		return name
	}
	for i := 0; i < 100000; i++ {
		t = t.Add(time.Second)
		if n := prefix + t.Format(layout); !taken[n] {
			return n
		}
	}
	return name
}

func (l *Lab) failTransfer(r *relationship, t *transfer, reason string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.current(t) {
		l.endTransfer(r, t, "failed", reason)
	}
	return errors.New(reason)
}

// completeTransfer lands the transfer's snapshot on the destination.
func (l *Lab) completeTransfer(r *relationship, t *transfer) error {
	l.mu.Lock()
	if !r.current(t) {
		l.mu.Unlock()
		return errTransferGone
	}
	src, dst := r.srcCluster, r.dstCluster
	sv, dv := src.volumeByName(r.srcVol), dst.volumeByName(r.dstVol)
	if reason := l.transferBlocker(r, sv, dv); reason != "" {
		l.endTransfer(r, t, "failed", reason)
		l.mu.Unlock()
		return errors.New(reason)
	}
	t.landing = true
	srcSnap := t.srcSnap
	snapUUID := dst.newUUID("snapshot")
	dir := filepath.Join(dst.root, "snapshots", dv.uuid, snapUUID)
	l.mu.Unlock()

	if _, err := linkTree(srcSnap.dir, dir); err != nil {
		removeDirs([]string{dir})
		return l.failTransfer(r, t, fmt.Sprintf("Failed to write the destination Snapshot copy: %v", err))
	}
	if _, err := syncTree(dir, dv.dir); err != nil {
		removeDirs([]string{dir})
		return l.failTransfer(r, t, fmt.Sprintf("Failed to update the destination volume: %v", err))
	}

	l.mu.Lock()
	if !r.current(t) || dst.vols[dv.uuid] != dv {
		l.mu.Unlock()
		removeDirs([]string{dir})
		return errTransferGone
	}
	ds := &snapshot{
		uuid: snapUUID, name: srcSnap.name, createTime: srcSnap.createTime, dir: dir, size: srcSnap.size,
		snapmirror: true, relUUID: r.uuid, clones: map[string]bool{}, luns: srcSnap.luns,
	}
	dst.addSnapshot(dv, ds)
	dv.initialized = true
	dst.reconcileLUNs(dv, srcSnap.luns)
	r.exportedSnap = ds
	r.lastTransferType = t.kind
	switch {
	case r.state == "uninitialized":
		r.state = r.mirrored()
	case t.kind == "resync" && r.state == "broken_off":
		r.state = r.mirrored()
		dv.typ = "dp"
	}
	r.healthy, r.unhealthy = true, nil
	dirs := l.applyRetention(r, sv, dv)
	l.endTransfer(r, t, "success", "")
	l.mu.Unlock()
	removeDirs(dirs)
	return nil
}

// endTransfer finishes t in the given state. Callers hold l.mu.
func (l *Lab) endTransfer(r *relationship, t *transfer, state, reason string) {
	if !t.active() {
		return
	}
	if t.timer != nil {
		t.timer.Stop()
	}
	t.state, t.end, t.errMsg = state, l.clk.Now(), reason
	if state == "failed" {
		r.healthy = false
		r.unhealthy = []unhealthyReason{{code: ReasonTransferFailed, message: "Transfer failed. " + reason + "."}}
	}
	close(t.done)
}

// bytesSoFar is the transfer's progress. Callers hold l.mu.
func (l *Lab) bytesSoFar(t *transfer) int64 {
	if t.state == "success" {
		return t.bytes
	}
	end := t.end
	if t.active() {
		end = l.clk.Now()
	}
	elapsed := end.Sub(t.start) - l.opts.TransferSetup
	if elapsed <= 0 {
		return 0
	}
	n := int64(elapsed.Seconds() * float64(l.opts.TransferThroughput))
	if n > t.bytes {
		n = t.bytes
	}
	return n
}

// applyRetention keeps the newest SnapshotRetention snapshots r made on each volume; older ones
// go unless a clone holds them or they are the exported one. Callers hold l.mu.
func (l *Lab) applyRetention(r *relationship, vols ...*volume) []string {
	var dirs []string
	for i, v := range vols {
		c := r.srcCluster
		if i == 1 {
			c = r.dstCluster
		}
		kept := 0
		for j := len(v.snapshots) - 1; j >= 0; j-- {
			s := v.snapshots[j]
			if s.relUUID != r.uuid {
				continue
			}
			if kept < l.opts.SnapshotRetention {
				kept++
				continue
			}
			if len(s.clones) > 0 || s == r.exportedSnap {
				continue
			}
			dirs = append(dirs, c.dropSnapshot(v, s))
		}
	}
	return dirs
}

// reconcileLUNs makes dv's LUN objects match the LUNs a landed snapshot carries: new ones appear
// (with the topology's initial maps, if any), vanished ones go. Callers hold l.mu.
func (c *Cluster) reconcileLUNs(dv *volume, metas []lunMeta) {
	want := map[string]lunMeta{}
	for _, m := range metas {
		want[m.leaf] = m
	}
	for leaf, ln := range dv.luns {
		if _, ok := want[leaf]; !ok {
			c.removeLUN(ln)
		}
	}
	now := c.lab.clk.Now()
	for _, m := range metas {
		if ln, ok := dv.luns[m.leaf]; ok {
			ln.size = m.size
			continue
		}
		serial := ""
		if c.lab.opts.ReplicaKeepsSourceSerial {
			serial = m.serial
		}
		ln := c.addLUN(dv, m.leaf, m.size, m.osType, serial, now)
		ln.comment = m.comment
		dv.san = true
		if p, ok := dv.pendingMaps[m.leaf]; ok {
			for _, name := range p.igroups {
				if g := c.igroupByName(name); g != nil {
					c.maps = append(c.maps, &lunMap{lun: ln, ig: g, id: p.id})
				}
			}
			delete(dv.pendingMaps, m.leaf)
		}
	}
}

// failTransfersTouching fails the running transfers that depend on the link or on cluster c
// (nil: every inter-cluster transfer). Callers hold l.mu.
func (l *Lab) failTransfersTouching(c *Cluster, reason string) {
	for _, o := range l.clusters {
		for _, r := range o.rels {
			t := r.transfer
			if !t.active() || t.landing {
				continue
			}
			if (c == nil && r.srcCluster != r.dstCluster) || (c != nil && (r.srcCluster == c || r.dstCluster == c)) {
				l.endTransfer(r, t, "failed", reason)
			}
		}
	}
}

// armSchedule (re)starts r's schedule timer. Callers hold l.mu.
func (c *Cluster) armSchedule(r *relationship) {
	l := c.lab
	if r.schedTimer != nil {
		r.schedTimer.Stop()
		r.schedTimer = nil
	}
	if r.schedule == "" || l.closed.Load() {
		return
	}
	s, ok := l.opts.Schedules[r.schedule]
	if !ok {
		return
	}
	now := l.clk.Now()
	next := s.next(now.UTC())
	if next.IsZero() {
		return
	}
	r.schedTimer = l.afterFunc(next.Sub(now), func() { l.fireSchedule(r) })
}

// fireSchedule runs a scheduled update of r and re-arms its schedule.
func (l *Lab) fireSchedule(r *relationship) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() || r.dstCluster.rels[r.uuid] != r {
		return
	}
	r.dstCluster.armSchedule(r)
	if r.state != r.mirrored() || r.transient != "" || r.transfer.active() || r.dstCluster.down.Load() {
		return
	}
	l.startTransfer(r, "update", "")
}
