package ontap

import (
	"path/filepath"
	"sort"
	"testing"

	"vmdr.local/lab/internal/fabric"
	"vmdr.local/lab/internal/topology"
)

// The VMbook's storage procedures, driven over the REST API.

const (
	smPath  = "svm2:RG1FV1_SM"
	srcPath = "svm1:RG1FV1"
)

func TestSeedReplicatesTheProtectedData(t *testing.T) {
	e := newEnv(t, Options{})

	// Five relationships on the destination, visible on the source after the first transfer.
	rels := e.do(topology.Site2, "GET", "/api/snapmirror/relationships?fields=state,healthy,lag_time,exported_snapshot,source.path", nil).must(t, 200)
	if n := len(rels.records()); n != 5 {
		t.Fatalf("%d relationships at site2, want 5", n)
	}
	for _, r := range rels.records() {
		if str(r, "state") != "snapmirrored" || r["healthy"] != true || str(r, "exported_snapshot") == "" || str(r, "lag_time") == "" {
			t.Errorf("relationship %v", r)
		}
	}
	src := e.do(topology.Site1, "GET", "/api/snapmirror/relationships?list_destinations_only=true&fields=destination.path", nil).must(t, 200)
	if n := len(src.records()); n != 5 {
		t.Fatalf("%d relationships listed at the source, want 5", n)
	}
	if n := len(e.do(topology.Site1, "GET", "/api/snapmirror/relationships", nil).must(t, 200).records()); n != 0 {
		t.Fatalf("source lists %d relationships without list_destinations_only", n)
	}

	// The replica LUN carries the VMs and the source's VMFS label, read-only, mapped to the BCDR hosts.
	d := e.mustDevice(topology.Site2, "RG1FV1_SM")
	if d.Writable || !d.Online || d.Protocol != fabric.VMFS {
		t.Fatalf("replica device %+v", d)
	}
	h, err := fabric.ReadHeader(d.Dir)
	if err != nil || h.Label != "RP1" {
		t.Fatalf("replica header %+v %v", h, err)
	}
	if !exists(filepath.Join(d.Dir, "HR Database", "HR Database.vmx")) {
		t.Fatalf("replica lacks the HR Database VM")
	}
	s2, _ := e.world.Site(topology.Site2)
	want := append([]string(nil), s2.Array.Igroups[0].Initiators...)
	sort.Strings(want)
	if len(d.Initiators) != len(want) || d.Initiators[0] != want[0] {
		t.Fatalf("initiators %v, want %v", d.Initiators, want)
	}
	src1 := e.mustDevice(topology.Site1, "RG1FV1")
	if src1.Serial == d.Serial || len(d.Serial) != 12 || d.NAA != fabric.NAAFromSerial(d.Serial) {
		t.Fatalf("serials: source %q replica %q naa %q", src1.Serial, d.Serial, d.NAA)
	}
	// The NFS replica is not mounted until failover; the source NFS volume is exported.
	if _, ok := e.device(topology.Site2, "RG2FV3_SM"); ok {
		t.Fatalf("unmounted NFS replica is presented")
	}
	nfs := e.mustDevice(topology.Site1, "RG2FV3")
	if nfs.Protocol != fabric.NFS || nfs.ExportPath != "/RG2FV3" || nfs.Server != "20.1.1.50" || len(nfs.ReadWrite) != 1 || !nfs.Writable {
		t.Fatalf("NFS device %+v", nfs)
	}
	// The spare pair has no relationship and its DP volume stays uninitialized.
	if _, ok := e.device(topology.Site2, topology.SpareDest); ok {
		t.Fatalf("uninitialized DP volume presents a LUN")
	}
}

func TestQuiesceBreakResync(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.rel(topology.Site2, smPath)
	id := str(r, "uuid")
	path := "/api/snapmirror/relationships/" + id

	e.jobOK(topology.Site2, "PATCH", path, map[string]any{"state": "paused"})
	if s := str(e.rel(topology.Site2, smPath), "state"); s != "paused" {
		t.Fatalf("state %s after quiesce", s)
	}
	// An update on a quiesced relationship is refused.
	if r := e.do(topology.Site2, "POST", path+"/transfers", map[string]any{}); r.status != 400 || r.errCode() != "13303844" {
		t.Fatalf("update while paused: %d %s", r.status, r.raw)
	}
	e.jobOK(topology.Site2, "PATCH", path, map[string]any{"state": "broken_off"})
	if s := str(e.rel(topology.Site2, smPath), "state"); s != "broken_off" {
		t.Fatalf("state %s after break", s)
	}
	vol := e.do(topology.Site2, "GET", "/api/storage/volumes/"+e.volumeUUID(topology.Site2, "RG1FV1_SM")+"?fields=type", nil).must(t, 200)
	if str(vol.body, "type") != "rw" {
		t.Fatalf("volume type %s after break", str(vol.body, "type"))
	}
	d := e.mustDevice(topology.Site2, "RG1FV1_SM")
	if !d.Writable || !d.Online {
		t.Fatalf("broken-off device %+v", d)
	}
	// A write at site 2 diverges from the source.
	writeFile(t, filepath.Join(d.Dir, "divergent.txt"), "site2")

	// Resync: back to DP at once, divergent writes discarded, snapmirrored after the transfer.
	e.jobOK(topology.Site2, "PATCH", path, map[string]any{"state": "snapmirrored"})
	if d := e.mustDevice(topology.Site2, "RG1FV1_SM"); d.Writable {
		t.Fatalf("device writable during resync")
	}
	rec := e.settle(topology.Site2, smPath)
	if str(rec, "state") != "snapmirrored" || str(rec, "transfer.state") != "success" {
		t.Fatalf("after resync: %v", rec)
	}
	if rt, _ := e.lab.Cluster(topology.Site2).Relationship("RG1FV1_SM"); rt.LastTransferType != "resync" {
		t.Fatalf("last transfer type %q", rt.LastTransferType)
	}
	if exists(filepath.Join(d.Dir, "divergent.txt")) {
		t.Fatalf("divergent write survived the resync")
	}
	if !exists(filepath.Join(d.Dir, "HR Database", "HR Database.vmx")) {
		t.Fatalf("replica lost its data")
	}
}

func TestFailbackEndsWithSite2Data(t *testing.T) {
	e := newEnv(t, Options{})
	orig := str(e.rel(topology.Site2, smPath), "uuid")
	origPath := "/api/snapmirror/relationships/" + orig

	// Failover: quiesce + break at site 2, then production writes at site 2.
	e.jobOK(topology.Site2, "PATCH", origPath, map[string]any{"state": "paused"})
	e.jobOK(topology.Site2, "PATCH", origPath, map[string]any{"state": "broken_off"})
	d2 := e.mustDevice(topology.Site2, "RG1FV1_SM")
	writeFile(t, filepath.Join(d2.Dir, "HR Database", "written-at-site2.log"), "recovered production data")
	// Site 1 also still has writes of its own after the failover; they must be discarded.
	d1 := e.mustDevice(topology.Site1, "RG1FV1")
	writeFile(t, filepath.Join(d1.Dir, "stale-site1.txt"), "lost")

	// Reverse resync the 9.8 way: on site 1, create site2 → site1 and resync it.
	e.jobOK(topology.Site1, "POST", "/api/snapmirror/relationships", map[string]any{
		"source":      map[string]any{"path": smPath},
		"destination": map[string]any{"path": srcPath},
		"policy":      map[string]any{"name": "MirrorAllSnapshots"},
	})
	rev := e.rel(topology.Site1, srcPath)
	if str(rev, "state") != "broken_off" {
		t.Fatalf("reverse relationship over an RW volume is %s", str(rev, "state"))
	}
	revPath := "/api/snapmirror/relationships/" + str(rev, "uuid")
	e.jobOK(topology.Site1, "PATCH", revPath, map[string]any{"state": "snapmirrored"})
	if rec := e.settle(topology.Site1, srcPath); str(rec, "state") != "snapmirrored" {
		t.Fatalf("reverse resync: %v", rec)
	}
	if d := e.mustDevice(topology.Site1, "RG1FV1"); d.Writable {
		t.Fatalf("site 1 volume still writable while it is a destination")
	}
	if !exists(filepath.Join(d1.Dir, "HR Database", "written-at-site2.log")) || exists(filepath.Join(d1.Dir, "stale-site1.txt")) {
		t.Fatalf("reverse resync did not make site 1 a copy of site 2")
	}
	// The source (site 2) lists the reverse relationship after its first transfer.
	if n := len(e.do(topology.Site2, "GET", "/api/snapmirror/relationships?list_destinations_only=true&destination.path="+srcPath, nil).must(t, 200).records()); n != 1 {
		t.Fatalf("site 2 lists %d reverse destinations", n)
	}

	// Final update after more writes at site 2, then break at site 1.
	writeFile(t, filepath.Join(d2.Dir, "final.txt"), "last write at site 2")
	e.do(topology.Site1, "POST", revPath+"/transfers", map[string]any{}).must(t, 201)
	e.settle(topology.Site1, srcPath)
	e.jobOK(topology.Site1, "PATCH", revPath, map[string]any{"state": "paused"})
	e.jobOK(topology.Site1, "PATCH", revPath, map[string]any{"state": "broken_off"})
	if d := e.mustDevice(topology.Site1, "RG1FV1"); !d.Writable {
		t.Fatalf("site 1 not writable after the break")
	}
	// Clean the reverse relationship up: destination side, then release at the source.
	e.jobOK(topology.Site1, "DELETE", revPath+"?destination_only=true", nil)
	e.jobOK(topology.Site2, "DELETE", revPath+"?source_only=true", nil)

	// Resync the original relationship at site 2: site 1 protected again.
	e.jobOK(topology.Site2, "PATCH", origPath, map[string]any{"state": "snapmirrored"})
	if rec := e.settle(topology.Site2, smPath); str(rec, "state") != "snapmirrored" {
		t.Fatalf("resync at site 2: %v", rec)
	}
	for _, f := range []string{filepath.Join("HR Database", "written-at-site2.log"), "final.txt", filepath.Join("HR Database", "HR Database.vmx")} {
		if !exists(filepath.Join(d1.Dir, f)) {
			t.Errorf("site 1 lacks %s", f)
		}
		if !exists(filepath.Join(d2.Dir, f)) {
			t.Errorf("site 2 lacks %s", f)
		}
	}
	if d := e.mustDevice(topology.Site2, "RG1FV1_SM"); d.Writable {
		t.Fatalf("site 2 replica writable after resync")
	}
}

func TestReverseByPatchOnNewerVersion(t *testing.T) {
	e := newEnv(t, Options{Version: "9.10.1"})
	id := str(e.rel(topology.Site2, smPath), "uuid")
	path := "/api/snapmirror/relationships/" + id
	e.jobOK(topology.Site2, "PATCH", path, map[string]any{"state": "broken_off"})
	d2 := e.mustDevice(topology.Site2, "RG1FV1_SM")
	writeFile(t, filepath.Join(d2.Dir, "after-failover.txt"), "x")

	// 9.8 rejects the swapped paths; 9.9.1+ reverses the relationship.
	e.jobOK(topology.Site2, "PATCH", path, map[string]any{
		"source": map[string]any{"path": smPath}, "destination": map[string]any{"path": srcPath}, "state": "snapmirrored",
	})
	rec := e.settle(topology.Site1, srcPath)
	if str(rec, "uuid") != id || str(rec, "state") != "snapmirrored" {
		t.Fatalf("reversed relationship %v", rec)
	}
	if !exists(filepath.Join(e.mustDevice(topology.Site1, "RG1FV1").Dir, "after-failover.txt")) {
		t.Fatalf("site 1 did not receive site 2's data")
	}
	if _, ok := rec["transfer"].(map[string]any)["end_time"]; !ok {
		t.Fatalf("9.9.1+ transfer lacks end_time: %v", rec["transfer"])
	}
	if n := len(e.do(topology.Site2, "GET", "/api/snapmirror/relationships?destination.path="+smPath, nil).must(t, 200).records()); n != 0 {
		t.Fatalf("site 2 still owns the reversed relationship")
	}
	e98 := newEnv(t, Options{})
	id98 := str(e98.rel(topology.Site2, smPath), "uuid")
	r := e98.do(topology.Site2, "PATCH", "/api/snapmirror/relationships/"+id98, map[string]any{
		"source": map[string]any{"path": smPath}, "destination": map[string]any{"path": srcPath}, "state": "snapmirrored",
	})
	if r.status != 400 || r.errCode() != "262179" {
		t.Fatalf("9.8 swap PATCH: %d %s", r.status, r.raw)
	}
}

func TestFlexCloneOfReplicaWhileReplicating(t *testing.T) {
	e := newEnv(t, Options{})
	s2 := topology.Site2
	rel := e.rel(s2, smPath)
	relPath := "/api/snapmirror/relationships/" + str(rel, "uuid")
	smUUID := e.volumeUUID(s2, "RG1FV1_SM")
	snaps := e.do(s2, "GET", "/api/storage/volumes/"+smUUID+"/snapshots?name=snapmirror.*&order_by=create_time%20desc&fields=create_time,owners", nil).must(t, 200).records()
	if len(snaps) == 0 || str(snaps[0], "name") != str(rel, "exported_snapshot") {
		t.Fatalf("newest snapmirror snapshot %v, exported %s", snaps, str(rel, "exported_snapshot"))
	}
	snap := str(snaps[0], "name")

	// Cloning a DP volume needs the snapshot.
	r := e.do(s2, "POST", "/api/storage/volumes", map[string]any{
		"name": "RG1FV1_Clone", "svm": map[string]any{"name": "svm2"},
		"clone": map[string]any{"is_flexclone": true, "parent_volume": map[string]any{"name": "RG1FV1_SM"}},
	})
	if r.status != 400 || r.errCode() != "262177" {
		t.Fatalf("clone without snapshot: %d %s", r.status, r.raw)
	}
	r = e.do(s2, "POST", "/api/storage/volumes?return_records=true", map[string]any{
		"name": "RG1FV1_Clone", "svm": map[string]any{"name": "svm2"},
		"clone": map[string]any{"is_flexclone": true, "parent_volume": map[string]any{"name": "RG1FV1_SM"},
			"parent_snapshot": map[string]any{"name": snap}},
		"nas": map[string]any{"path": "/RG1FV1_Clone"},
	}).must(t, 202)
	if r.header.Get("Location") != "/api/storage/volumes/?name=RG1FV1_Clone" || str(r.records()[0], "uuid") == "" {
		t.Fatalf("clone POST response: %v %s", r.header, r.raw)
	}
	if job := e.waitJob(s2, r); str(job, "state") != "success" {
		t.Fatalf("clone job %v", job)
	}
	cloneUUID := str(r.records()[0], "uuid")
	vol := e.do(s2, "GET", "/api/storage/volumes/"+cloneUUID+"?fields=type,clone.is_flexclone,clone.parent_volume.name,clone.parent_snapshot.name", nil).must(t, 200).body
	if str(vol, "type") != "rw" || get(vol, "clone.is_flexclone") != true || str(vol, "clone.parent_snapshot.name") != snap {
		t.Fatalf("clone volume %v", vol)
	}

	// Its LUN: online, unmapped, a new serial.
	luns := e.do(s2, "GET", "/api/storage/luns?location.volume.name=RG1FV1_Clone&fields=serial_number,status.state,lun_maps,name", nil).must(t, 200).records()
	if len(luns) != 1 {
		t.Fatalf("clone LUNs %v", luns)
	}
	lun := luns[0]
	replica := e.mustDevice(s2, "RG1FV1_SM")
	if str(lun, "status.state") != "online" || len(lun["lun_maps"].([]any)) != 0 || str(lun, "serial_number") == replica.Serial {
		t.Fatalf("clone LUN %v (replica serial %s)", lun, replica.Serial)
	}
	if d := e.mustDevice(s2, "RG1FV1_Clone"); len(d.Initiators) != 0 || !d.Writable {
		t.Fatalf("unmapped clone device %+v", d)
	}
	// Map it to the BCDR hosts.
	e.do(s2, "POST", "/api/protocols/san/lun-maps", map[string]any{
		"svm": map[string]any{"name": "svm2"}, "igroup": map[string]any{"name": topology.Site2BCDRIgroup},
		"lun": map[string]any{"name": str(lun, "name")},
	}).must(t, 201)
	d := e.mustDevice(s2, "RG1FV1_Clone")
	if !d.Writable || !d.Online || len(d.Initiators) != 2 || d.Serial != str(lun, "serial_number") {
		t.Fatalf("clone device %+v", d)
	}
	if h, err := fabric.ReadHeader(d.Dir); err != nil || h.Label != "RP1" {
		t.Fatalf("clone VMFS header %+v %v", h, err)
	}
	if !exists(filepath.Join(d.Dir, "HR Database", "HR Database.vmx")) {
		t.Fatalf("clone lacks the VMs")
	}

	// The base snapshot is locked and the parent cannot go.
	snapInfo := e.do(s2, "GET", "/api/storage/volumes/"+smUUID+"/snapshots/"+str(snaps[0], "uuid")+"?fields=owners", nil).must(t, 200).body
	if owners, _ := snapInfo["owners"].([]any); len(owners) != 2 || owners[1] != "volume_clone" {
		t.Fatalf("snapshot owners %v", snapInfo["owners"])
	}
	e.jobFails(s2, "DELETE", "/api/storage/volumes/"+smUUID+"/snapshots/"+str(snaps[0], "uuid"), nil, CodeSnapDeleteOnlyRW)
	e.jobFails(s2, "DELETE", "/api/storage/volumes/"+smUUID, nil, CodeVolHasClones)

	// Replication goes on: three updates, the locked snapshot survives retention.
	src := e.mustDevice(topology.Site1, "RG1FV1")
	for i := 0; i < 3; i++ {
		writeFile(t, filepath.Join(src.Dir, "new-vm", "update.txt"), string(rune('a'+i)))
		e.do(s2, "POST", relPath+"/transfers", map[string]any{}).must(t, 201)
		if rec := e.settle(s2, smPath); str(rec, "transfer.state") != "success" || str(rec, "state") != "snapmirrored" {
			t.Fatalf("update %d with a clone: %v", i, rec)
		}
	}
	if !exists(filepath.Join(replica.Dir, "new-vm", "update.txt")) || exists(filepath.Join(d.Dir, "new-vm")) {
		t.Fatalf("replica/clone contents after updates")
	}
	names := map[string]bool{}
	for _, s := range e.do(s2, "GET", "/api/storage/volumes/"+smUUID+"/snapshots", nil).must(t, 200).records() {
		names[str(s, "name")] = true
	}
	if !names[snap] || len(names) != 3 {
		t.Fatalf("snapshots after updates %v (locked %s)", names, snap)
	}

	// Cleanup: unmap, delete the clone; the lock goes with it.
	maps := e.do(s2, "GET", "/api/protocols/san/lun-maps?lun.name="+str(lun, "name"), nil).must(t, 200).records()
	e.do(s2, "DELETE", "/api/protocols/san/lun-maps/"+str(maps[0], "lun.uuid")+"/"+str(maps[0], "igroup.uuid"), nil).must(t, 200)
	e.jobOK(s2, "DELETE", "/api/storage/volumes/"+cloneUUID, nil)
	if _, ok := e.device(s2, "RG1FV1_Clone"); ok {
		t.Fatalf("deleted clone still presented")
	}
	snapInfo = e.do(s2, "GET", "/api/storage/volumes/"+smUUID+"/snapshots/"+str(snaps[0], "uuid")+"?fields=owners", nil).must(t, 200).body
	if owners, _ := snapInfo["owners"].([]any); len(owners) != 1 {
		t.Fatalf("owners after clone delete %v", snapInfo["owners"])
	}
}

func TestFlexCloneSplitAndNFSClone(t *testing.T) {
	e := newEnv(t, Options{})
	s2 := topology.Site2
	rel := e.rel(s2, "svm2:RG2FV3_SM")
	snap := str(rel, "exported_snapshot")
	r := e.do(s2, "POST", "/api/storage/volumes?return_records=true", map[string]any{
		"name": "RG2FV3_Clone", "svm": map[string]any{"name": "svm2"},
		"clone": map[string]any{"parent_volume": map[string]any{"name": "RG2FV3_SM"}, "parent_snapshot": map[string]any{"name": snap}},
		"nas":   map[string]any{"path": "/RG2FV3_Clone"},
	})
	e.waitJob(s2, r)
	id := str(r.records()[0], "uuid")
	// The clone is exported through the SVM's default policy until one is set.
	if d, ok := e.device(s2, "RG2FV3_Clone"); !ok || len(d.ReadWrite) != 0 {
		t.Fatalf("NFS clone device before policy %+v %v", d, ok)
	}
	e.jobOK(s2, "PATCH", "/api/storage/volumes/"+id, map[string]any{"nas": map[string]any{"export_policy": map[string]any{"name": "site2_esx_nfs"}}})
	d := e.mustDevice(s2, "RG2FV3_Clone")
	if d.ExportPath != "/RG2FV3_Clone" || len(d.ReadWrite) != 1 || d.ReadWrite[0] != "30.1.1.0/24" || !d.Writable {
		t.Fatalf("NFS clone device %+v", d)
	}
	if !exists(filepath.Join(d.Dir, "Finance Database", "Finance Database.vmx")) && !exists(filepath.Join(d.Dir, "Finance-App1", "Finance-App1.vmx")) {
		t.Fatalf("NFS clone lacks VMs")
	}
	e.jobOK(s2, "PATCH", "/api/storage/volumes/"+id, map[string]any{"clone": map[string]any{"split_initiated": true}})
	vol := e.do(s2, "GET", "/api/storage/volumes/"+id+"?fields=clone", nil).must(t, 200).body
	if get(vol, "clone.is_flexclone") != false {
		t.Fatalf("after split %v", vol)
	}
	// Parent deletable again as far as clones go (it stays because it is an endpoint? no: allowed by default).
	e.jobOK(s2, "PATCH", "/api/storage/volumes/"+id, map[string]any{"nas": map[string]any{"path": ""}})
	if _, ok := e.device(s2, "RG2FV3_Clone"); ok {
		t.Fatalf("unmounted volume still exported")
	}
}
