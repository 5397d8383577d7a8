package main

// Helpers of the end-to-end tests: a lab started in-process by start() and driven only through
// what it serves (ONTAP REST and the control API with net/http, vCenter with govmomi), verifying
// TLS against the lab's ca.pem as a client in production would.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/topology"
)

// wait bounds every poll of the tests: long enough for a loaded CI machine, short enough that a
// broken lab fails fast instead of hanging the run.
const wait = 15 * time.Second

// labEnv is a running lab and clients for its endpoints.
type labEnv struct {
	t     testing.TB
	ctx   context.Context
	r     *running
	desc  description
	https *http.Client // trusts ca.pem only
	plain *http.Client // the control API
}

// startLab starts the whole program in-process with the given command-line flags (plus its own
// state directory) and stops it when the test ends.
func startLab(t testing.TB, flags ...string) *labEnv {
	t.Helper()
	return startLabLogging(t, t.Output(), flags...)
}

// startLabLogging is startLab with the program's log written to logOut.
func startLabLogging(t testing.TB, logOut io.Writer, flags ...string) *labEnv {
	t.Helper()
	c := parseFlags(append([]string{"--state-dir", t.TempDir()}, flags...))
	c.logOut = logOut
	r, err := start(c)
	if err != nil {
		t.Fatalf("start the lab: %v", err)
	}
	t.Cleanup(r.stop)
	limit := 2 * time.Minute // a safety net for hung calls; the polls have their own bounds
	if _, ok := t.(*testing.B); ok {
		limit = 30 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return &labEnv{
		t: t, ctx: ctx, r: r, desc: r.desc,
		https: httpsClient(t, r.desc.CAFile),
		plain: &http.Client{Timeout: wait},
	}
}

// httpsClient is an HTTP client that trusts only the CA in caFile.
func httpsClient(t testing.TB, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: wait}
}

// reply is a decoded JSON answer.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *labEnv) send(c *http.Client, method, u string, body any, user, pass string) (reply, error) {
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
	req, err := http.NewRequestWithContext(e.ctx, method, u, rd)
	if err != nil {
		return reply{}, err
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, err
	}
	r := reply{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if strings.Contains(res.Header.Get("Content-Type"), "json") && len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			return r, fmt.Errorf("%s %s: bad JSON %q: %w", method, u, raw, err)
		}
	}
	return r, nil
}

// ontap calls a site's ONTAP REST API with the credentials of lab.json.
func (e *labEnv) ontap(site, method, path string, body any) reply {
	e.t.Helper()
	ep := e.desc.Sites[site].ONTAP
	r, err := e.send(e.https, method, ep.URL+path, body, ep.Username, ep.Password)
	if err != nil {
		e.t.Fatalf("ONTAP %s %s %s: %v", site, method, path, err)
	}
	return r
}

// control calls the control API.
func (e *labEnv) control(method, path string, body any) reply {
	e.t.Helper()
	r, err := e.send(e.plain, method, e.desc.Control+path, body, "", "")
	if err != nil {
		e.t.Fatalf("control %s %s: %v", method, path, err)
	}
	return r
}

// must checks the status of a reply.
func (r reply) must(t testing.TB, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

func (r reply) records() []map[string]any {
	list, _ := r.body["records"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, x := range list {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// errCode is the ONTAP error code of an error reply.
func (r reply) errCode() string { return str(r.body, "error.code") }

// str walks a dotted path through decoded JSON and returns the string there.
func str(m map[string]any, path string) string {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	s, _ := cur.(string)
	return s
}

// advance moves the lab clock through the control API.
func (e *labEnv) advance(d time.Duration) {
	e.t.Helper()
	e.control("POST", "/clock/advance", map[string]string{"by": d.String()}).must(e.t, http.StatusOK)
}

// eventually polls cond every few milliseconds until it holds, for at most wait.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", wait, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// job waits for the job of an asynchronous ONTAP answer (202, or 200/201 with a job link) and
// returns it.
func (e *labEnv) job(site string, r reply) map[string]any {
	e.t.Helper()
	if r.status != http.StatusAccepted && r.status != http.StatusOK && r.status != http.StatusCreated {
		e.t.Fatalf("not an asynchronous answer: %d %s", r.status, r.raw)
	}
	id := str(r.body, "job.uuid")
	if id == "" {
		e.t.Fatalf("no job in %s", r.raw)
	}
	var job map[string]any
	eventually(e.t, "ONTAP job "+id, func() bool {
		job = e.ontap(site, "GET", "/api/cluster/jobs/"+id, nil).must(e.t, http.StatusOK).body
		s := str(job, "state")
		return s == "success" || s == "failure"
	})
	return job
}

// jobOK runs an asynchronous ONTAP call and requires its job to succeed.
func (e *labEnv) jobOK(site, method, path string, body any) {
	e.t.Helper()
	if job := e.job(site, e.ontap(site, method, path, body)); str(job, "state") != "success" {
		e.t.Fatalf("%s %s at %s: job %v", method, path, site, job)
	}
}

// relationship returns the SnapMirror relationship with destination dstPath ("svm2:RG1FV1_SM")
// as the destination cluster's API shows it.
func (e *labEnv) relationship(site, dstPath string) map[string]any {
	e.t.Helper()
	recs := e.ontap(site, "GET", "/api/snapmirror/relationships?fields=**&destination.path="+url.QueryEscape(dstPath), nil).
		must(e.t, http.StatusOK).records()
	if len(recs) != 1 {
		e.t.Fatalf("relationship to %s at %s: %d records", dstPath, site, len(recs))
	}
	return recs[0]
}

// settle advances the lab clock in steps until the relationship has no transfer running and
// returns it.
func (e *labEnv) settle(site, dstPath string) map[string]any {
	e.t.Helper()
	var rec map[string]any
	eventually(e.t, "the transfer to "+dstPath+" to end", func() bool {
		rec = e.relationship(site, dstPath)
		if s := str(rec, "transfer.state"); s == "transferring" || s == "queued" {
			e.advance(5 * time.Second)
			return false
		}
		return true
	})
	return rec
}

// awaitTransfer waits, advancing the lab clock while a transfer runs, until the relationship
// exports a snapshot other than before: a transfer started by something other than the test (a
// schedule firing on the lab clock's goroutine) has landed. It returns the relationship.
func (e *labEnv) awaitTransfer(site, dstPath, before string) map[string]any {
	e.t.Helper()
	var rec map[string]any
	eventually(e.t, "a transfer to "+dstPath+" to land", func() bool {
		rec = e.relationship(site, dstPath)
		if s := str(rec, "transfer.state"); s == "transferring" || s == "queued" {
			e.advance(5 * time.Second)
			return false
		}
		return str(rec, "exported_snapshot") != before
	})
	return rec
}

// update starts a SnapMirror update over REST and waits for it; it returns the relationship.
// A transfer the schedule started meanwhile (the lab clock fires schedules on its own goroutine)
// is waited for, as an operator retries "Another transfer is in progress".
func (e *labEnv) update(site, dstPath string) map[string]any {
	e.t.Helper()
	eventually(e.t, "an update of "+dstPath+" to start", func() bool {
		id := str(e.settle(site, dstPath), "uuid")
		r := e.ontap(site, "POST", "/api/snapmirror/relationships/"+id+"/transfers", map[string]any{})
		if r.status == http.StatusBadRequest && strings.Contains(str(r.body, "error.message"), "Another transfer is in progress") {
			return false
		}
		r.must(e.t, http.StatusCreated)
		return true
	})
	return e.settle(site, dstPath)
}

// setState PATCHes a relationship's state (quiesce, break, resync) and waits for the job.
func (e *labEnv) setState(site, dstPath, state string) {
	e.t.Helper()
	id := str(e.relationship(site, dstPath), "uuid")
	e.jobOK(site, "PATCH", "/api/snapmirror/relationships/"+id, map[string]any{"state": state})
}

// volume returns a volume's record with the given fields.
func (e *labEnv) volume(site, name, fields string) map[string]any {
	e.t.Helper()
	recs := e.ontap(site, "GET", "/api/storage/volumes?name="+url.QueryEscape(name)+"&fields="+fields, nil).must(e.t, http.StatusOK).records()
	if len(recs) != 1 {
		e.t.Fatalf("volume %s at %s: %d records", name, site, len(recs))
	}
	return recs[0]
}

// vcenter logs in to a site's vCenter with govmomi over HTTPS, trusting ca.pem, and logs out
// when the test ends.
func (e *labEnv) vcenter(site string) *govmomi.Client {
	e.t.Helper()
	c, err := e.login(site, e.desc.CAFile)
	if err != nil {
		e.t.Fatalf("log in to the %s vCenter: %v", site, err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Logout(ctx)
	})
	return c
}

func (e *labEnv) login(site, caFile string) (*govmomi.Client, error) {
	ep := e.desc.Sites[site].VCenter
	u, err := soap.ParseURL(ep.URL + "/sdk")
	if err != nil {
		return nil, err
	}
	sc := soap.NewClient(u, false)
	if err := sc.SetRootCAs(caFile); err != nil {
		return nil, err
	}
	vc, err := vim25.NewClient(e.ctx, sc)
	if err != nil {
		return nil, err
	}
	c := &govmomi.Client{Client: vc, SessionManager: session.NewManager(vc)}
	if err := c.Login(e.ctx, url.UserPassword(ep.Username, ep.Password)); err != nil {
		return nil, err
	}
	return c, nil
}

// site is a vCenter client with a finder on the site's datacenter.
type site struct {
	e  *labEnv
	id string
	c  *govmomi.Client
	f  *find.Finder
	dc *object.Datacenter
}

func (e *labEnv) site(id string) *site {
	e.t.Helper()
	c := e.vcenter(id)
	f := find.NewFinder(c.Client, true)
	dc, err := f.Datacenter(e.ctx, e.desc.Sites[id].Datacenter)
	if err != nil {
		e.t.Fatal(err)
	}
	f.SetDatacenter(dc)
	return &site{e: e, id: id, c: c, f: f, dc: dc}
}

// hosts returns the hosts of a cluster.
func (s *site) hosts(cluster string) []*object.HostSystem {
	s.e.t.Helper()
	hs, err := s.f.HostSystemList(s.e.ctx, cluster+"/*")
	if err != nil {
		s.e.t.Fatal(err)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].Name() < hs[j].Name() })
	return hs
}

// rescan runs RescanAllHba and RescanVmfs on every host given, as the VMbook does after a break.
func (s *site) rescan(hosts []*object.HostSystem) {
	s.e.t.Helper()
	for _, h := range hosts {
		ss, err := h.ConfigManager().StorageSystem(s.e.ctx)
		if err != nil {
			s.e.t.Fatal(err)
		}
		if err := ss.RescanAllHba(s.e.ctx); err != nil {
			s.e.t.Fatalf("RescanAllHba on %s: %v", h.Name(), err)
		}
		if err := ss.RescanVmfs(s.e.ctx); err != nil {
			s.e.t.Fatalf("RescanVmfs on %s: %v", h.Name(), err)
		}
	}
}

// resolveCopies force-mounts, keeping their signature, the unresolved VMFS copies (replicas,
// clones) each host found at its last rescan: the ESXi 7/8 step after a rescan.
func (s *site) resolveCopies(hosts []*object.HostSystem) {
	s.e.t.Helper()
	for _, h := range hosts {
		ss, err := h.ConfigManager().StorageSystem(s.e.ctx)
		if err != nil {
			s.e.t.Fatal(err)
		}
		vols, err := ss.QueryUnresolvedVmfsVolumes(s.e.ctx)
		if err != nil {
			s.e.t.Fatalf("QueryUnresolvedVmfsVolume on %s: %v", h.Name(), err)
		}
		var specs []types.HostUnresolvedVmfsResolutionSpec
		for _, v := range vols {
			specs = append(specs, types.HostUnresolvedVmfsResolutionSpec{ExtentDevicePath: []string{v.Extent[0].DevicePath}, UuidResolution: "forceMount"})
		}
		if len(specs) == 0 {
			continue
		}
		res, err := methods.ResolveMultipleUnresolvedVmfsVolumes(s.e.ctx, s.c.Client, &types.ResolveMultipleUnresolvedVmfsVolumes{This: ss.Reference(), ResolutionSpec: specs})
		if err != nil {
			s.e.t.Fatalf("ResolveMultipleUnresolvedVmfsVolumes on %s: %v", h.Name(), err)
		}
		for _, r := range res.Returnval {
			if r.Fault != nil {
				s.e.t.Fatalf("force-mount of %v on %s: %s", r.Spec.ExtentDevicePath, h.Name(), r.Fault.LocalizedMessage)
			}
		}
	}
}

// datastore returns the named datastore, or nil when the datacenter has none.
func (s *site) datastore(name string) *object.Datastore {
	s.e.t.Helper()
	ds, err := s.f.Datastore(s.e.ctx, name)
	if err != nil {
		if _, ok := err.(*find.NotFoundError); ok {
			return nil
		}
		s.e.t.Fatal(err)
	}
	return ds
}

func (s *site) datastoreProps(ds *object.Datastore) mo.Datastore {
	s.e.t.Helper()
	var m mo.Datastore
	if err := ds.Properties(s.e.ctx, ds.Reference(), []string{"summary", "info", "host"}, &m); err != nil {
		s.e.t.Fatal(err)
	}
	return m
}

// search runs a datastore browser search below the datastore's root and returns the datastore
// paths it found ("[RP1] HR Database/HR Database.vmx"), sorted.
func (s *site) search(ds *object.Datastore, recurse bool, patterns ...string) []string {
	s.e.t.Helper()
	b, err := ds.Browser(s.e.ctx)
	if err != nil {
		s.e.t.Fatal(err)
	}
	spec := &types.HostDatastoreBrowserSearchSpec{MatchPattern: patterns, Details: &types.FileQueryFlags{FileType: true}}
	root := "[" + ds.Name() + "]"
	var task *object.Task
	if recurse {
		task, err = b.SearchDatastoreSubFolders(s.e.ctx, root, spec)
	} else {
		task, err = b.SearchDatastore(s.e.ctx, root, spec)
	}
	if err != nil {
		s.e.t.Fatal(err)
	}
	res := s.waitTask(task)
	var results []types.HostDatastoreBrowserSearchResults
	switch r := res.(type) {
	case types.ArrayOfHostDatastoreBrowserSearchResults:
		results = r.HostDatastoreBrowserSearchResults
	case types.HostDatastoreBrowserSearchResults:
		results = []types.HostDatastoreBrowserSearchResults{r}
	default:
		s.e.t.Fatalf("search result %T", res)
	}
	var out []string
	for _, r := range results {
		for _, fi := range r.File {
			p := r.FolderPath // "[RP1]" for the root, "[RP1] HR Database/" below it
			if strings.HasSuffix(p, "]") {
				p += " "
			}
			out = append(out, p+fi.GetFileInfo().Path)
		}
	}
	sort.Strings(out)
	return out
}

// waitTask waits for a task to succeed and returns its result.
func (s *site) waitTask(task *object.Task) types.AnyType {
	s.e.t.Helper()
	info, err := task.WaitForResult(s.e.ctx, nil)
	if err != nil {
		s.e.t.Fatalf("task %s: %v", task.Reference().Value, err)
	}
	return info.Result
}

// vm finds a VM by inventory path below the datacenter's vm folder.
func (s *site) vm(path string) *object.VirtualMachine {
	s.e.t.Helper()
	vm, err := s.f.VirtualMachine(s.e.ctx, path)
	if err != nil {
		s.e.t.Fatal(err)
	}
	return vm
}

func (s *site) vmProps(vm *object.VirtualMachine, props ...string) mo.VirtualMachine {
	s.e.t.Helper()
	var m mo.VirtualMachine
	if err := vm.Properties(s.e.ctx, vm.Reference(), props, &m); err != nil {
		s.e.t.Fatal(err)
	}
	return m
}

// folder returns a VM folder below the datacenter's vm folder, creating the path.
func (s *site) folder(path string) *object.Folder {
	s.e.t.Helper()
	folders, err := s.dc.Folders(s.e.ctx)
	if err != nil {
		s.e.t.Fatal(err)
	}
	cur := folders.VmFolder
	for _, name := range strings.Split(path, "/") {
		next, err := s.f.Folder(s.e.ctx, cur.InventoryPath+"/"+name)
		if err != nil {
			if next, err = cur.CreateFolder(s.e.ctx, name); err != nil {
				s.e.t.Fatalf("create folder %s: %v", name, err)
			}
			next.InventoryPath = cur.InventoryPath + "/" + name
		}
		cur = next
	}
	return cur
}

// pool returns a resource pool below a cluster's root pool, creating it when missing.
func (s *site) pool(cluster, name string) *object.ResourcePool {
	s.e.t.Helper()
	root, err := s.f.ResourcePool(s.e.ctx, cluster+"/Resources")
	if err != nil {
		s.e.t.Fatal(err)
	}
	if name == "" {
		return root
	}
	if p, err := s.f.ResourcePool(s.e.ctx, cluster+"/Resources/"+name); err == nil {
		return p
	}
	p, err := root.Create(s.e.ctx, name, types.DefaultResourceConfigSpec())
	if err != nil {
		s.e.t.Fatalf("create pool %s: %v", name, err)
	}
	return p
}

// register registers a .vmx into a folder and pool and returns the VM.
func (s *site) register(vmx string, folder *object.Folder, pool *object.ResourcePool) *object.VirtualMachine {
	s.e.t.Helper()
	task, err := folder.RegisterVM(s.e.ctx, vmx, "", false, pool, nil)
	if err != nil {
		s.e.t.Fatal(err)
	}
	ref := s.waitTask(task).(types.ManagedObjectReference)
	return object.NewVirtualMachine(s.c.Client, ref)
}

// powerOnAnswering powers a VM on, requires the "moved or copied" question to be asked while
// the task waits, and answers it with choice.
func (s *site) powerOnAnswering(vm *object.VirtualMachine, choice string) {
	s.e.t.Helper()
	task, err := vm.PowerOn(s.e.ctx)
	if err != nil {
		s.e.t.Fatal(err)
	}
	var q *types.VirtualMachineQuestionInfo
	eventually(s.e.t, "the moved-or-copied question", func() bool {
		q = s.vmProps(vm, "runtime.question").Runtime.Question
		return q != nil
	})
	if len(q.Message) == 0 || q.Message[0].Id != "msg.uuid.altered" {
		s.e.t.Fatalf("question %+v", q)
	}
	keys := map[string]string{}
	for _, c := range q.Choice.ChoiceInfo {
		keys[c.GetElementDescription().Label] = c.GetElementDescription().Key
	}
	if keys["button.uuid.movedTheVM"] != "1" || keys["button.uuid.copiedTheVM"] != "2" || keys["button.uuid.cancel"] != "0" {
		s.e.t.Fatalf("choices %v", keys)
	}
	var ti mo.Task
	if err := task.Properties(s.e.ctx, task.Reference(), []string{"info.state"}, &ti); err != nil {
		s.e.t.Fatal(err)
	}
	if ti.Info.State != types.TaskInfoStateRunning {
		s.e.t.Fatalf("power-on task %s while the question is pending", ti.Info.State)
	}
	if err := vm.Answer(s.e.ctx, q.Id, choice); err != nil {
		s.e.t.Fatal(err)
	}
	s.waitTask(task)
}

// powerOff powers a VM off.
func (s *site) powerOff(vm *object.VirtualMachine) {
	s.e.t.Helper()
	task, err := vm.PowerOff(s.e.ctx)
	if err != nil {
		s.e.t.Fatal(err)
	}
	s.waitTask(task)
}

// vmsOn lists the names of the topology's site 1 VMs on a datastore, sorted.
func vmsOn(datastore string) []string {
	w := topology.VMbook(topology.DefaultOptions())
	s1, _ := w.Site(topology.Site1)
	var out []string
	for _, vm := range s1.VMs {
		if vm.Datastore == datastore {
			out = append(out, vm.Name)
		}
	}
	sort.Strings(out)
	return out
}

// topologyVM returns a site 1 VM of the default topology.
func topologyVM(t testing.TB, name string) topology.VM {
	t.Helper()
	w := topology.VMbook(topology.DefaultOptions())
	s1, _ := w.Site(topology.Site1)
	for _, vm := range s1.VMs {
		if vm.Name == name {
			return vm
		}
	}
	t.Fatalf("no VM %q in the topology", name)
	return topology.VM{}
}

// nicsOf returns a VM's Ethernet cards.
func nicsOf(m mo.VirtualMachine) []*types.VirtualEthernetCard {
	var out []*types.VirtualEthernetCard
	for _, d := range object.VirtualDeviceList(m.Config.Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil)) {
		out = append(out, d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard())
	}
	return out
}

// isFault reports whether err is a SOAP fault of type T.
func isFault[T any](err error) bool {
	if err == nil || !soap.IsSoapFault(err) {
		return false
	}
	_, ok := soap.ToSoapFault(err).VimFault().(T)
	return ok
}

// sameStrings compares two string slices.
func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
