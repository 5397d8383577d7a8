package ontap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vmdr.local/lab/internal/clock"
	"vmdr.local/lab/internal/fabric"
	"vmdr.local/lab/internal/topology"
)

// env is a seeded two-site lab with both clusters served over httptest.
type env struct {
	t     testing.TB
	lab   *Lab
	clk   *clock.Clock
	world topology.World
	srv   map[string]*httptest.Server
	opts  Options
}

func newEnv(t testing.TB, opts Options) *env {
	return newEnvWorld(t, opts, topology.VMbook(topology.DefaultOptions()), true)
}

func newEnvWorld(t testing.TB, opts Options, w topology.World, seed bool) *env {
	t.Helper()
	clk := clock.New()
	lab, err := New(w, t.TempDir(), clk, opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, lab: lab, clk: clk, world: w, srv: map[string]*httptest.Server{}, opts: lab.Options()}
	for _, s := range w.Sites {
		srv := httptest.NewServer(lab.Cluster(s.ID).Handler())
		e.srv[s.ID] = srv
		t.Cleanup(srv.Close)
	}
	t.Cleanup(lab.Close)
	if seed {
		e.writeVMs(topology.Site1)
		if err := lab.Seed(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// writeVMs plays the vCenter side: it writes every VM of the site into the directory of the
// datastore it lives on.
func (e *env) writeVMs(site string) {
	e.t.Helper()
	s, _ := e.world.Site(site)
	dirs := map[string]string{}
	vols := map[string]string{}
	for _, v := range s.Array.Volumes {
		vols[v.Name] = v.Datastore
	}
	for _, d := range e.lab.Devices(site) {
		if ds, ok := vols[d.Volume]; ok && d.Writable {
			dirs[ds] = d.Dir
		}
	}
	// NFS volumes of the site that are mounted appear as devices; unmounted ones are skipped.
	for _, vm := range s.VMs {
		dir, ok := dirs[vm.Datastore]
		if !ok {
			continue
		}
		writeFile(e.t, filepath.Join(dir, vm.Name, vm.Name+".vmx"), fmt.Sprintf("displayName = %q\nuuid.bios = %q\n", vm.Name, vm.BIOSUUID))
		writeFile(e.t, filepath.Join(dir, vm.Name, vm.Name+".vmdk"), "# Disk DescriptorFile\n")
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// resp is a decoded response.
type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *env) do(site, method, path string, body any) resp {
	e.t.Helper()
	return e.doAs(site, method, path, body, e.opts.User, e.opts.Password)
}

func (e *env) doAs(site, method, path string, body any, user, pass string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.srv[site].URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.srv[site].Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(raw) > 0 && strings.Contains(res.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
	}
	return r
}

// must checks the status.
func (r resp) must(t testing.TB, status int) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// errCode returns the ONTAP error code of an error response.
func (r resp) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r resp) records() []map[string]any {
	list, _ := r.body["records"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, x := range list {
		out = append(out, x.(map[string]any))
	}
	return out
}

// get walks a dotted path in a decoded JSON object.
func get(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func str(m map[string]any, path string) string {
	s, _ := get(m, path).(string)
	return s
}

// waitJob polls the job of an async response until it ends and returns it.
func (e *env) waitJob(site string, r resp) map[string]any {
	e.t.Helper()
	if r.status != http.StatusAccepted && r.status != http.StatusOK && r.status != http.StatusCreated {
		e.t.Fatalf("not an async response: %d %s", r.status, r.raw)
	}
	id := str(r.body, "job.uuid")
	if id == "" {
		e.t.Fatalf("no job in %s", r.raw)
	}
	var job map[string]any
	e.eventually("job "+id+" ends", func() bool {
		job = e.do(site, "GET", "/api/cluster/jobs/"+id, nil).must(e.t, 200).body
		s := str(job, "state")
		return s == "success" || s == "failure"
	})
	return job
}

// jobOK runs an async call and requires its job to succeed.
func (e *env) jobOK(site, method, path string, body any) map[string]any {
	e.t.Helper()
	job := e.waitJob(site, e.do(site, method, path, body))
	if str(job, "state") != "success" {
		e.t.Fatalf("%s %s: job failed: %v", method, path, job)
	}
	return job
}

// jobFails runs an async call and requires its job to fail with code.
func (e *env) jobFails(site, method, path string, body any, code int) map[string]any {
	e.t.Helper()
	job := e.waitJob(site, e.do(site, method, path, body))
	if str(job, "state") != "failure" || int(job["code"].(float64)) != code {
		e.t.Fatalf("%s %s: job %v, want failure %d", method, path, job, code)
	}
	return job
}

// eventually polls cond (real time, short sleeps) for up to 10 s.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// rel returns the relationship whose destination is dstPath, as the destination cluster shows
// it.
func (e *env) rel(site, dstPath string) map[string]any {
	e.t.Helper()
	r := e.do(site, "GET", "/api/snapmirror/relationships?fields=**&destination.path="+dstPath, nil).must(e.t, 200)
	recs := r.records()
	if len(recs) != 1 {
		e.t.Fatalf("relationship %s: %d records", dstPath, len(recs))
	}
	return recs[0]
}

// settle advances the lab clock in small steps until the relationship has no active transfer.
func (e *env) settle(site, dstPath string) map[string]any {
	e.t.Helper()
	var rec map[string]any
	e.eventually("transfer to "+dstPath+" ends", func() bool {
		rec = e.rel(site, dstPath)
		if s := str(rec, "transfer.state"); s == "transferring" || s == "queued" {
			e.clk.Advance(5 * time.Second)
			return false
		}
		return true
	})
	return rec
}

func (e *env) volumeUUID(site, name string) string {
	e.t.Helper()
	recs := e.do(site, "GET", "/api/storage/volumes?name="+name, nil).must(e.t, 200).records()
	if len(recs) != 1 {
		e.t.Fatalf("volume %s: %d records", name, len(recs))
	}
	return str(recs[0], "uuid")
}

// device returns the fabric device of a volume at a site.
func (e *env) device(site, volume string) (fabric.Device, bool) {
	for _, d := range e.lab.Devices(site) {
		if d.Volume == volume {
			return d, true
		}
	}
	return fabric.Device{}, false
}

func (e *env) mustDevice(site, volume string) fabric.Device {
	e.t.Helper()
	d, ok := e.device(site, volume)
	if !ok {
		e.t.Fatalf("no device for %s at %s", volume, site)
	}
	return d
}
