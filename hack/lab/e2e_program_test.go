package main

// The program as a process (flags, lab.json, signals) and malformed input through its real
// listeners.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"vmdr.local/lab/internal/topology"
)

// runMainEnv makes the test binary run the lab program itself (main with the command-line
// arguments), so tests and benchmarks can start the real program as a child process without a
// separate build.
const runMainEnv = "VMDR_LAB_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// labProcess is the program running as a child process.
type labProcess struct {
	cmd    *exec.Cmd
	dir    string
	stdout *lockedBuffer
	stderr *lockedBuffer
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// lockedBuffer is a bytes.Buffer safe for the child's output goroutines and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProcess runs the program with args (plus --state-dir dir) and returns at once.
func startProcess(tb testing.TB, dir string, args ...string) *labProcess {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	p := &labProcess{dir: dir, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(exe, append([]string{"--state-dir", dir}, args...)...)
	p.cmd.Env = append(os.Environ(), runMainEnv+"=1")
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	tb.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// awaitReady waits (bounded) for lab.json and returns it.
func (p *labProcess) awaitReady(tb testing.TB, timeout time.Duration) description {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(filepath.Join(p.dir, "lab.json"))
		if err == nil {
			var d description
			if err := json.Unmarshal(b, &d); err != nil {
				tb.Fatalf("lab.json: %v", err)
			}
			return d
		}
		select {
		case <-p.exited:
			tb.Fatalf("the lab exited during start-up (%v):\n%s", p.err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no lab.json after %v:\n%s", timeout, p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// terminate sends SIGTERM and waits (bounded) for the exit.
func (p *labProcess) terminate(tb testing.TB) error {
	tb.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
	select {
	case <-p.exited:
		return p.err
	case <-time.After(wait):
		tb.Fatalf("the lab did not stop within %v of SIGTERM", wait)
		return nil
	}
}

func TestProgramServesItsFlagsWorldAndStopsOnSIGTERM(t *testing.T) {
	p := startProcess(t, t.TempDir(), "--vms-per-group", "8", "--ontap-version", "9.10.1",
		"--ontap-option", "SnapshotRetention=3", "--ontap-option", "clonestopsreplication=true", "--log-level", "info")
	d := p.awaitReady(t, wait)
	e := &labEnv{t: t, ctx: t.Context(), desc: d, plain: &http.Client{Timeout: wait}}
	e.https = httpsClient(t, d.CAFile)

	e.control("GET", "/healthz", nil).must(t, http.StatusOK)
	opts := e.control("GET", "/ontap/options", nil).must(t, http.StatusOK).body
	if opts["SnapshotRetention"] != float64(3) || opts["CloneStopsReplication"] != true || opts["Version"] != "9.10.1" {
		t.Fatalf("ONTAP options %v", opts)
	}
	cl := e.ontap(topology.Site1, "GET", "/api/cluster?fields=version", nil).must(t, http.StatusOK).body
	if v, _ := cl["version"].(map[string]any); v["generation"] != float64(9) || v["major"] != float64(10) || v["minor"] != float64(1) {
		t.Fatalf("cluster version %v", cl["version"])
	}
	truth := e.control("GET", "/truth/sites/site1/vcenter", nil).must(t, http.StatusOK).body
	hr := 0
	for _, vm := range truth["vms"].([]any) {
		if strings.HasPrefix(str(vm.(map[string]any), "name"), "HR") {
			hr++
		}
	}
	if hr != 8 {
		t.Fatalf("%d HR VMs with --vms-per-group 8", hr)
	}
	if _, err := e.login(topology.Site2, d.CAFile); err != nil {
		t.Fatal(err)
	}

	if err := p.terminate(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
	}
	out := p.stdout.String()
	for _, want := range []string{"lab ready in ", filepath.Join(p.dir, "lab.json"), "control API  " + d.Control, d.Sites["site1"].VCenter.URL + "/sdk", d.Sites["site2"].ONTAP.URL} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(d.Control, "http://"), time.Second); err == nil {
		t.Error("the control API still listens after the exit")
	}
}

func TestProgramRefusesBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--ontap-option", "NoSuchOption=1"}, 2, "no ONTAP option"},
		{[]string{"--ontap-option", "SnapshotRetention=many"}, 2, "not an integer"},
		{[]string{"--ontap-option", "Password=x"}, 2, "cannot be set"},
		{[]string{"--vcenter-option", "User=x"}, 2, "no vCenter option"},
		{[]string{"--vcenter-option", "KeepLostDevices=maybe"}, 2, "not a boolean"},
		{[]string{"--host-memory-gb", "site3=48"}, 2, "want site1=N or site2=N"},
		{[]string{"--host-cores", "site2=0"}, 2, "want site1=N or site2=N"},
		{[]string{"--no-such-flag"}, 2, "flag provided but not defined"},
		{[]string{"extra-argument"}, 2, "unexpected argument"},
		{[]string{"--log-level", "loud"}, 1, "--log-level"},
		{[]string{"--vcenter-method-delay", "PowerOnVM_Task"}, 1, "--vcenter-method-delay"},
		{[]string{"--ontap-version", "nine"}, 1, "bad version"},
	} {
		p := startProcess(t, t.TempDir(), c.args...)
		select {
		case <-p.exited:
		case <-time.After(wait):
			t.Fatalf("%v: still running", c.args)
		}
		code := -1
		if ee, ok := p.err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != c.code || !strings.Contains(p.stderr.String(), c.says) {
			t.Errorf("%v: exit %d (%v), stderr %q; want exit %d saying %q", c.args, code, p.err, p.stderr.String(), c.code, c.says)
		}
	}
}

// errorLines keeps the program's error-level log lines (the vCenters log every recovered
// handler panic at that level) and passes everything on to the test's output.
type errorLines struct {
	mu    sync.Mutex
	out   io.Writer
	lines []string
}

func (l *errorLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "level=ERROR") {
			l.lines = append(l.lines, sc.Text())
		}
	}
	return l.out.Write(p)
}

// A smaller cross-check of the packages' own fuzzing: malformed requests through the program's
// real listeners (control API, ONTAP over TLS, vCenter SOAP over TLS, raw TCP), after which every
// endpoint still answers and no handler panicked.
func TestMalformedInputNeverTakesTheProgramDown(t *testing.T) {
	logs := &errorLines{out: t.Output()}
	e := startLabLogging(t, logs)
	rnd := rand.New(rand.NewPCG(3, 7)) // fixed seed: the same requests every run
	pick := func(xs []string) string { return xs[rnd.IntN(len(xs))] }

	// Values that are wrong in every way a JSON field can be, plus some harmless right ones.
	// Nothing here can take a service away for long ("hang" is never sent, durations are tiny).
	values := []any{nil, true, false, 0, -1, 3.5, 1 << 62, "", "1ms", "-1s", "0s", "x", "reset", "up", "site1",
		strings.Repeat("A", 5000), "\u0000\uffff", []any{1, "a"}, map[string]any{"by": "1ms"}, map[string]any{}}
	fields := []string{"by", "mode", "cut", "down", "outage", "method", "fault", "delay", "duration", "path",
		"code", "message", "count", "status", "name", "datastore", "folder", "cpus", "MemoryMB", "poweredOn", "bogus"}
	body := func() any {
		switch rnd.IntN(6) {
		case 0:
			b := make([]byte, rnd.IntN(200))
			for i := range b {
				b[i] = byte(rnd.IntN(256))
			}
			return string(b)
		case 1:
			return strings.Repeat("[", 1+rnd.IntN(20000))
		case 2:
			return `{"` + pick(fields) + `":` // truncated
		case 3:
			return values[rnd.IntN(len(values))]
		default:
			m := map[string]any{}
			for n := rnd.IntN(4); n >= 0; n-- {
				m[pick(fields)] = values[rnd.IntN(len(values))]
			}
			if b, err := json.Marshal(m); err == nil {
				return string(b)
			}
			return "{}"
		}
	}
	segment := func() string {
		return pick([]string{"site1", "site2", "site3", "", "..", "%2e%2e", "%00", "a%20b", "HR%20Database", "RG1FV1_SM", strings.Repeat("x", 3000), "%ff%fe"})
	}

	// 1. The control API: every route, wrong methods, wrong bodies.
	routes := []string{"GET /healthz", "GET /lab", "GET /clock", "POST /clock/advance", "POST /sites/*/down", "POST /link",
		"POST /faults/clear", "POST /sites/*/vcenter/down", "POST /sites/*/vcenter/restart", "POST /sites/*/vcenter/vms",
		"POST /sites/*/vcenter/delay", "POST /sites/*/vcenter/task-duration", "POST /sites/*/vcenter/fail-next-task",
		"POST /sites/*/vcenter/fail-next-call", "POST /sites/*/ontap/down", "POST /sites/*/ontap/fail-next-job",
		"POST /sites/*/ontap/fail-next-request", "POST /sites/*/ontap/delay", "GET /truth/storage", "GET /ontap/options",
		"GET /truth/sites/*/vcenter", "GET /truth/sites/*/vcenter/vms/*", "GET /truth/sites/*/ontap/relationships/*",
		"GET /truth/sites/*/ontap/volumes/*", "GET /*"}
	for i := 0; i < 400; i++ {
		method, path, _ := strings.Cut(pick(routes), " ")
		for strings.Contains(path, "*") {
			path = strings.Replace(path, "*", segment(), 1)
		}
		if rnd.IntN(5) == 0 {
			method = pick([]string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
		}
		r, err := e.send(e.plain, method, e.desc.Control+path, body(), "", "")
		if err != nil {
			t.Fatalf("control %s %.100s: %v", method, path, err)
		}
		if r.status >= 500 {
			t.Fatalf("control %s %.100s: %d %.300s", method, path, r.status, r.raw)
		}
		if r.status >= 400 && r.status != http.StatusMovedPermanently && str(r.body, "error") == "" && r.header.Get("Location") == "" {
			t.Fatalf("control %s %.100s: %d without a JSON error: %.300s", method, path, r.status, r.raw)
		}
	}
	e.control("POST", "/faults/clear", map[string]any{}).must(t, http.StatusOK)

	// 2. ONTAP, over TLS: wrong paths, queries, bodies and credentials.
	ontapPaths := []string{"/api/cluster", "/api/cluster/jobs/*", "/api/storage/volumes", "/api/storage/volumes/*",
		"/api/storage/volumes/*/snapshots", "/api/snapmirror/relationships", "/api/snapmirror/relationships/*",
		"/api/snapmirror/relationships/*/transfers", "/api/storage/luns", "/api/protocols/san/igroups/*",
		"/api/protocols/san/lun-maps", "/api/protocols/nfs/export-policies/*/rules", "/api/nope", "/", "/api/"}
	queries := []string{"", "?fields=**", "?fields=nope,*", "?max_records=-1", "?max_records=x", "?order_by=name%20sideways",
		"?return_timeout=abc", "?return_records=maybe", "?name=" + segment(), "?%zz", "?state=snapmirrored&fields=" + strings.Repeat("a,", 2000)}
	for i := 0; i < 400; i++ {
		site := pick([]string{topology.Site1, topology.Site2})
		path := pick(ontapPaths)
		for strings.Contains(path, "*") {
			path = strings.Replace(path, "*", segment(), 1)
		}
		method := pick([]string{"GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS"})
		user, pass := e.desc.Sites[site].ONTAP.Username, e.desc.Sites[site].ONTAP.Password
		if rnd.IntN(8) == 0 {
			user, pass = pick([]string{"", "admin", "root"}), pick([]string{"", "x"})
		}
		r, err := e.send(e.https, method, e.desc.Sites[site].ONTAP.URL+path+pick(queries), body(), user, pass)
		if err != nil {
			t.Fatalf("ONTAP %s %s%.100s: %v", site, method, path, err)
		}
		if r.status >= 500 && strings.Contains(r.raw, "Internal error.") {
			t.Fatalf("ONTAP %s %s %.100s: a handler failed: %.300s", site, method, path, r.raw)
		}
	}

	// 3. vCenter SOAP, over TLS, with and without a session.
	const envelope = `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>%s</soapenv:Body></soapenv:Envelope>`
	soapBodies := []string{
		"", "<", "not xml", strings.Repeat("<a>", 20000),
		`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><x>&b;</x>`,
		fmt.Sprintf(envelope, ``),
		fmt.Sprintf(envelope, `<NoSuchMethod xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></NoSuchMethod>`),
		fmt.Sprintf(envelope, `<RetrieveServiceContent xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></RetrieveServiceContent>`),
		fmt.Sprintf(envelope, `<Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this><userName>`+strings.Repeat("u", 10000)+`</userName></Login>`),
		fmt.Sprintf(envelope, `<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this><specSet><propSet><type>Nope</type><pathSet>a.b.c</pathSet></propSet><objectSet><obj type="VirtualMachine">vm-999999</obj></objectSet></specSet><options/></RetrievePropertiesEx>`),
		fmt.Sprintf(envelope, `<PowerOnVM_Task xmlns="urn:vim25"><_this type="HostSystem">host-1</_this></PowerOnVM_Task>`),
		fmt.Sprintf(envelope, `<RegisterVM_Task xmlns="urn:vim25"><_this type="Folder">group-v3</_this><path>[nope] ../../etc/passwd</path><asTemplate>maybe</asTemplate></RegisterVM_Task>`),
		fmt.Sprintf(envelope, `<SearchDatastoreSubFolders_Task xmlns="urn:vim25"><_this type="HostDatastoreBrowser">x</_this><datastorePath>[RP1] ../..</datastorePath></SearchDatastoreSubFolders_Task>`),
		fmt.Sprintf(envelope, `<CreateFolder xmlns="urn:vim25"><_this type="Folder">group-v3</_this><name></name></CreateFolder>`),
		fmt.Sprintf(envelope, `<AnswerVM xmlns="urn:vim25"><_this type="VirtualMachine">vm-1</_this><questionId>%s</questionId><answerChoice>9</answerChoice></AnswerVM>`),
		fmt.Sprintf(envelope, `<WaitForUpdatesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this><version>garbage</version></WaitForUpdatesEx>`),
		fmt.Sprintf(envelope, `<RescanAllHba xmlns="urn:vim25"><_this type="HostStorageSystem">nope</_this></RescanAllHba>`),
	}
	cookies := map[string]string{}
	for _, id := range []string{topology.Site1, topology.Site2} {
		c := e.vcenter(id)
		u, _ := url.Parse(e.desc.Sites[id].VCenter.URL + "/sdk")
		for _, ck := range c.Client.Client.Jar.Cookies(u) {
			cookies[id] = ck.Name + "=" + ck.Value
		}
	}
	for i := 0; i < 300; i++ {
		id := pick([]string{topology.Site1, topology.Site2})
		b := soapBodies[rnd.IntN(len(soapBodies))]
		if rnd.IntN(4) == 0 && len(b) > 0 {
			b = b[:rnd.IntN(len(b))]
		}
		path := pick([]string{"/sdk", "/sdk", "/sdk/vimService", "/sdk/vimServiceVersions.xml", "/nope"})
		req, err := http.NewRequestWithContext(e.ctx, pick([]string{"POST", "POST", "POST", "GET", "PUT"}), e.desc.Sites[id].VCenter.URL+path, strings.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", "urn:vim25/8.0.3.0")
		if rnd.IntN(2) == 0 {
			req.Header.Set("Cookie", cookies[id])
		}
		res, err := e.https.Do(req)
		if err != nil {
			t.Fatalf("vCenter %s %.80q: %v", id, b, err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusInternalServerError && !bytes.Contains(raw, []byte("Fault>")) {
			t.Fatalf("vCenter %s %.80q: 500 without a SOAP fault: %.300s", id, b, raw)
		}
	}

	// 4. Raw bytes at every listener: plain text at the TLS ports, a TLS handshake dropped
	// half-way, binary at the control port.
	addrs := []string{strings.TrimPrefix(e.desc.Control, "http://")}
	for _, s := range e.desc.Sites {
		addrs = append(addrs, strings.TrimPrefix(s.VCenter.URL, "https://"), strings.TrimPrefix(s.ONTAP.URL, "https://"))
	}
	for _, a := range addrs {
		for _, payload := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "\x00\xff\x13\x37garbage\r\n\r\n"} {
			conn, err := net.DialTimeout("tcp", a, time.Second)
			if err != nil {
				t.Fatalf("dial %s: %v", a, err)
			}
			_ = conn.SetDeadline(time.Now().Add(200 * time.Millisecond))
			_, _ = conn.Write([]byte(payload))
			_, _ = io.Copy(io.Discard, conn)
			conn.Close()
		}
	}

	// Everything still answers, and no handler panicked.
	e.control("GET", "/healthz", nil).must(t, http.StatusOK)
	for _, id := range []string{topology.Site1, topology.Site2} {
		if !e.ontapAnswers(id) {
			t.Fatalf("ONTAP %s no longer answers", id)
		}
		if n := len(e.site(id).vmNames()); n == 0 {
			t.Fatalf("vCenter %s lists no VMs", id)
		}
	}
	if rel := e.update(topology.Site2, smPath); str(rel, "transfer.state") != "success" {
		t.Fatalf("replication after the fuzzing: %v", rel)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(logs.lines) > 0 {
		t.Fatalf("handlers failed:\n%s", strings.Join(logs.lines, "\n"))
	}
}
