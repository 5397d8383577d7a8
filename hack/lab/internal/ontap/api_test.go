package ontap

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"vmdr.local/lab/internal/topology"
)

// Common REST behaviour: authentication, errors, fields, filters, pagination, jobs.

func TestAuthentication(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.doAs(topology.Site1, "GET", "/api/cluster", nil, "admin", "wrong")
	if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("wrong password: %d %v", r.status, r.header)
	}
	if r := e.doAs(topology.Site1, "GET", "/api/cluster", nil, "", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d", r.status)
	}
	e.do(topology.Site1, "GET", "/api/cluster", nil).must(t, 200)

	j := newEnvWorld(t, Options{UnauthorizedJSON: true, User: "ops", Password: "s3cret"}, topology.VMbook(topology.DefaultOptions()), false)
	r = j.doAs(topology.Site1, "GET", "/api/cluster", nil, "admin", "netapp1!")
	if r.status != http.StatusUnauthorized || r.errCode() != "6" {
		t.Fatalf("JSON 401: %d %s", r.status, r.raw)
	}
	j.do(topology.Site1, "GET", "/api/cluster", nil).must(t, 200)
}

func TestClusterAndSVM(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.do(topology.Site2, "GET", "/api/cluster?fields=version,name,uuid", nil).must(t, 200).body
	if str(c, "name") != "site2-ontap" || get(c, "version.generation") != 9.0 || get(c, "version.major") != 8.0 ||
		!strings.HasPrefix(str(c, "version.full"), "NetApp Release 9.8") {
		t.Fatalf("cluster %v", c)
	}
	svms := e.do(topology.Site2, "GET", "/api/svm/svms?name=svm2", nil).must(t, 200).records()
	if len(svms) != 1 {
		t.Fatalf("svms %v", svms)
	}
	e.do(topology.Site2, "GET", "/api/svm/svms/"+str(svms[0], "uuid"), nil).must(t, 200)
	pols := e.do(topology.Site2, "GET", "/api/snapmirror/policies?name=MirrorAllSnapshots&fields=type", nil).must(t, 200).records()
	if len(pols) != 1 || str(pols[0], "type") != "async" {
		t.Fatalf("policies %v", pols)
	}
	n := newEnv(t, Options{Version: "9.12.1"})
	c = n.do(topology.Site1, "GET", "/api/cluster?fields=version", nil).must(t, 200).body
	if get(c, "version.major") != 12.0 || get(c, "version.minor") != 1.0 {
		t.Fatalf("9.12.1 version %v", c)
	}
}

func TestUnknownObjectsAndPaths(t *testing.T) {
	e := newEnv(t, Options{})
	s := topology.Site2
	bogus := "00000000-0000-0000-0000-000000000000"
	for _, p := range []string{
		"/api/storage/volumes/" + bogus,
		"/api/cluster/jobs/" + bogus,
		"/api/snapmirror/relationships/" + bogus,
		"/api/storage/luns/" + bogus,
		"/api/protocols/san/igroups/" + bogus,
		"/api/storage/volumes/" + bogus + "/snapshots",
	} {
		r := e.do(s, "GET", p, nil)
		if r.status != 404 || r.errCode() == "" {
			t.Errorf("GET %s: %d %s", p, r.status, r.raw)
		}
	}
	r := e.do(s, "GET", "/api/storage/volumes/"+bogus, nil)
	if r.raw != `{"error":{"message":"entry doesn't exist","code":"4","target":"uuid"}}` {
		t.Fatalf("404 body %s", r.raw)
	}
	if r := e.do(s, "GET", "/api/nope", nil); r.status != 404 || r.errCode() != "4" {
		t.Fatalf("unknown API: %d %s", r.status, r.raw)
	}
	if r := e.do(s, "PUT", "/api/storage/volumes", nil); r.status != 405 || r.errCode() != "3" {
		t.Fatalf("unsupported method: %d %s", r.status, r.raw)
	}
	if r := e.do(s, "DELETE", "/api/protocols/san/igroups/"+bogus, nil); r.errCode() != "5374852" {
		t.Fatalf("igroup delete: %s", r.raw)
	}
	if r := e.do(s, "GET", "/api/storage/volumes?bogus_field=1", nil); r.status != 400 || r.errCode() != "262179" {
		t.Fatalf("unknown filter: %s", r.raw)
	}
	if r := e.do(s, "POST", "/api/storage/volumes", "{not json"); r.status != 400 || r.errCode() != "262199" {
		t.Fatalf("bad JSON: %s", r.raw)
	}
}

func TestFieldsFiltersPagination(t *testing.T) {
	e := newEnv(t, Options{})
	s1 := topology.Site1
	list := e.do(s1, "GET", "/api/storage/volumes", nil).must(t, 200)
	all := list.records()
	if len(all) != 8 || get(list.body, "num_records") != 8.0 {
		t.Fatalf("%d volumes: %s", len(all), list.raw)
	}
	for _, v := range all {
		if len(v) != 3 || v["uuid"] == nil || v["name"] == nil || v["_links"] == nil {
			t.Fatalf("default collection record %v", v)
		}
	}
	// "*" leaves the expensive nas.path out; naming it or "**" brings it.
	nfs := e.do(s1, "GET", "/api/storage/volumes?name=RG2FV3&fields=*", nil).must(t, 200).records()[0]
	if get(nfs, "nas.path") != nil || str(nfs, "type") != "rw" || get(nfs, "nas.export_policy.name") != "site1_esx_nfs" {
		t.Fatalf("fields=* record %v", nfs)
	}
	nfs = e.do(s1, "GET", "/api/storage/volumes?name=RG2FV3&fields=nas.path,!uuid", nil).must(t, 200).records()[0]
	if str(nfs, "nas.path") != "/RG2FV3" || nfs["uuid"] != nil || nfs["type"] != nil {
		t.Fatalf("fields=nas.path record %v", nfs)
	}
	nfs = e.do(s1, "GET", "/api/storage/volumes?name=RG2FV3&fields=**", nil).must(t, 200).records()[0]
	if str(nfs, "nas.path") != "/RG2FV3" || get(nfs, "clone.is_flexclone") != false {
		t.Fatalf("fields=** record %v", nfs)
	}
	// An instance GET returns the standard fields.
	inst := e.do(s1, "GET", "/api/storage/volumes/"+str(nfs, "uuid"), nil).must(t, 200).body
	if str(inst, "state") != "online" || get(inst, "nas.path") != nil {
		t.Fatalf("instance GET %v", inst)
	}
	if r := e.do(s1, "GET", "/api/storage/volumes?fields=nonsense", nil); r.status != 400 || r.errCode() != "262197" ||
		str(r.body, "error.target") != "fields" || !strings.Contains(str(r.body, "error.message"), `(<field,...>)`) {
		t.Fatalf("bad fields: %s", r.raw)
	}
	// LUN maps are expensive.
	lun := e.do(s1, "GET", "/api/storage/luns?name=/vol/RG1FV1/RP1.lun&fields=*", nil).must(t, 200).records()[0]
	if lun["lun_maps"] != nil || str(lun, "serial_number") == "" {
		t.Fatalf("lun fields=* %v", lun)
	}
	lun = e.do(s1, "GET", "/api/storage/luns?name=/vol/RG1FV1/RP1.lun&fields=lun_maps", nil).must(t, 200).records()[0]
	if maps, _ := lun["lun_maps"].([]any); len(maps) != 1 || str(maps[0].(map[string]any), "igroup.name") != topology.Site1Igroup {
		t.Fatalf("lun_maps %v", lun["lun_maps"])
	}

	count := func(q string) int {
		t.Helper()
		return len(e.do(s1, "GET", "/api/storage/volumes?"+q, nil).must(t, 200).records())
	}
	for q, want := range map[string]int{
		"name=RG1*":                       2,
		"name=RG1FV1|RG2FV1":              2,
		"name=!RG*":                       2,
		"name=" + url.QueryEscape("*FV1"): 5,
		"type=dp":                         0,
		"size=>1000":                      8,
		"size=<1000":                      0,
		"size=" + url.QueryEscape("1..300000000000"): 8,
		"nas.path=/RG2FV3":                           1,
		"nas.path=null":                              7,
		"nas.path=!null":                             1,
		"name=\"RG1*\"":                              0,
		"snapmirror.is_protected=true":               5,
	} {
		if got := count(q); got != want {
			t.Errorf("filter %s: %d records, want %d", q, got, want)
		}
	}
	// Lag filters compare durations.
	if n := len(e.do(topology.Site2, "GET", "/api/snapmirror/relationships?lag_time=%3EP1D", nil).must(t, 200).records()); n != 0 {
		t.Errorf("lag_time>P1D matched %d", n)
	}
	if n := len(e.do(topology.Site2, "GET", "/api/snapmirror/relationships?lag_time=%3CP1D", nil).must(t, 200).records()); n != 5 {
		t.Errorf("lag_time<P1D matched %d", n)
	}

	// order_by.
	desc := e.do(s1, "GET", "/api/storage/volumes?order_by=name%20desc", nil).must(t, 200).records()
	if str(desc[0], "name") != "RG9FV1" || str(desc[len(desc)-1], "name") != "LP1FV1" {
		t.Fatalf("order_by desc: %s .. %s", str(desc[0], "name"), str(desc[len(desc)-1], "name"))
	}
	// Pagination with next links and Link headers, followed verbatim.
	seen := map[string]bool{}
	next := "/api/storage/volumes?max_records=3&fields=name"
	pages := 0
	for next != "" {
		r := e.do(s1, "GET", next, nil).must(t, 200)
		pages++
		for _, v := range r.records() {
			if seen[str(v, "uuid")] {
				t.Fatalf("record %s repeated", str(v, "name"))
			}
			seen[str(v, "uuid")] = true
		}
		next = str(r.body, "_links.next.href")
		if next != "" && !strings.Contains(r.header.Get("Link"), `rel="next"`) {
			t.Fatalf("no Link header with next")
		}
		if next != "" && !strings.Contains(next, "start.uuid=") {
			t.Fatalf("next link %s", next)
		}
	}
	if len(seen) != 8 || pages != 3 {
		t.Fatalf("pagination saw %d records in %d pages", len(seen), pages)
	}
	// return_records=false counts only.
	if r := e.do(s1, "GET", "/api/storage/volumes?return_records=false", nil).must(t, 200); r.body["records"] != nil || get(r.body, "num_records") != 8.0 {
		t.Fatalf("return_records=false: %s", r.raw)
	}
	// return_timeout range.
	r := e.do(s1, "GET", "/api/storage/volumes?return_timeout=121", nil)
	if r.status != 400 || str(r.body, "error.message") != `The value "121" is invalid for field "return_timeout" (<0..120>)` || r.errCode() != "262197" {
		t.Fatalf("return_timeout: %s", r.raw)
	}
	// Accept: application/json drops HAL links.
	req, _ := http.NewRequest("GET", e.srv[s1].URL+"/api/storage/volumes?max_records=2", nil)
	req.SetBasicAuth("admin", "netapp1!")
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("content type %s", res.Header.Get("Content-Type"))
	}
}

func TestJobsLifecycleAndExpiry(t *testing.T) {
	e := newEnv(t, Options{JobQueueTime: time.Minute, JobRunTime: time.Minute})
	s := topology.Site1
	vol := e.volumeUUID(s, "LP1FV1")
	r := e.do(s, "PATCH", "/api/storage/volumes/"+vol, map[string]any{"comment": "hello"}).must(t, 202)
	id := str(r.body, "job.uuid")
	if str(r.body, "job._links.self.href") != "/api/cluster/jobs/"+id {
		t.Fatalf("job link %s", r.raw)
	}
	job := e.do(s, "GET", "/api/cluster/jobs/"+id, nil).must(t, 200).body
	if str(job, "state") != "queued" || str(job, "description") != "PATCH /api/storage/volumes/"+vol {
		t.Fatalf("queued job %v", job)
	}
	e.clk.Advance(time.Minute)
	e.eventually("running", func() bool { return str(e.do(s, "GET", "/api/cluster/jobs/"+id, nil).body, "state") == "running" })
	if r := e.do(s, "PATCH", "/api/cluster/jobs/"+id+"?action=cancel", nil); r.errCode() != "458784" {
		t.Fatalf("cancel: %s", r.raw)
	}
	e.clk.Advance(time.Minute)
	e.eventually("success", func() bool { return str(e.do(s, "GET", "/api/cluster/jobs/"+id, nil).body, "state") == "success" })
	job = e.do(s, "GET", "/api/cluster/jobs/"+id+"?fields=**", nil).must(t, 200).body
	if str(job, "message") != "success" || job["code"] != 0.0 || str(job, "end_time") == "" {
		t.Fatalf("finished job %v", job)
	}
	if r := e.do(s, "PATCH", "/api/cluster/jobs/"+id+"?action=pause", nil); r.errCode() != "458762" {
		t.Fatalf("pause finished job: %s", r.raw)
	}
	if c := str(e.do(s, "GET", "/api/storage/volumes/"+vol+"?fields=comment", nil).body, "comment"); c != "hello" {
		t.Fatalf("comment %q", c)
	}
	e.clk.Advance(299 * time.Second)
	e.do(s, "GET", "/api/cluster/jobs/"+id, nil).must(t, 200)
	e.clk.Advance(2 * time.Second)
	e.eventually("job expiry", func() bool {
		r := e.do(s, "GET", "/api/cluster/jobs/"+id, nil)
		return r.status == 404 && r.raw == `{"error":{"message":"entry doesn't exist","code":"4","target":"uuid"}}`
	})

	// return_timeout waits on the lab clock: the job finishes within it → 200.
	f := newEnv(t, Options{})
	r = f.do(s, "PATCH", "/api/storage/volumes/"+f.volumeUUID(s, "LP1FV1")+"?return_timeout=10", map[string]any{"comment": "x"})
	if r.status != 200 || str(r.body, "job.uuid") == "" {
		t.Fatalf("return_timeout PATCH: %d %s", r.status, r.raw)
	}
}

func TestVolumeLifecycle(t *testing.T) {
	e := newEnv(t, Options{})
	s := topology.Site2
	r := e.do(s, "POST", "/api/storage/volumes?return_records=true", map[string]any{
		"name": "scratch", "svm": map[string]any{"name": "svm2"}, "aggregates": []any{map[string]any{"name": "aggr1"}},
		"size": "1GB", "type": "dp",
	}).must(t, 202)
	e.waitJob(s, r)
	id := str(r.records()[0], "uuid")
	v := e.do(s, "GET", "/api/storage/volumes/"+id+"?fields=size,type", nil).must(t, 200).body
	if v["size"] != float64(1<<30) || str(v, "type") != "dp" {
		t.Fatalf("new volume %v", v)
	}
	// Mounting an uninitialized DP volume fails; snapshots only on RW volumes.
	e.jobFails(s, "PATCH", "/api/storage/volumes/"+id, map[string]any{"nas": map[string]any{"path": "/scratch"}}, CodeVolDPNotInitialized)
	if r := e.do(s, "POST", "/api/storage/volumes/"+id+"/snapshots", map[string]any{"name": "s1"}); r.errCode() != "1638461" {
		t.Fatalf("snapshot on DP: %s", r.raw)
	}
	if r := e.do(s, "POST", "/api/storage/volumes", map[string]any{"name": "scratch", "svm": map[string]any{"name": "svm2"}, "aggregates": []any{map[string]any{"name": "a"}}}); r.status != 409 {
		t.Fatalf("duplicate volume: %s", r.raw)
	}
	if r := e.do(s, "POST", "/api/storage/volumes", map[string]any{"name": "x2"}); r.errCode() != "2621707" {
		t.Fatalf("no SVM: %s", r.raw)
	}
	// RW volume: snapshot create/delete, offline/online, delete.
	lp := e.volumeUUID(s, "LP1FV1")
	e.jobOK(s, "POST", "/api/storage/volumes/"+lp+"/snapshots", map[string]any{"name": "before_test", "comment": "c"})
	snaps := e.do(s, "GET", "/api/storage/volumes/"+lp+"/snapshots?name=before_test&fields=comment,create_time", nil).must(t, 200).records()
	if len(snaps) != 1 || str(snaps[0], "comment") != "c" {
		t.Fatalf("snapshot %v", snaps)
	}
	if r := e.do(s, "POST", "/api/storage/volumes/"+lp+"/snapshots", map[string]any{"name": "before_test"}); r.errCode() != "525059" {
		t.Fatalf("duplicate snapshot: %s", r.raw)
	}
	e.jobOK(s, "DELETE", "/api/storage/volumes/"+lp+"/snapshots/"+str(snaps[0], "uuid"), nil)
	e.jobOK(s, "PATCH", "/api/storage/volumes/"+lp, map[string]any{"state": "offline"})
	if d := e.mustDevice(s, "LP1FV1"); d.Online {
		t.Fatalf("LUN online on an offline volume")
	}
	e.jobOK(s, "PATCH", "/api/storage/volumes/"+lp, map[string]any{"state": "online"})
	// LUN enable/disable.
	lun := e.do(s, "GET", "/api/storage/luns?location.volume.name=LP1FV1", nil).must(t, 200).records()[0]
	e.do(s, "PATCH", "/api/storage/luns/"+str(lun, "uuid"), map[string]any{"enabled": false}).must(t, 200)
	if d := e.mustDevice(s, "LP1FV1"); d.Online {
		t.Fatalf("disabled LUN online")
	}
	e.do(s, "PATCH", "/api/storage/luns/"+str(lun, "uuid"), map[string]any{"enabled": true}).must(t, 200)
	if r := e.do(s, "DELETE", "/api/storage/luns/"+str(lun, "uuid"), nil); r.errCode() != "1254197" {
		t.Fatalf("delete mapped LUN: %s", r.raw)
	}
	// Query-based DELETE.
	r = e.do(s, "DELETE", "/api/storage/volumes?name=scratch", nil).must(t, 202)
	jobs, _ := r.body["jobs"].([]any)
	if len(jobs) != 1 {
		t.Fatalf("query delete %s", r.raw)
	}
	e.eventually("volume gone", func() bool { return e.do(s, "GET", "/api/storage/volumes/"+id, nil).status == 404 })
}

func TestSANAndNFSObjects(t *testing.T) {
	e := newEnv(t, Options{})
	s := topology.Site2
	// igroups.
	r := e.do(s, "POST", "/api/protocols/san/igroups?return_records=true", map[string]any{
		"svm": map[string]any{"name": "svm2"}, "name": "test_ig", "os_type": "vmware", "protocol": "iscsi",
		"initiators": []any{map[string]any{"name": "iqn.1998-01.com.vmware:esx9"}},
	}).must(t, 201)
	ig := str(r.records()[0], "uuid")
	if r.header.Get("Location") != "/api/protocols/san/igroups/"+ig {
		t.Fatalf("igroup Location %v", r.header)
	}
	for _, c := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"svm": map[string]any{"name": "svm2"}, "name": "test_ig", "os_type": "vmware"}, "5374023"},
		{map[string]any{"svm": map[string]any{"name": "svm2"}, "name": "x", "os_type": "vmware", "initiators": []any{map[string]any{"name": "zz:zz"}}}, "5374038"},
		{map[string]any{"svm": map[string]any{"name": "svm2"}, "name": "x", "os_type": "vmware", "initiators": []any{map[string]any{"name": "iqn.bad"}}}, "5374039"},
		{map[string]any{"svm": map[string]any{"name": "svm2"}, "name": "x"}, "262177"},
	} {
		if r := e.do(s, "POST", "/api/protocols/san/igroups", c.body); r.errCode() != c.code {
			t.Errorf("igroup POST %v: %s, want %s", c.body, r.raw, c.code)
		}
	}
	e.do(s, "POST", "/api/protocols/san/igroups/"+ig+"/initiators", map[string]any{"records": []any{map[string]any{"name": "iqn.1998-01.com.vmware:esx10"}}}).must(t, 201)
	if r := e.do(s, "POST", "/api/protocols/san/igroups/"+ig+"/initiators", map[string]any{"name": "iqn.1998-01.com.vmware:esx10"}); r.errCode() != "5374035" {
		t.Fatalf("duplicate initiator: %s", r.raw)
	}
	inits := e.do(s, "GET", "/api/protocols/san/igroups/"+ig+"/initiators", nil).must(t, 200).records()
	if len(inits) != 2 {
		t.Fatalf("initiators %v", inits)
	}
	// Map the DEV LUN to it twice: the second is refused.
	lun := e.do(s, "GET", "/api/storage/luns?location.volume.name=DEVFV1", nil).must(t, 200).records()[0]
	m := map[string]any{"svm": map[string]any{"name": "svm2"}, "igroup": map[string]any{"uuid": ig}, "lun": map[string]any{"uuid": str(lun, "uuid")}}
	e.do(s, "POST", "/api/protocols/san/lun-maps", m).must(t, 201)
	if r := e.do(s, "POST", "/api/protocols/san/lun-maps", m); r.errCode() != "1254207" {
		t.Fatalf("double map: %s", r.raw)
	}
	if d := e.mustDevice(s, "DEVFV1"); len(d.Initiators) != 6 {
		t.Fatalf("initiators after map %v", d.Initiators)
	}
	if r := e.do(s, "DELETE", "/api/protocols/san/igroups/"+ig, nil); r.errCode() != "1254213" {
		t.Fatalf("delete mapped igroup: %s", r.raw)
	}
	e.do(s, "DELETE", "/api/protocols/san/lun-maps/"+str(lun, "uuid")+"/"+ig, nil).must(t, 200)
	if r := e.do(s, "DELETE", "/api/protocols/san/lun-maps/"+str(lun, "uuid")+"/"+ig, nil); r.errCode() != "5374922" {
		t.Fatalf("delete missing map: %s", r.raw)
	}
	e.do(s, "DELETE", "/api/protocols/san/igroups/"+ig, nil).must(t, 200)

	// Export policies and rules.
	r = e.do(s, "POST", "/api/protocols/nfs/export-policies?return_records=true", map[string]any{
		"svm": map[string]any{"name": "svm2"}, "name": "dr_test",
		"rules": []any{map[string]any{"clients": []any{map[string]any{"match": "192.168.254.0/24"}}, "ro_rule": []any{"sys"}, "rw_rule": []any{"sys"}}},
	}).must(t, 201)
	pid := int64(get(r.records()[0], "id").(float64))
	pidStr := strings.TrimSuffix(strings.TrimPrefix(r.header.Get("Location"), "/api/protocols/nfs/export-policies/"), "/")
	e.do(s, "POST", "/api/protocols/nfs/export-policies/"+pidStr+"/rules", map[string]any{
		"clients": []any{map[string]any{"match": "10.0.0.1"}}, "ro_rule": []any{"sys"}, "rw_rule": []any{"never"},
	}).must(t, 201)
	if r := e.do(s, "POST", "/api/protocols/nfs/export-policies/"+pidStr+"/rules", map[string]any{
		"clients": []any{map[string]any{"match": "bad match!"}}, "ro_rule": []any{"sys"}, "rw_rule": []any{"sys"},
	}); r.errCode() != "1704039" {
		t.Fatalf("bad clientmatch: %s", r.raw)
	}
	rules := e.do(s, "GET", "/api/protocols/nfs/export-policies/"+pidStr+"/rules", nil).must(t, 200).records()
	if len(rules) != 2 || get(rules[1], "index") != 2.0 {
		t.Fatalf("rules %v", rules)
	}
	def := e.do(s, "GET", "/api/protocols/nfs/export-policies?name=default", nil).must(t, 200).records()[0]
	if r := e.do(s, "DELETE", "/api/protocols/nfs/export-policies/"+strings.TrimSuffix(strings.TrimPrefix(str(def, "_links.self.href"), "/api/protocols/nfs/export-policies/"), "/"), nil); r.errCode() != "1703947" {
		t.Fatalf("delete default: %s", r.raw)
	}
	pol := e.do(s, "GET", "/api/protocols/nfs/export-policies?name=site2_esx_nfs", nil).must(t, 200).records()[0]
	if r := e.do(s, "DELETE", str(pol, "_links.self.href"), nil); r.errCode() != "1703945" {
		t.Fatalf("delete policy in use: %s", r.raw)
	}
	_ = pid
	e.do(s, "DELETE", "/api/protocols/nfs/export-policies/"+pidStr, nil).must(t, 200)
}

func TestSVMTunneling(t *testing.T) {
	e := newEnv(t, Options{})
	post := func(header string) int {
		req, _ := http.NewRequest("POST", e.srv[topology.Site2].URL+"/api/protocols/san/igroups",
			strings.NewReader(`{"name":"tunneled","os_type":"vmware","protocol":"fcp"}`))
		req.SetBasicAuth("admin", "netapp1!")
		req.Header.Set("X-Dot-SVM-Name", header)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := post("nosuchsvm"); s != 404 {
		t.Fatalf("unknown tunneled SVM: %d", s)
	}
	if s := post("svm2"); s != 201 {
		t.Fatalf("tunneled create: %d", s)
	}
}

// The NetApp SDK's resource.delete() sends {} as the body of every DELETE; ONTAP accepts it. A
// body with members is still refused.
func TestDeleteAcceptsAnEmptyJSONObjectAsBody(t *testing.T) {
	e := newEnv(t, Options{})
	s := topology.Site2
	lun := e.do(s, "GET", "/api/storage/luns?location.volume.name=LP1FV1&fields=lun_maps", nil).must(t, 200).records()[0]
	ig := e.do(s, "GET", "/api/protocols/san/igroups?name=site2_dev", nil).must(t, 200).records()[0]
	mapPath := "/api/protocols/san/lun-maps/" + str(lun, "uuid") + "/" + str(ig, "uuid")
	if r := e.do(s, "DELETE", mapPath, map[string]any{"force": true}); r.errCode() != "262198" {
		t.Fatalf("DELETE with a body that has members: %s", r.raw)
	}
	e.do(s, "DELETE", mapPath, " { } ").must(t, 200)
	e.do(s, "GET", mapPath, nil).must(t, 404)
	id := e.volumeUUID(s, "DEVFV2")
	e.jobOK(s, "DELETE", "/api/storage/volumes/"+id, map[string]any{})
	e.do(s, "GET", "/api/storage/volumes/"+id, nil).must(t, 404)
}
