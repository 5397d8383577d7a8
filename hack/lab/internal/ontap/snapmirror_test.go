package ontap

import (
	"net/http"
	"testing"
	"time"

	"vmdr.local/lab/internal/topology"
)

// SnapMirror state machine errors, transfers during a break, schedules and lag.

// spare creates the spare relationship (uninitialized) and returns its path.
func (e *env) spare() string {
	e.t.Helper()
	e.jobOK(topology.Site2, "POST", "/api/snapmirror/relationships", map[string]any{
		"source": map[string]any{"path": "svm1:" + topology.SpareSource}, "destination": map[string]any{"path": "svm2:" + topology.SpareDest},
		"policy": map[string]any{"name": "MirrorAllSnapshots"},
	})
	return "/api/snapmirror/relationships/" + str(e.rel(topology.Site2, "svm2:"+topology.SpareDest), "uuid")
}

func TestIllegalTransitionsReturnDocumentedCodes(t *testing.T) {
	e := newEnv(t, Options{})
	s2 := topology.Site2
	spare := e.spare()
	if s := str(e.rel(s2, "svm2:"+topology.SpareDest), "state"); s != "uninitialized" {
		t.Fatalf("new relationship is %s", s)
	}
	mirrored := "/api/snapmirror/relationships/" + str(e.rel(s2, smPath), "uuid")
	cases := []struct {
		name string
		path string
		body map[string]any
		code string
	}{
		{"break uninitialized", spare, map[string]any{"state": "broken_off"}, "13303818"},
		{"unknown state", mirrored, map[string]any{"state": "exploded"}, "13303817"},
		{"sync state on async", mirrored, map[string]any{"state": "in_sync"}, "13303831"},
		{"back to uninitialized", mirrored, map[string]any{"state": "uninitialized"}, "13303818"},
		{"restore_to_snapshot without break", mirrored, map[string]any{"state": "paused", "restore_to_snapshot": "x"}, "13303835"},
		{"preserve without resync", mirrored, map[string]any{"state": "paused", "preserve": true}, "13303836"},
		{"unknown policy", mirrored, map[string]any{"policy": map[string]any{"name": "NoSuchPolicy"}}, "13303821"},
		{"unknown field", mirrored, map[string]any{"statee": "paused"}, "262179"},
		{"wrong type", mirrored, map[string]any{"state": 7}, "262185"},
		{"9.11+ field on 9.8", mirrored, map[string]any{"transfer_schedule": map[string]any{"name": "5min"}}, "262179"},
	}
	for _, c := range cases {
		r := e.do(s2, "PATCH", c.path, c.body)
		if r.status != http.StatusBadRequest || r.errCode() != c.code {
			t.Errorf("%s: %d %s, want 400 code %s", c.name, r.status, r.raw, c.code)
		}
	}
	// Quiesce on broken_off is refused; update on broken_off fails with 13303844.
	e.jobOK(s2, "PATCH", mirrored, map[string]any{"state": "broken_off"})
	if r := e.do(s2, "PATCH", mirrored, map[string]any{"state": "paused"}); r.errCode() != "13303818" {
		t.Errorf("quiesce broken_off: %s", r.raw)
	}
	if r := e.do(s2, "POST", mirrored+"/transfers", map[string]any{}); r.status != 400 || r.errCode() != "13303844" {
		t.Errorf("update broken_off: %s", r.raw)
	}

	// POST errors.
	post := func(body map[string]any) resp { return e.do(s2, "POST", "/api/snapmirror/relationships", body) }
	for _, c := range []struct {
		name string
		body map[string]any
		code string
	}{
		{"no colon", map[string]any{"source": map[string]any{"path": "svm1:RG1FV1"}, "destination": map[string]any{"path": "RG1FV1_SM"}}, "13303852"},
		{"state without create_destination", map[string]any{"source": map[string]any{"path": "svm1:RG1FV2"}, "destination": map[string]any{"path": "svm2:X"}, "state": "snapmirrored"}, "13303873"},
		{"duplicate destination", map[string]any{"source": map[string]any{"path": "svm1:RG1FV2"}, "destination": map[string]any{"path": smPath}}, "6619637"},
		{"bad policy", map[string]any{"source": map[string]any{"path": "svm1:RG1FV2"}, "destination": map[string]any{"path": "svm2:RG9FV1_SM"}, "policy": map[string]any{"name": "Nope"}}, "13303821"},
		{"missing source", map[string]any{"destination": map[string]any{"path": smPath}}, "262177"},
	} {
		r := post(c.body)
		if r.status < 400 || r.errCode() != c.code {
			t.Errorf("POST %s: %d %s, want code %s", c.name, r.status, r.raw, c.code)
		}
	}

	// Initialize via PATCH, then "snapmirrored" again is a no-op by default.
	e.jobOK(s2, "PATCH", spare, map[string]any{"state": "snapmirrored"})
	if rec := e.settle(s2, "svm2:"+topology.SpareDest); str(rec, "state") != "snapmirrored" {
		t.Fatalf("initialize: %v", rec)
	}
	e.jobOK(s2, "PATCH", spare, map[string]any{"state": "snapmirrored"})
}

func TestTransitionErrorsAsJobFailuresOption(t *testing.T) {
	e := newEnv(t, Options{TransitionErrorsAsJobFailures: true, AlreadyInitializedError: true})
	spare := e.spare()
	e.jobFails(topology.Site2, "PATCH", spare, map[string]any{"state": "broken_off"}, CodeSMInvalidTransition)
	mirrored := "/api/snapmirror/relationships/" + str(e.rel(topology.Site2, smPath), "uuid")
	e.jobFails(topology.Site2, "PATCH", mirrored, map[string]any{"state": "snapmirrored"}, CodeSMAlreadyInitialized)
}

func TestTransferDuringBreakFailsTheJob(t *testing.T) {
	// Transfers take an hour of lab time, so the update is still running when the break comes.
	e := newEnv(t, Options{TransferSetup: time.Hour})
	s2 := topology.Site2
	path := "/api/snapmirror/relationships/" + str(e.rel(s2, smPath), "uuid")
	e.do(s2, "POST", path+"/transfers", map[string]any{}).must(t, 201)
	rec := e.rel(s2, smPath)
	if str(rec, "transfer.state") != "transferring" || str(rec, "transfer.uuid") == "" {
		t.Fatalf("transfer not running: %v", rec)
	}
	// A second update is refused while one runs.
	if r := e.do(s2, "POST", path+"/transfers", map[string]any{}); r.errCode() != "13303812" {
		t.Fatalf("second transfer: %s", r.raw)
	}
	job := e.jobFails(s2, "PATCH", path, map[string]any{"state": "broken_off"}, CodeSMBreakFailed)
	if msg := str(job, "message"); msg != "Transition to broken_off state failed. Reason:Another transfer is in progress." {
		t.Fatalf("job message %q", msg)
	}
	if s := str(e.rel(s2, smPath), "state"); s != "snapmirrored" {
		t.Fatalf("state after failed break: %s", s)
	}
	// With return_timeout the failure comes back as the HTTP error.
	r := e.do(s2, "PATCH", path+"?return_timeout=5", map[string]any{"state": "broken_off"})
	if r.status != 400 || r.errCode() != "13303808" {
		t.Fatalf("break with return_timeout: %d %s", r.status, r.raw)
	}
	// The transfer's uuid works for the abort; afterwards the break goes through.
	tid := str(e.rel(s2, smPath), "transfer.uuid")
	e.do(s2, "GET", path+"/transfers/"+tid, nil).must(t, 200)
	e.do(s2, "PATCH", path+"/transfers/"+tid, map[string]any{"state": "aborted"}).must(t, 200)
	if s := str(e.rel(s2, smPath), "transfer.state"); s != "aborted" {
		t.Fatalf("transfer state %s after abort", s)
	}
	e.do(s2, "GET", path+"/transfers/"+tid, nil).must(t, 404)
	r = e.do(s2, "PATCH", path+"?return_timeout=5", map[string]any{"state": "broken_off"}).must(t, 200)
	if str(r.body, "job.uuid") == "" {
		t.Fatalf("no job in %s", r.raw)
	}
}

func TestQuiesceWaitsForRunningTransfer(t *testing.T) {
	e := newEnv(t, Options{TransferSetup: 3 * time.Minute})
	s2 := topology.Site2
	path := "/api/snapmirror/relationships/" + str(e.rel(s2, smPath), "uuid")
	e.do(s2, "POST", path+"/transfers", map[string]any{}).must(t, 201)
	r := e.do(s2, "PATCH", path, map[string]any{"state": "paused"}).must(t, 202)
	// While quiescing, other state changes get the transient-state error.
	e.eventually("quiescing", func() bool {
		x := e.do(s2, "PATCH", path, map[string]any{"state": "broken_off"})
		return x.status == 400 && x.errCode() == "13303830"
	})
	e.settle(s2, smPath)
	if job := e.waitJob(s2, r); str(job, "state") != "success" {
		t.Fatalf("quiesce job %v", job)
	}
	if rec := e.rel(s2, smPath); str(rec, "state") != "paused" || str(rec, "transfer.state") != "success" {
		t.Fatalf("after quiesce %v", rec)
	}
}

func TestSchedulesFireOnTheLabClock(t *testing.T) {
	e := newEnv(t, Options{})
	before := e.rel(topology.Site2, smPath)
	src := e.mustDevice(topology.Site1, "RG1FV1")
	writeFile(t, src.Dir+"/scheduled/new.vmx", "x")
	// The relationships are on "hourly" (minute 5): an hour of lab time fires it once.
	e.clk.Advance(61 * time.Minute)
	var rec map[string]any
	e.eventually("scheduled update", func() bool {
		rec = e.rel(topology.Site2, smPath)
		if str(rec, "transfer.state") == "transferring" {
			e.clk.Advance(5 * time.Second)
		}
		return str(rec, "exported_snapshot") != str(before, "exported_snapshot") && str(rec, "transfer.state") == "success"
	})
	if !exists(e.mustDevice(topology.Site2, "RG1FV1_SM").Dir + "/scheduled/new.vmx") {
		t.Fatalf("scheduled update did not bring the new file")
	}
	lag, _ := parseISODuration(str(rec, "lag_time"))
	if lag > 10*time.Minute {
		t.Fatalf("lag %s after a scheduled update", str(rec, "lag_time"))
	}

	// A custom schedule set on a 9.12.1 cluster fires every two minutes.
	e2 := newEnv(t, Options{Version: "9.12.1", Schedules: map[string]Schedule{"2min": {Minutes: everyNMinutes(2)}}})
	path := "/api/snapmirror/relationships/" + str(e2.rel(topology.Site2, smPath), "uuid")
	e2.jobOK(topology.Site2, "PATCH", path, map[string]any{"transfer_schedule": map[string]any{"name": "2min"}})
	first := e2.rel(topology.Site2, smPath)
	if str(first, "transfer_schedule.name") != "2min" || str(first, "last_transfer_type") != "initialize" {
		t.Fatalf("9.12.1 fields: %v", first)
	}
	e2.clk.Advance(2*time.Minute + time.Second)
	e2.eventually("custom schedule", func() bool {
		rec := e2.rel(topology.Site2, smPath)
		if str(rec, "transfer.state") == "transferring" {
			e2.clk.Advance(5 * time.Second)
		}
		return str(rec, "last_transfer_type") == "update" && str(rec, "transfer.state") == "success"
	})
}

func TestLagGrowsWhileTheLinkIsCut(t *testing.T) {
	e := newEnv(t, Options{})
	s2 := topology.Site2
	e.lab.CutLink()
	e.clk.Advance(3 * time.Hour)
	var rec map[string]any
	e.eventually("failed scheduled transfer", func() bool {
		rec = e.rel(s2, smPath)
		return rec["healthy"] == false && str(rec, "transfer.state") == "failed"
	})
	lag, ok := parseISODuration(str(rec, "lag_time"))
	if !ok || lag < 3*time.Hour {
		t.Fatalf("lag %q with the link cut", str(rec, "lag_time"))
	}
	reasons, _ := rec["unhealthy_reason"].([]any)
	if len(reasons) != 1 {
		t.Fatalf("unhealthy_reason %v", rec["unhealthy_reason"])
	}
	if _, isInt := reasons[0].(map[string]any)["code"].(float64); !isInt {
		t.Fatalf("9.8 unhealthy_reason code is not an integer: %v", reasons[0])
	}
	// A manual update fails too.
	path := "/api/snapmirror/relationships/" + str(rec, "uuid")
	e.do(s2, "POST", path+"/transfers", map[string]any{}).must(t, 201)
	e.eventually("manual update fails", func() bool { return str(e.rel(s2, smPath), "transfer.state") == "failed" })

	e.lab.RestoreLink()
	e.do(s2, "POST", path+"/transfers", map[string]any{}).must(t, 201)
	rec = e.settle(s2, smPath)
	lag, _ = parseISODuration(str(rec, "lag_time"))
	if rec["healthy"] != true || str(rec, "transfer.state") != "success" || lag > 5*time.Minute {
		t.Fatalf("after restore: %v", rec)
	}
	if _, ok := rec["unhealthy_reason"]; ok {
		t.Fatalf("unhealthy_reason after recovery: %v", rec["unhealthy_reason"])
	}
}

func TestDeleteAndRelease(t *testing.T) {
	e := newEnv(t, Options{})
	s1, s2 := topology.Site1, topology.Site2
	rec := e.rel(s2, "svm2:RG1FV2_SM")
	id := str(rec, "uuid")
	// Flags are mutually exclusive.
	if r := e.do(s2, "DELETE", "/api/snapmirror/relationships/"+id+"?destination_only=true&source_only=true", nil); r.status != 400 {
		t.Fatalf("exclusive flags: %s", r.raw)
	}
	// A plain delete releases the source and removes the common snapshots.
	srcUUID := e.volumeUUID(s1, "RG1FV2")
	before := len(e.do(s1, "GET", "/api/storage/volumes/"+srcUUID+"/snapshots", nil).must(t, 200).records())
	if before == 0 {
		t.Fatalf("no snapmirror snapshot on the source")
	}
	e.jobOK(s2, "DELETE", "/api/snapmirror/relationships/"+id, nil)
	e.do(s2, "GET", "/api/snapmirror/relationships/"+id, nil).must(t, 404)
	e.do(s1, "GET", "/api/snapmirror/relationships/"+id+"?list_destinations_only=true", nil).must(t, 404)
	if n := len(e.do(s1, "GET", "/api/storage/volumes/"+srcUUID+"/snapshots", nil).must(t, 200).records()); n != 0 {
		t.Fatalf("%d snapshots left on the source after delete", n)
	}
	// destination_only leaves the source entry until a source_info_only release.
	id2 := str(e.rel(s2, smPath), "uuid")
	// With the {} body the NetApp SDK sends on every DELETE.
	e.jobOK(s2, "DELETE", "/api/snapmirror/relationships/"+id2+"?destination_only=true", map[string]any{})
	e.do(s1, "GET", "/api/snapmirror/relationships/"+id2+"?list_destinations_only=true", nil).must(t, 200)
	e.jobOK(s1, "DELETE", "/api/snapmirror/relationships/"+id2+"?source_info_only=true", map[string]any{})
	e.do(s1, "GET", "/api/snapmirror/relationships/"+id2+"?list_destinations_only=true", nil).must(t, 404)
	if n := len(e.do(s1, "GET", "/api/storage/volumes/"+e.volumeUUID(s1, "RG1FV1")+"/snapshots", nil).must(t, 200).records()); n == 0 {
		t.Fatalf("source_info_only removed the snapshots")
	}
	// A delete without flags fails while the source cannot be reached.
	id3 := str(e.rel(s2, "svm2:RG2FV1_SM"), "uuid")
	e.lab.CutLink()
	e.jobFails(s2, "DELETE", "/api/snapmirror/relationships/"+id3, nil, CodeSMReleaseFailed)
	e.lab.RestoreLink()
}

func TestQuiesceTimesOut(t *testing.T) {
	e := newEnv(t, Options{TransferSetup: time.Hour, QuiesceTimeout: time.Minute})
	s2 := topology.Site2
	path := "/api/snapmirror/relationships/" + str(e.rel(s2, smPath), "uuid")
	e.do(s2, "POST", path+"/transfers", map[string]any{}).must(t, 201)
	r := e.do(s2, "PATCH", path, map[string]any{"state": "paused"}).must(t, 202)
	e.eventually("quiescing", func() bool {
		return e.do(s2, "PATCH", path, map[string]any{"state": "broken_off"}).errCode() == "13303830"
	})
	// The quiesce shows before its lab-time timer is armed: advance until the job ends, not once
	// (a single advance could land before the timer exists and leave the job waiting forever).
	id := str(r.body, "job.uuid")
	var job map[string]any
	e.eventually("the quiesce to time out", func() bool {
		e.clk.Advance(time.Minute)
		job = e.do(s2, "GET", "/api/cluster/jobs/"+id, nil).must(t, 200).body
		return str(job, "state") == "success" || str(job, "state") == "failure"
	})
	if str(job, "state") != "failure" || job["code"] != float64(CodeSMQuiesceTimeout) {
		t.Fatalf("quiesce job %v", job)
	}
	if s := str(e.rel(s2, smPath), "state"); s != "snapmirrored" {
		t.Fatalf("state after a timed-out quiesce: %s", s)
	}
}
