package ontap

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"vmdr.local/lab/internal/topology"
)

// The handler never panics and answers every bad request with an ONTAP error.

var fuzzBodies = []string{
	"", " ", "{", "}", "[]", "null", "1", `"s"`, `{"a":}`, `{"name":1}`, `{"name":null}`, `{"name":""}`,
	`{"svm":"x"}`, `{"svm":{"name":[]}}`, `{"svm":{"name":"svm2","uuid":"nope"}}`, `{"state":{}}`, `{"state":"snapmirrored"}`,
	`{"state":"broken_off","restore_to_snapshot":7}`, `{"clone":{"parent_volume":5}}`, `{"clone":{"parent_volume":{"name":"RG1FV1_SM"},"parent_snapshot":{"uuid":1}}}`,
	`{"size":-1}`, `{"size":1e400}`, `{"size":"12QB"}`, `{"size":1.5}`, `{"records":[1,2]}`, `{"records":[{"name":5}]}`,
	`{"initiators":"x"}`, `{"initiators":[{"name":"20:00:00:25:b5:02:00:01"}],"name":"g","os_type":"vmware","svm":{"name":"svm2"}}`,
	`{"rules":[{"clients":"x"}]}`, `{"rules":[{"clients":[{"match":5}],"ro_rule":"sys","rw_rule":[1]}]}`, `{"nas":{"path":7}}`,
	`{"nas":{"path":"relative"}}`, `{"nas":{"export_policy":{"id":"x"}}}`, `{"source":{"path":":"},"destination":{"path":":"}}`,
	`{"source":{"path":"svm1:RG1FV1"},"destination":{"path":"svm2:RG1FV1_SM"},"create_destination":{"enabled":"maybe"}}`,
	`{"lun":{"name":{}},"igroup":{"uuid":[]}}`, `{"logical_unit_number":-5,"lun":{"name":"x"},"igroup":{"name":"y"},"svm":{"name":"svm2"}}`,
	`{"enabled":"sometimes"}`, `{"space":{"size":"huge"}}`, `{"os_type":"beos"}`, `{"transfer_schedule":null}`, `{"throttle":"fast"}`,
	`{"source_snapshot":[]}`, `{"files":[]}`, `{"name":"` + strings.Repeat("x", 5000) + `"}`,
	strings.Repeat("[", 2000) + strings.Repeat("]", 2000), "\xff\xfe\xfd", `{"a":1}{"b":2}`, `{"clients":[{"match":"0.0.0.0/0"}],"ro_rule":["sys"],"rw_rule":["sys"]}`,
	`{"comment":"` + "\u0000" + `"}`, `{"state":"aborted"}`, `{"state":"hard_aborted"}`, `{"clone":{"split_initiated":false}}`,
}

var fuzzQueries = []string{
	"", "fields=", "fields=**,!", "fields=*,nope", "fields=!", "max_records=-1", "max_records=abc", "max_records=0", "order_by=",
	"order_by=name%20sideways", "order_by=nope", "return_timeout=abc", "return_timeout=-1", "return_timeout=3", "name=%25",
	"name=a%7Cb%7C", "start.uuid=x", "list_destinations_only=maybe", "allow_delete_while_mapped=2", "return_records=yes",
	"fields=name&fields=uuid", "name=*&name=!*", "size=..", "size=%3C", "lag_time=%3EPXT", "destination_only=true&source_only=true",
	"action=explode", "action=cancel", "uuid=%7B%7D", "%zz=1", "name=%22unterminated", "pretty=maybe", "state=!null|null",
}

// fuzzPaths expands the route table with real and bogus path arguments.
func fuzzPaths(e *env) []string {
	tr := e.lab.Truth()
	c2 := tr.Clusters[1]
	args := []string{"bogus", "00000000-0000-0000-0000-000000000000", "..", "%00", strings.Repeat("a", 300)}
	for _, v := range c2.Volumes[:3] {
		args = append(args, v.UUID)
		for _, s := range v.Snapshots {
			args = append(args, s.UUID)
		}
	}
	for _, r := range c2.Relationships[:1] {
		args = append(args, r.UUID)
	}
	for _, l := range c2.LUNs[:1] {
		args = append(args, l.UUID)
	}
	for _, p := range c2.ExportPolicies[:1] {
		args = append(args, fmt.Sprint(p.ID))
	}
	var out []string
	for _, rt := range e.lab.Cluster(topology.Site2).routes() {
		n := 0
		for _, seg := range rt.pattern {
			if seg == "{}" {
				n++
			}
		}
		for i := range args {
			segs := make([]string, len(rt.pattern))
			k := 0
			for j, seg := range rt.pattern {
				if seg == "{}" {
					segs[j] = args[(i+k)%len(args)]
					k++
				} else {
					segs[j] = seg
				}
			}
			out = append(out, "/api/"+strings.Join(segs, "/"))
			if n == 0 {
				break
			}
		}
	}
	return append(out, "/", "/api", "/api/", "/api/storage", "/api//volumes", "/apix/cluster", "/api/storage/volumes/x/y/z/w")
}

// checkONTAPAnswer requires a non-5xx answer, and an ONTAP error body on 4xx.
func checkONTAPAnswer(t *testing.T, method, what string, res *http.Response, body []byte) {
	t.Helper()
	if res.StatusCode >= 500 {
		t.Fatalf("%s: status %d: %s", what, res.StatusCode, body)
	}
	if res.StatusCode < 400 || res.StatusCode == http.StatusUnauthorized || method == http.MethodHead {
		return
	}
	var eb struct {
		Error struct {
			Message string `json:"message"`
			Code    string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("%s: status %d without an ONTAP error body: %q", what, res.StatusCode, body)
	}
}

func send(t *testing.T, srv *httptest.Server, method, path, query, body string) {
	t.Helper()
	u := srv.URL + path
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		return // not expressible as an HTTP request
	}
	req.SetBasicAuth("admin", "netapp1!")
	req.Header.Set("Content-Type", "application/json")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s?%s: %v", method, path, query, err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	checkONTAPAnswer(t, method, method+" "+path+"?"+query+" "+trunc(body), res, b)
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func TestMalformedRequestsNeverPanic(t *testing.T) {
	e := newEnv(t, Options{})
	srv := e.srv[topology.Site2]
	paths := fuzzPaths(e)
	methods := []string{"GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS"}
	n := 0
	for _, p := range paths {
		for _, m := range methods {
			send(t, srv, m, p, "", "")
			n++
		}
		for _, b := range fuzzBodies {
			for _, m := range []string{"POST", "PATCH"} {
				send(t, srv, m, p, "", b)
				n++
			}
		}
		for _, q := range fuzzQueries {
			send(t, srv, "GET", p, q, "")
			n++
		}
	}
	if n < 1000 {
		t.Fatalf("only %d requests", n)
	}
	// Still serving, and no job hit an internal error.
	e.do(topology.Site2, "GET", "/api/cluster", nil).must(t, 200)
	for _, c := range e.lab.Truth().Clusters {
		for _, j := range c.Jobs {
			if j.Code == CodeInternal {
				t.Fatalf("job %s failed internally: %s", j.Description, j.Message)
			}
		}
	}
	t.Logf("%d requests", n)
}

// FuzzHandler feeds arbitrary methods, paths, queries and bodies to a cluster's handler.
func FuzzHandler(f *testing.F) {
	for i, b := range fuzzBodies {
		q := fuzzQueries[i%len(fuzzQueries)]
		f.Add("POST", "/api/storage/volumes", q, b)
		f.Add("PATCH", "/api/snapmirror/relationships/x", q, b)
	}
	f.Add("GET", "/api/storage/luns", "fields=**&order_by=serial_number%20desc&max_records=1", "")
	e := newEnv(f, Options{})
	h := e.lab.Cluster(topology.Site2).Handler()
	f.Fuzz(func(t *testing.T, method, path, query, body string) {
		req := httptest.NewRequest("GET", "/", strings.NewReader(body))
		req.Method = method
		req.URL.Path = path
		req.URL.RawQuery = query
		req.SetBasicAuth("admin", "netapp1!")
		rec := httptest.NewRecorder()
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("%s %s?%s took %s", method, path, query, d)
			}
		}()
		func() {
			defer func() {
				if v := recover(); v != nil && v != http.ErrAbortHandler {
					t.Fatalf("panic: %v", v)
				}
			}()
			h.ServeHTTP(rec, req)
		}()
		res := rec.Result()
		b, _ := io.ReadAll(res.Body)
		checkONTAPAnswer(t, method, method+" "+path, res, b)
	})
}
