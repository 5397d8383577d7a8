package ontap

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"vmdr.local/lab/internal/topology"
)

// Fault injection and the options for UNCONFIRMED behaviours.

func TestClusterDown(t *testing.T) {
	e := newEnv(t, Options{})
	s1, s2 := topology.Site1, topology.Site2
	c1 := e.lab.Cluster(s1)
	c1.SetDown(true)
	req, _ := http.NewRequest("GET", e.srv[s1].URL+"/api/cluster", nil)
	req.SetBasicAuth("admin", "netapp1!")
	if res, err := e.srv[s1].Client().Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("a down cluster answered %d", res.StatusCode)
	}
	if d := e.mustDevice(s1, "RG1FV1"); d.Online {
		t.Fatalf("LUN of a down cluster online")
	}
	if _, ok := e.device(s1, "RG2FV3"); ok {
		t.Fatalf("export of a down cluster presented")
	}
	// Updates fail; a disaster break at the destination still works.
	path := "/api/snapmirror/relationships/" + str(e.rel(s2, smPath), "uuid")
	e.do(s2, "POST", path+"/transfers", map[string]any{}).must(t, 201)
	e.eventually("failed update", func() bool { return str(e.rel(s2, smPath), "transfer.state") == "failed" })
	if rt, _ := e.lab.Cluster(s2).Relationship("RG1FV1_SM"); rt.Healthy || rt.UnhealthyReason == "" {
		t.Fatalf("relationship with a down source: %+v", rt)
	}
	e.jobOK(s2, "PATCH", path, map[string]any{"state": "broken_off"})
	if d := e.mustDevice(s2, "RG1FV1_SM"); !d.Writable {
		t.Fatalf("broken-off replica not writable")
	}
	// Resync needs the source.
	e.jobFails(s2, "PATCH", path, map[string]any{"state": "snapmirrored"}, CodeSMResyncFailed)
	c1.SetDown(false)
	e.do(s1, "GET", "/api/cluster", nil).must(t, 200)
	e.jobOK(s2, "PATCH", path, map[string]any{"state": "snapmirrored"})
	if rec := e.settle(s2, smPath); rec["healthy"] != true || str(rec, "state") != "snapmirrored" {
		t.Fatalf("after the source came back: %v", rec)
	}
}

func TestInjectedFailuresAndDelays(t *testing.T) {
	e := newEnv(t, Options{})
	s2 := topology.Site2
	c2 := e.lab.Cluster(s2)
	path := "/api/snapmirror/relationships/" + str(e.rel(s2, smPath), "uuid")
	c2.FailNextJob(JobFault{Method: "PATCH", Path: "/api/snapmirror/relationships/*", Code: CodeSMQuiesceFailed, Message: "Quiescing the SnapMirror relationship has failed."})
	job := e.jobFails(s2, "PATCH", path, map[string]any{"state": "paused"}, CodeSMQuiesceFailed)
	if str(job, "message") != "Quiescing the SnapMirror relationship has failed." {
		t.Fatalf("injected job %v", job)
	}
	e.jobOK(s2, "PATCH", path, map[string]any{"state": "paused"})

	// A create whose job fails leaves no volume behind: the same create then succeeds.
	clone := map[string]any{"name": "failed_clone", "svm": map[string]any{"name": "svm2"},
		"clone": map[string]any{"is_flexclone": true, "parent_volume": map[string]any{"name": "RG1FV1_SM"}, "parent_snapshot": map[string]any{"name": str(e.rel(s2, smPath), "exported_snapshot")}}}
	c2.FailNextJob(JobFault{Method: "POST", Path: "/api/storage/volumes*", Code: 917536, Message: "aggregate full"})
	e.jobFails(s2, "POST", "/api/storage/volumes", clone, 917536)
	e.jobOK(s2, "POST", "/api/storage/volumes", clone)

	c2.FailNextRequest(RequestFault{Method: "GET", Path: "/api/storage/luns", Status: 503, Code: CodeInternal, Message: "RPC failure"})
	if r := e.do(s2, "GET", "/api/storage/luns", nil); r.status != 503 || r.errCode() != "65562" {
		t.Fatalf("injected request failure %d %s", r.status, r.raw)
	}
	e.do(s2, "GET", "/api/storage/luns", nil).must(t, 200)

	c2.SetDelay(Delay{Method: "GET", Path: "/api/cluster", Duration: time.Hour})
	done := make(chan resp, 1)
	go func() { done <- e.do(s2, "GET", "/api/cluster", nil) }()
	select {
	case <-done:
		t.Fatalf("delayed request answered early")
	case <-time.After(50 * time.Millisecond):
	}
	e.clk.Advance(time.Hour)
	select {
	case r := <-done:
		r.must(t, 200)
	case <-time.After(5 * time.Second):
		t.Fatalf("delayed request never answered")
	}
	c2.SetDelay(Delay{Method: "GET", Path: "/api/cluster"})
	e.do(s2, "GET", "/api/cluster", nil).must(t, 200)
}

func TestUnconfirmedOptions(t *testing.T) {
	s1, s2 := topology.Site1, topology.Site2
	reverse := map[string]any{"source": map[string]any{"path": smPath}, "destination": map[string]any{"path": srcPath}}

	t.Run("RejectCreateOverRW", func(t *testing.T) {
		e := newEnv(t, Options{RejectCreateOverRW: true})
		if r := e.do(s1, "POST", "/api/snapmirror/relationships", reverse); r.errCode() != "6619546" {
			t.Fatalf("POST over RW: %s", r.raw)
		}
	})
	t.Run("ReturnFailedJobAsJob", func(t *testing.T) {
		e := newEnv(t, Options{ReturnFailedJobAsJob: true})
		spare := e.spare()
		r := e.do(s2, "PATCH", spare+"?return_timeout=5", map[string]any{"state": "broken_off"})
		if r.status != 400 {
			t.Fatalf("validation errors stay synchronous: %s", r.raw)
		}
		e.lab.Cluster(s2).FailNextJob(JobFault{Path: "/api/snapmirror/*", Code: 13303810, Message: "injected"})
		r = e.do(s2, "PATCH", spare+"?return_timeout=5", map[string]any{"state": "snapmirrored"})
		if r.status != 200 || str(e.waitJob(s2, r), "state") != "failure" {
			t.Fatalf("failed job within return_timeout: %d %s", r.status, r.raw)
		}
	})
	t.Run("QuiesceUninitializedThenResume", func(t *testing.T) {
		e := newEnv(t, Options{})
		spare := e.spare()
		e.jobOK(s2, "PATCH", spare, map[string]any{"state": "paused"})
		e.jobOK(s2, "PATCH", spare, map[string]any{"state": "snapmirrored"})
		if s := str(e.rel(s2, "svm2:"+topology.SpareDest), "state"); s != "uninitialized" {
			t.Fatalf("resume of a quiesced uninitialized relationship: %s", s)
		}
		r := newEnv(t, Options{RejectQuiesceUninitialized: true})
		if x := r.do(s2, "PATCH", r.spare(), map[string]any{"state": "paused"}); x.errCode() != "13303818" {
			t.Fatalf("rejected quiesce: %s", x.raw)
		}
	})
	t.Run("AllowUpdateWhenPaused", func(t *testing.T) {
		e := newEnv(t, Options{AllowUpdateWhenPaused: true})
		path := "/api/snapmirror/relationships/" + str(e.rel(s2, smPath), "uuid")
		e.jobOK(s2, "PATCH", path, map[string]any{"state": "paused"})
		e.do(s2, "POST", path+"/transfers", map[string]any{}).must(t, 201)
		if rec := e.settle(s2, smPath); str(rec, "transfer.state") != "success" || str(rec, "state") != "paused" {
			t.Fatalf("update while paused: %v", rec)
		}
	})
	t.Run("KeepCompletedTransfersAndLocation", func(t *testing.T) {
		e := newEnv(t, Options{KeepCompletedTransfers: true, RelationshipLocationByUUID: true})
		path := "/api/snapmirror/relationships/" + str(e.rel(s2, smPath), "uuid")
		loc := e.do(s2, "POST", path+"/transfers", map[string]any{}).must(t, 201).header.Get("Location")
		e.settle(s2, smPath)
		if tr := e.do(s2, "GET", loc, nil).must(t, 200).body; str(tr, "state") != "success" {
			t.Fatalf("completed transfer %v", tr)
		}
		r := e.do(s2, "POST", "/api/snapmirror/relationships", map[string]any{
			"source": map[string]any{"path": "svm1:" + topology.SpareSource}, "destination": map[string]any{"path": "svm2:" + topology.SpareDest},
		}).must(t, 202)
		if want := "/api/snapmirror/relationships/" + str(e.rel(s2, "svm2:"+topology.SpareDest), "uuid"); r.header.Get("Location") != want {
			t.Fatalf("Location %q, want %q", r.header.Get("Location"), want)
		}
	})
	t.Run("ReplicaKeepsSourceSerial", func(t *testing.T) {
		e := newEnv(t, Options{ReplicaKeepsSourceSerial: true})
		if a, b := e.mustDevice(s1, "RG1FV1").Serial, e.mustDevice(s2, "RG1FV1_SM").Serial; a != b {
			t.Fatalf("serials %s %s", a, b)
		}
	})
	t.Run("CloneStopsReplication", func(t *testing.T) {
		e := newEnv(t, Options{CloneStopsReplication: true})
		rel := e.rel(s2, smPath)
		e.jobOK(s2, "POST", "/api/storage/volumes", map[string]any{
			"name": "c1", "svm": map[string]any{"name": "svm2"},
			"clone": map[string]any{"parent_volume": map[string]any{"name": "RG1FV1_SM"}, "parent_snapshot": map[string]any{"name": str(rel, "exported_snapshot")}},
		})
		e.do(s2, "POST", "/api/snapmirror/relationships/"+str(rel, "uuid")+"/transfers", map[string]any{}).must(t, 201)
		if rec := e.settle(s2, smPath); str(rec, "transfer.state") != "failed" || rec["healthy"] != false {
			t.Fatalf("transfer with a clone (pre-9.12 behaviour): %v", rec)
		}
	})
	t.Run("RejectDeleteMountedAndInheritPolicy", func(t *testing.T) {
		e := newEnv(t, Options{RejectDeleteMounted: true, CloneInheritsExportPolicy: true})
		e.jobFails(s1, "DELETE", "/api/storage/volumes/"+e.volumeUUID(s1, "RG2FV3"), nil, CodeInUse)
		e.jobOK(s1, "POST", "/api/storage/volumes", map[string]any{
			"name": "nfsclone", "svm": map[string]any{"name": "svm1"}, "clone": map[string]any{"parent_volume": map[string]any{"name": "RG2FV3"}},
			"nas": map[string]any{"path": "/nfsclone"},
		})
		v, _ := e.lab.Cluster(s1).Volume("nfsclone")
		if v.ExportPolicy != "site1_esx_nfs" || v.CloneSnapshot == "" {
			t.Fatalf("clone of an RW volume %+v", v)
		}
	})
}

func TestScaleThousandsOfVMs(t *testing.T) {
	w := topology.VMbook(topology.Options{VMsPerGroup: 1500, DatastoresPerGroup: 2})
	start := time.Now()
	e := newEnvWorld(t, Options{}, w, true)
	seeded := time.Since(start)
	s2 := topology.Site2
	replica := e.mustDevice(s2, "RG1FV1_SM")
	if !exists(filepath.Join(replica.Dir, "HR-App1000", "HR-App1000.vmx")) && !exists(filepath.Join(replica.Dir, "HR-App999", "HR-App999.vmx")) {
		t.Fatalf("replica lacks the scaled-out VMs")
	}
	// An update after a small change moves only the change.
	src := e.mustDevice(topology.Site1, "RG1FV1")
	writeFile(t, filepath.Join(src.Dir, "HR-App1", "HR-App1.nvram"), "0123456789")
	path := "/api/snapmirror/relationships/" + str(e.rel(s2, smPath), "uuid")
	start = time.Now()
	e.do(s2, "POST", path+"/transfers", map[string]any{}).must(t, 201)
	rec := e.settle(s2, smPath)
	if got := get(rec, "transfer.bytes_transferred"); got != 10.0 {
		t.Fatalf("incremental update moved %v bytes", got)
	}
	t.Logf("3,000 protected VMs: seeded in %s, incremental update in %s", seeded, time.Since(start))
}
