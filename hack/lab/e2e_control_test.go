package main

// The control API and fault injection, seen from the clients of the lab's real endpoints.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/topology"
)

// taskFault returns the fault a failed task ended with.
func taskFault(err error) types.BaseMethodFault {
	var te task.Error
	if errors.As(err, &te) && te.LocalizedMethodFault != nil {
		return te.LocalizedMethodFault.Fault
	}
	return nil
}

// tryTask waits for a task and returns its error.
func (s *site) tryTask(t *object.Task) error {
	_, err := t.WaitForResult(s.e.ctx, nil)
	return err
}

// vmNames lists every VM of the vCenter through a container view, sorted.
func (s *site) vmNames() []string {
	t, ctx := s.e.t, s.e.ctx
	t.Helper()
	v, err := view.NewManager(s.c.Client).CreateContainerView(ctx, s.c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = v.Destroy(ctx) }()
	var vms []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name"}, &vms); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(vms))
	for _, vm := range vms {
		names = append(names, vm.Name)
	}
	return sortedCopy(names)
}

// ontapAnswers reports whether a site's ONTAP API answers GET /api/cluster.
func (e *labEnv) ontapAnswers(site string) bool {
	ep := e.desc.Sites[site].ONTAP
	r, err := e.send(e.https, "GET", ep.URL+"/api/cluster", nil, ep.Username, ep.Password)
	return err == nil && r.status == http.StatusOK
}

func TestLabJSONDescribesEveryEndpointAndTheControlAPIServesIt(t *testing.T) {
	e := startLab(t)
	raw, err := os.ReadFile(e.desc.StateDir + "/lab.json")
	if err != nil {
		t.Fatal(err)
	}
	// The TypeScript harness reads exactly these keys (test/harness/lab.ts).
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		return sortedCopy(out)
	}
	if got := keys(doc); !sameStrings(got, []string{"caFile", "control", "sites", "stateDir", "untrustedCaFile"}) {
		t.Fatalf("lab.json keys %v", got)
	}
	sites := doc["sites"].(map[string]any)
	if got := keys(sites); !sameStrings(got, []string{"site1", "site2"}) {
		t.Fatalf("sites %v", got)
	}
	for id, sv := range sites {
		s := sv.(map[string]any)
		if got := keys(s); !sameStrings(got, []string{"datacenter", "ontap", "vcenter"}) {
			t.Fatalf("%s keys %v", id, got)
		}
		if got := keys(s["vcenter"].(map[string]any)); !sameStrings(got, []string{"instanceUuid", "password", "url", "username"}) {
			t.Fatalf("%s vcenter keys %v", id, got)
		}
		if got := keys(s["ontap"].(map[string]any)); !sameStrings(got, []string{"cluster", "password", "svm", "url", "username"}) {
			t.Fatalf("%s ontap keys %v", id, got)
		}
	}
	if e.desc.Sites["site1"].Datacenter != "Site 1" || e.desc.Sites["site2"].ONTAP.SVM != "svm2" ||
		e.desc.Sites["site1"].VCenter.InstanceUUID == e.desc.Sites["site2"].VCenter.InstanceUUID {
		t.Fatalf("lab.json %s", raw)
	}
	// GET /lab answers the same document.
	var fromAPI, fromFile description
	if err := json.Unmarshal([]byte(e.control("GET", "/lab", nil).must(t, http.StatusOK).raw), &fromAPI); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(raw, &fromFile)
	if !reflect.DeepEqual(fromAPI, fromFile) {
		t.Fatalf("GET /lab %+v, lab.json %+v", fromAPI, fromFile)
	}
	if r := e.control("GET", "/healthz", nil).must(t, http.StatusOK); r.body["ok"] != true {
		t.Fatalf("healthz %s", r.raw)
	}
}

func TestTLSIsVerifiedAgainstTheLabCAAndCredentialsAreChecked(t *testing.T) {
	e := startLab(t)
	// A client given the untrusted CA refuses both servers.
	if _, err := e.login(topology.Site1, e.desc.UntrustedCAFile); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("vCenter login trusting the wrong CA: %v", err)
	}
	pem, err := os.ReadFile(e.desc.UntrustedCAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	wrong := &http.Client{Timeout: wait, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if _, err := e.send(wrong, "GET", e.desc.Sites["site1"].ONTAP.URL+"/api/cluster", nil, "admin", "netapp1!"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("ONTAP call trusting the wrong CA: %v", err)
	}
	// Wrong credentials: ONTAP answers 401, vCenter InvalidLogin.
	ep := e.desc.Sites["site2"].ONTAP
	if r, err := e.send(e.https, "GET", ep.URL+"/api/cluster", nil, ep.Username, "wrong"); err != nil || r.status != http.StatusUnauthorized {
		t.Fatalf("ONTAP with a wrong password: %d %v", r.status, err)
	}
	c := e.vcenter(topology.Site2)
	if err := c.SessionManager.Login(e.ctx, url.UserPassword("administrator@vsphere.local", "wrong")); !isFault[types.InvalidLogin](err) {
		t.Fatalf("vCenter login with a wrong password: %v", err)
	}
}

func TestClockAdvanceMovesTheTimeOfVCenterAndONTAP(t *testing.T) {
	e := startLab(t)
	if r := e.control("GET", "/clock", nil).must(t, http.StatusOK); str(r.body, "offset") != "0s" {
		t.Fatalf("clock %s", r.raw)
	}
	s1 := e.site(topology.Site1)
	before, err := methods.GetCurrentTime(e.ctx, s1.c.Client)
	if err != nil {
		t.Fatal(err)
	}
	r := e.control("POST", "/clock/advance", map[string]string{"by": "50m"}).must(t, http.StatusOK)
	now, err := time.Parse(time.RFC3339Nano, str(r.body, "now"))
	if err != nil || now.Before(before.Add(50*time.Minute)) {
		t.Fatalf("advance answered %s (vCenter time before: %v)", r.raw, before)
	}
	if r := e.control("GET", "/clock", nil).must(t, http.StatusOK); str(r.body, "offset") != "50m0s" {
		t.Fatalf("clock %s", r.raw)
	}
	after, err := methods.GetCurrentTime(e.ctx, s1.c.Client)
	if err != nil || after.Sub(*before) < 50*time.Minute {
		t.Fatalf("vCenter CurrentTime %v → %v after advancing 50m (%v)", before, after, err)
	}
	// ONTAP stamps what it does with the lab time: the snapshot of the next transfer.
	rel := e.update(topology.Site2, smPath2)
	volUUID := str(e.volume(topology.Site2, "RG1FV2_SM", "uuid"), "uuid")
	snaps := e.ontap(topology.Site2, "GET", "/api/storage/volumes/"+volUUID+"/snapshots?fields=create_time&name="+str(rel, "exported_snapshot"), nil).must(t, http.StatusOK).records()
	if len(snaps) != 1 {
		t.Fatalf("exported snapshot %q: %v", str(rel, "exported_snapshot"), snaps)
	}
	if created, err := time.Parse(time.RFC3339, str(snaps[0], "create_time")); err != nil || created.Before(before.Add(50*time.Minute).Truncate(time.Second)) {
		t.Fatalf("snapshot created %s (%v), lab time before the advance %v", str(snaps[0], "create_time"), err, before)
	}
}

func TestSiteDownSilencesVCenterAndONTAPUntilItComesBack(t *testing.T) {
	e := startLab(t)
	s1 := e.site(topology.Site1)
	e.control("POST", "/sites/site1/down", map[string]string{"mode": "reset"}).must(t, http.StatusOK)

	if _, err := e.login(topology.Site1, e.desc.CAFile); err == nil {
		t.Fatal("logged in to a vCenter whose site is down")
	}
	if _, err := methods.GetCurrentTime(e.ctx, s1.c.Client); err == nil {
		t.Fatal("an open session still answers while its site is down")
	}
	if e.ontapAnswers(topology.Site1) {
		t.Fatal("ONTAP answers while its site is down")
	}
	if !e.ontapAnswers(topology.Site2) {
		t.Fatal("the other site's ONTAP went down too")
	}
	if truth := e.control("GET", "/truth/sites/site1/vcenter", nil).must(t, http.StatusOK); str(truth.body, "down") != "reset" {
		t.Fatalf("truth says down=%q", str(truth.body, "down"))
	}
	// Replication from the lost site fails.
	rel := e.update(topology.Site2, smPath)
	if str(rel, "transfer.state") != "failed" || rel["healthy"] != false {
		t.Fatalf("update from a site that is down: %v", rel)
	}

	// "hang" accepts connections and never answers: clients see their own timeouts.
	e.control("POST", "/sites/site1/down", map[string]string{"mode": "hang"}).must(t, http.StatusOK)
	ctx, cancel := context.WithTimeout(e.ctx, 300*time.Millisecond)
	_, err := methods.GetCurrentTime(ctx, s1.c.Client)
	cancel()
	if err == nil || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("call to a hung vCenter: %v", err)
	}

	// Back up: the old session is still valid, a new login works, replication recovers.
	e.control("POST", "/sites/site1/down", map[string]string{"mode": "up"}).must(t, http.StatusOK)
	eventually(t, "the old session to answer again", func() bool {
		_, err := methods.GetCurrentTime(e.ctx, s1.c.Client)
		return err == nil
	})
	if _, err := e.login(topology.Site1, e.desc.CAFile); err != nil {
		t.Fatal(err)
	}
	if !e.ontapAnswers(topology.Site1) {
		t.Fatal("ONTAP silent after the site came back")
	}
	if rel := e.update(topology.Site2, smPath); str(rel, "transfer.state") != "success" || rel["healthy"] != true {
		t.Fatalf("update after the site came back: %v", rel)
	}
}

func TestLinkCutFailsTransfersAndLagGrowsUntilRestored(t *testing.T) {
	e := startLab(t)
	e.control("POST", "/link", map[string]bool{"cut": true}).must(t, http.StatusOK)
	if r := e.control("GET", "/truth/storage", nil).must(t, http.StatusOK); r.body["linkCut"] != true {
		t.Fatal("truth does not show the link cut")
	}
	rel := e.update(topology.Site2, smPath)
	if str(rel, "transfer.state") != "failed" || rel["healthy"] != false || str(rel, "state") != "snapmirrored" {
		t.Fatalf("update over a cut link: %v", rel)
	}
	lag := func() float64 {
		return e.control("GET", "/truth/sites/site2/ontap/relationships/RG1FV1_SM", nil).must(t, http.StatusOK).body["lagSeconds"].(float64)
	}
	l1 := lag()
	e.advance(3 * time.Hour) // the hourly schedule fires and fails too
	if l2 := lag(); l2 < l1+3*3600 {
		t.Fatalf("lag %v s after 3 h with the link cut (before %v s)", l2, l1)
	}
	if d, err := parseISODuration(str(e.relationship(topology.Site2, smPath), "lag_time")); err != nil || d < 3*time.Hour {
		t.Fatalf("REST lag_time %v (%v)", d, err)
	}

	e.control("POST", "/link", map[string]bool{"cut": false}).must(t, http.StatusOK)
	rel = e.update(topology.Site2, smPath)
	if str(rel, "transfer.state") != "success" || rel["healthy"] != true {
		t.Fatalf("update after the link came back: %v", rel)
	}
	if l := lag(); l > 60 {
		t.Fatalf("lag %v s right after a successful update", l)
	}
}

// parseISODuration reads the PT#H#M#S durations ONTAP reports.
func parseISODuration(s string) (time.Duration, error) {
	rest, ok := strings.CutPrefix(s, "P")
	if !ok {
		return 0, errors.New("not an ISO 8601 duration: " + s)
	}
	var days time.Duration
	if d, r, ok := strings.Cut(rest, "D"); ok {
		n, err := time.ParseDuration(d + "h")
		if err != nil {
			return 0, err
		}
		days, rest = 24*n, r
	}
	rest = strings.TrimPrefix(rest, "T")
	if rest == "" {
		return days, nil
	}
	d, err := time.ParseDuration(strings.ToLower(rest))
	return days + d, err
}

func TestVCenterRestartEndsSessionsButKeepsTheInventory(t *testing.T) {
	e := startLab(t)
	s1 := e.site(topology.Site1)
	before := s1.vmNames()

	e.control("POST", "/sites/site1/vcenter/restart", map[string]string{"outage": "300ms"}).must(t, http.StatusOK)
	var m mo.Folder
	err := s1.c.RetrieveOne(e.ctx, s1.c.ServiceContent.RootFolder, []string{"name"}, &m)
	if !isFault[types.NotAuthenticated](err) {
		t.Fatalf("old session after a restart: %v", err)
	}
	again := e.site(topology.Site1)
	if after := again.vmNames(); !sameStrings(after, before) {
		t.Fatalf("inventory after restart %v, before %v", after, before)
	}
	// The outage is bounded.
	for _, outage := range []string{"1h", "-1s"} {
		e.control("POST", "/sites/site1/vcenter/restart", map[string]string{"outage": outage}).must(t, http.StatusBadRequest)
	}
}

func TestInjectedFaultsReachTheClientsAndClearFaultsRemovesThem(t *testing.T) {
	e := startLab(t)
	s1 := e.site(topology.Site1)
	desktop := s1.vm("Desktops/Desktop-01")

	// vCenter: the next PowerOffVM_Task fails with the named fault.
	e.control("POST", "/sites/site1/vcenter/fail-next-task", map[string]string{"method": "PowerOffVM_Task", "fault": "InvalidState"}).must(t, http.StatusOK)
	tk, err := desktop.PowerOff(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := taskFault(s1.tryTask(tk)).(*types.InvalidState); !ok {
		t.Fatalf("injected task fault: %T", f)
	}
	// A failure aimed at one VM leaves the others alone.
	e.control("POST", "/sites/site1/vcenter/fail-next-task", map[string]string{"method": "PowerOffVM_Task", "fault": "InvalidState", "entity": "Desktop-02"}).must(t, http.StatusOK)
	other := s1.vm("Desktops/Desktop-03")
	if tk, err := other.PowerOff(e.ctx); err != nil || s1.tryTask(tk) != nil {
		t.Fatalf("Desktop-03's power-off: %v", err)
	}
	aimed := s1.vm("Desktops/Desktop-02")
	if tk, err := aimed.PowerOff(e.ctx); err != nil {
		t.Fatal(err)
	} else if f, ok := taskFault(s1.tryTask(tk)).(*types.InvalidState); !ok {
		t.Fatalf("fault aimed at Desktop-02: %T", f)
	}
	// ... and a call fault on the next call of a method.
	e.control("POST", "/sites/site1/vcenter/fail-next-call", map[string]string{"method": "PowerOffVM_Task", "fault": "NotSupported"}).must(t, http.StatusOK)
	if _, err := desktop.PowerOff(e.ctx); !isFault[types.NotSupported](err) {
		t.Fatalf("injected call fault: %v", err)
	}
	// A task duration runs on the lab clock: the power-off waits for it.
	e.control("POST", "/sites/site1/vcenter/task-duration", map[string]string{"method": "PowerOffVM_Task", "duration": "1h"}).must(t, http.StatusOK)
	tk, err = desktop.PowerOff(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ti mo.Task
	if err := tk.Properties(e.ctx, tk.Reference(), []string{"info.state"}, &ti); err != nil || ti.Info.State != types.TaskInfoStateRunning {
		t.Fatalf("task with a 1 h duration is %s (%v)", ti.Info.State, err)
	}
	e.advance(time.Hour)
	if err := s1.tryTask(tk); err != nil {
		t.Fatal(err)
	}
	// A method delay is real time.
	e.control("POST", "/sites/site1/vcenter/delay", map[string]string{"method": "CurrentTime", "delay": "150ms"}).must(t, http.StatusOK)
	start := time.Now()
	if _, err := methods.GetCurrentTime(e.ctx, s1.c.Client); err != nil || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("delayed CurrentTime answered after %v (%v)", time.Since(start), err)
	}

	// ONTAP: a failing job, a failing request, a delay on the lab clock.
	e.control("POST", "/sites/site2/ontap/fail-next-job", map[string]any{
		"method": "PATCH", "path": "/api/snapmirror/relationships/*", "code": 13303812, "message": "injected job failure",
	}).must(t, http.StatusOK)
	id := str(e.relationship(topology.Site2, smPath), "uuid")
	job := e.job(topology.Site2, e.ontap(topology.Site2, "PATCH", "/api/snapmirror/relationships/"+id, map[string]any{"state": "paused"}))
	if str(job, "state") != "failure" || job["code"] != float64(13303812) || str(job, "message") != "injected job failure" {
		t.Fatalf("job %v", job)
	}
	e.control("POST", "/sites/site2/ontap/fail-next-request", map[string]any{
		"method": "GET", "path": "/api/cluster", "status": 503, "code": 5, "message": "busy",
	}).must(t, http.StatusOK)
	if r := e.ontap(topology.Site2, "GET", "/api/cluster", nil); r.status != 503 || r.errCode() != "5" {
		t.Fatalf("injected request failure: %d %s", r.status, r.raw)
	}
	e.control("POST", "/sites/site2/ontap/delay", map[string]string{"method": "GET", "path": "/api/cluster", "duration": "1h"}).must(t, http.StatusOK)
	done := make(chan reply, 1)
	go func() {
		ep := e.desc.Sites["site2"].ONTAP
		r, _ := e.send(e.https, "GET", ep.URL+"/api/cluster", nil, ep.Username, ep.Password)
		done <- r
	}()
	select {
	case r := <-done:
		t.Fatalf("a request delayed by 1 h of lab time answered at once: %d", r.status)
	case <-time.After(100 * time.Millisecond):
	}
	// Advance again should the request have reached the server only after an advance.
	eventually(t, "the delayed request to answer", func() bool {
		e.advance(time.Hour)
		select {
		case r := <-done:
			if r.status != http.StatusOK {
				t.Fatalf("delayed request: %d %s", r.status, r.raw)
			}
			return true
		case <-time.After(250 * time.Millisecond):
			return false
		}
	})

	// Either half of a site can go down on its own.
	e.control("POST", "/sites/site1/vcenter/down", map[string]string{"mode": "reset"}).must(t, http.StatusOK)
	if _, err := e.login(topology.Site1, e.desc.CAFile); err == nil || !e.ontapAnswers(topology.Site1) {
		t.Fatalf("vCenter down alone: login %v, ONTAP answers %v", err, e.ontapAnswers(topology.Site1))
	}
	e.control("POST", "/sites/site1/vcenter/down", map[string]string{"mode": "up"}).must(t, http.StatusOK)
	e.control("POST", "/sites/site2/ontap/down", map[string]bool{"down": true}).must(t, http.StatusOK)
	if e.ontapAnswers(topology.Site2) {
		t.Fatal("ONTAP answers while down")
	}
	if _, err := e.login(topology.Site2, e.desc.CAFile); err != nil {
		t.Fatalf("vCenter of a site whose array is down: %v", err)
	}

	// faults/clear removes all of it.
	e.control("POST", "/sites/site1/vcenter/fail-next-task", map[string]string{"method": "PowerOnVM_Task", "fault": "InvalidState"}).must(t, http.StatusOK)
	e.control("POST", "/link", map[string]bool{"cut": true}).must(t, http.StatusOK)
	e.control("POST", "/faults/clear", map[string]any{}).must(t, http.StatusOK)
	if !e.ontapAnswers(topology.Site2) {
		t.Fatal("ONTAP still down after faults/clear")
	}
	start = time.Now()
	if _, err := methods.GetCurrentTime(e.ctx, s1.c.Client); err != nil || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("CurrentTime after faults/clear took %v (%v)", time.Since(start), err)
	}
	tk, err = desktop.PowerOn(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.tryTask(tk); err != nil {
		t.Fatalf("power-on after faults/clear: %v", err)
	}
	if rel := e.update(topology.Site2, smPath); str(rel, "transfer.state") != "success" {
		t.Fatalf("update after faults/clear: %v", rel)
	}
}

func TestControlAPIAnswersBadRequestsWithJSONErrors(t *testing.T) {
	e := startLab(t)
	cases := []struct {
		method, path string
		body         any
		status       int
	}{
		{"POST", "/clock/advance", map[string]any{"by": "-5s"}, 400},
		{"POST", "/clock/advance", map[string]any{"by": 5}, 400},
		{"POST", "/clock/advance", map[string]any{"by": "soon"}, 400},
		{"POST", "/clock/advance", map[string]any{"bye": "5s"}, 400},
		{"POST", "/clock/advance", "{not json", 400},
		{"POST", "/clock/advance", "", 400},
		{"POST", "/clock/advance", `{"by":"1s"} trailing`, 200}, // one JSON value is read
		{"POST", "/clock/advance", `{"by":"` + strings.Repeat("9", 2<<20) + `s"}`, 400},
		{"POST", "/sites/site3/down", map[string]any{"mode": "reset"}, 404},
		{"POST", "/sites/site1/down", map[string]any{"mode": "sideways"}, 400},
		{"POST", "/sites/site1/vcenter/down", map[string]any{"mode": 1}, 400},
		{"POST", "/sites/site1/ontap/down", map[string]any{"down": "yes"}, 400},
		{"POST", "/link", map[string]any{"cut": "yes"}, 400},
		{"POST", "/sites/site1/vcenter/vms", map[string]any{"name": "x"}, 400},
		{"POST", "/sites/site1/vcenter/vms", map[string]any{"name": "x", "datastore": "NOPE"}, 400},
		{"POST", "/sites/site1/vcenter/vms", map[string]any{"name": "x", "datastore": "RP1", "cpus": "two"}, 400},
		{"POST", "/sites/nowhere/vcenter/vms", map[string]any{"name": "x", "datastore": "RP1"}, 404},
		{"POST", "/sites/site1/vcenter/fail-next-task", map[string]any{"method": "PowerOnVM_Task", "fault": "NoSuchFault"}, 400},
		{"POST", "/sites/site1/vcenter/fail-next-call", map[string]any{"method": "X", "fault": "VirtualMachine"}, 400},
		{"POST", "/sites/site1/vcenter/delay", map[string]any{"method": "X", "delay": "forever"}, 400},
		{"POST", "/sites/site1/vcenter/task-duration", map[string]any{"method": "X", "duration": []int{1}}, 400},
		{"POST", "/sites/site1/vcenter/restart", map[string]any{"outage": "1h"}, 400},
		{"POST", "/sites/site1/ontap/fail-next-job", map[string]any{"code": "x"}, 400},
		{"POST", "/sites/site1/ontap/fail-next-request", map[string]any{"status": "teapot"}, 400},
		{"POST", "/sites/site1/ontap/delay", map[string]any{"duration": "1y"}, 400},
		{"GET", "/truth/sites/site1/vcenter/vms/NoSuchVM", nil, 404},
		{"GET", "/truth/sites/site9/vcenter", nil, 404},
		{"GET", "/truth/sites/site2/ontap/relationships/NOPE", nil, 404},
		{"GET", "/truth/sites/site2/ontap/volumes/NOPE", nil, 404},
		{"GET", "/no/such/route", nil, 404},
		{"GET", "/clock/advance", nil, 405},
		{"DELETE", "/lab", nil, 405},
	}
	for _, c := range cases {
		r := e.control(c.method, c.path, c.body)
		if r.status != c.status {
			t.Errorf("%s %s: %d, want %d: %.200s", c.method, c.path, r.status, c.status, r.raw)
			continue
		}
		if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, r.header.Get("Content-Type"))
		}
		if c.status >= 400 && str(r.body, "error") == "" {
			t.Errorf("%s %s: no error message in %.200s", c.method, c.path, r.raw)
		}
		if c.status == 405 && r.header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.path)
		}
	}
	e.control("GET", "/healthz", nil).must(t, http.StatusOK)
}

// sortedCopy returns a sorted copy of a string slice.
func sortedCopy(in []string) []string { return slices.Sorted(slices.Values(in)) }
