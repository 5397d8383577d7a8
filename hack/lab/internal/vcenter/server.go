package vcenter

import (
	"bytes"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// maxRequestBody bounds a SOAP request; larger requests are refused before they are parsed.
const maxRequestBody = 32 << 20

// Serve starts answering on l with TLS configured by cfg (which must carry the server certificate,
// in Certificates or GetCertificate). It returns at once; the server runs until Close. The VIM API
// is at /sdk (and /sdk/vimService), its version list at /sdk/vimServiceVersions.xml. Only HTTP/1.1
// is offered, as vCenter's /sdk endpoint does.
func (v *VCenter) Serve(l net.Listener, cfg *tls.Config) error {
	if cfg == nil {
		return errors.New("vcenter: Serve needs a TLS configuration")
	}
	if v.closed.Load() {
		return errors.New("vcenter: closed")
	}
	v.srvMu.Lock()
	defer v.srvMu.Unlock()
	if v.srv != nil {
		return errors.New("vcenter: already serving")
	}
	tc := cfg.Clone()
	tc.NextProtos = []string{"http/1.1"}
	next := tc.GetConfigForClient
	tc.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		switch v.Down() {
		case DownReset:
			return nil, errors.New("vcenter is down")
		case DownHang:
			select {
			case <-v.upChan():
			case <-v.closing:
				return nil, errors.New("vcenter closed")
			}
		}
		if next != nil {
			return next(hello)
		}
		return nil, nil
	}

	addr := l.Addr().String()
	v.url = &url.URL{Scheme: "https", Host: addr, Path: "/sdk"}
	listen := &url.URL{Scheme: "https", Host: addr, Path: "/sdk"}
	if v.opts.User != "" || v.opts.Password != "" {
		listen.User = url.UserPassword(v.opts.User, v.opts.Password)
	}
	v.svc.Listen = listen
	v.svc.RegisterSDK(v.reg, "/sdk/vimService")
	v.reg.SessionManager().ServiceHostName = addr

	v.srv = &http.Server{
		Handler:           http.HandlerFunc(v.serveHTTP),
		TLSConfig:         tc,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	srv := v.srv
	tl := tls.NewListener(l, tc)
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		_ = srv.Serve(tl)
	}()
	return nil
}

// URL is the vCenter's SDK endpoint, https://host:port/sdk (nil before Serve).
func (v *VCenter) URL() *url.URL {
	v.srvMu.Lock()
	defer v.srvMu.Unlock()
	if v.url == nil {
		return nil
	}
	u := *v.url
	return &u
}

// serveHTTP answers the HTTP requests of the vCenter's server.
func (v *VCenter) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch v.Down() {
	case DownReset:
		dropConnection(w)
		return
	case DownHang:
		v.hangConnection(w)
		return
	}
	defer func() {
		if rec := recover(); rec != nil {
			v.log.Error("request handler panicked", "path", r.URL.Path, "panic", fmt.Sprint(rec))
			writeSOAPFault(w, "A general system error occurred: internal error", &types.SystemError{Reason: "internal error"})
		}
	}()
	switch r.URL.Path {
	case "/sdk", "/sdk/", "/sdk/vimService":
		v.serveSDK(w, r)
	case "/sdk/vimServiceVersions.xml":
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8" ?>
<namespaces version="1.0">
 <namespace>
  <name>urn:vim25</name>
  <version>%s</version>
  <priorVersions>
   <version>8.0.2.0</version>
   <version>8.0.1.0</version>
   <version>8.0.0.0</version>
   <version>7.0.3.0</version>
   <version>7.0</version>
   <version>6.7</version>
  </priorVersions>
 </namespace>
</namespaces>
`, aboutAPIVersion)
	default:
		http.NotFound(w, r)
	}
}

func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func (v *VCenter) hangConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	select {
	case <-v.upChan():
	case <-v.closing:
	}
	conn.Close()
}

// bufferedResponse collects the simulator's response so the lab can adjust it before sending.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (v *VCenter) serveSDK(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		writeSOAPFault(w, "The request is too large or could not be read.", &types.InvalidRequest{})
		return
	}
	if name, ok := requestMethod(raw); !ok {
		writeSOAPFault(w, "Unable to resolve WSDL method name "+name, &types.InvalidRequest{})
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	if r.URL.Path != "/sdk" {
		r2 := *r
		u := *r.URL
		u.Path = "/sdk"
		r2.URL = &u
		r = &r2
	}
	res := &bufferedResponse{header: http.Header{}}
	v.svc.ServeSDK(res, r)
	if res.status == 0 {
		res.status = http.StatusOK
	}
	body := res.body.Bytes()
	if res.status == http.StatusBadRequest && len(body) == 0 {
		writeSOAPFault(w, "The request is too large or could not be read.", &types.InvalidRequest{})
		return
	}
	if res.status == http.StatusInternalServerError {
		body = fillFaultString(body)
	}
	body = canonicalXSI(body)
	for k, vals := range res.header {
		if strings.EqualFold(k, "Set-Cookie") {
			for _, c := range vals {
				w.Header().Add("Set-Cookie", vcenterCookie(c))
			}
			continue
		}
		w.Header()[k] = vals
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(res.status)
	_, _ = w.Write(body)
}

// requestMethod finds the request element inside the SOAP body and reports whether it names a
// VIM method (a request type with a _this). Malformed XML is left to the simulator's parser,
// which answers it with a fault.
func requestMethod(b []byte) (string, bool) {
	d := xml.NewDecoder(bytes.NewReader(b))
	inBody := false
	for {
		tok, err := d.Token()
		if err != nil {
			return "", true
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if !inBody {
			inBody = se.Name.Local == "Body"
			continue
		}
		name := se.Name.Local
		t, ok := types.TypeFunc()(name)
		if !ok {
			return name, false
		}
		if t.Kind() != reflect.Struct {
			return name, false
		}
		f, ok := t.FieldByName("This")
		return name, ok && f.Type == reflect.TypeOf(types.ManagedObjectReference{})
	}
}

// vcenterCookie renders the session cookie the way vCenter does:
// vmware_soap_session="<id>"; Path=/; HttpOnly; Secure
func vcenterCookie(c string) string {
	name, rest, ok := strings.Cut(c, "=")
	if !ok || name != soap.SessionCookieName {
		return c
	}
	val, _, _ := strings.Cut(rest, ";")
	val = strings.Trim(val, `"`)
	return fmt.Sprintf(`%s="%s"; Path=/; HttpOnly; Secure`, name, val)
}

// The simulator's XML encoder declares the XML Schema instance namespace on every typed element
// (xmlns:XMLSchema-instance=... XMLSchema-instance:type=...); vCenter uses the xsi prefix the
// envelope declares. Both mean the same; the lab sends vCenter's form.
var xsiRewrites = []struct{ from, to []byte }{
	{[]byte(` xmlns:_XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance"`), nil},
	{[]byte(` xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance"`), nil},
	{[]byte(`_XMLSchema-instance:type=`), []byte(`xsi:type=`)},
	{[]byte(`XMLSchema-instance:type=`), []byte(`xsi:type=`)},
}

func canonicalXSI(b []byte) []byte {
	if !bytes.Contains(b, []byte(`XMLSchema-instance:type=`)) {
		return b
	}
	for _, r := range xsiRewrites {
		b = bytes.ReplaceAll(b, r.from, r.to)
	}
	return b
}

var emptyFaultString = []byte("<faultstring></faultstring>")

// fillFaultString gives a fault without a message the text vCenter would send.
func fillFaultString(body []byte) []byte {
	if !bytes.Contains(body, emptyFaultString) {
		return body
	}
	var env struct {
		Body struct {
			Fault *soap.Fault
		}
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.TypeFunc = types.TypeFunc()
	msg := ""
	if err := dec.Decode(&env); err == nil && env.Body.Fault != nil {
		if f := asMethodFault(env.Body.Fault.Detail.Fault); f != nil {
			msg = faultMessage(f)
		}
	}
	if msg == "" {
		msg = "A general system error occurred."
		if m := faultTypeRE.FindSubmatch(body); m != nil {
			msg = faultTextByName(string(m[1]))
		}
	}
	var esc bytes.Buffer
	_ = xml.EscapeText(&esc, []byte(msg))
	return bytes.Replace(body, emptyFaultString, []byte("<faultstring>"+esc.String()+"</faultstring>"), 1)
}

var faultTypeRE = regexp.MustCompile(`xsi:type="([A-Za-z]+)"`)

// asMethodFault returns a decoded fault as a BaseMethodFault (decoding may yield a value rather
// than a pointer).
func asMethodFault(x any) types.BaseMethodFault {
	if f, ok := x.(types.BaseMethodFault); ok {
		return f
	}
	if x == nil {
		return nil
	}
	rv := reflect.ValueOf(x)
	p := reflect.New(rv.Type())
	p.Elem().Set(rv)
	f, _ := p.Interface().(types.BaseMethodFault)
	return f
}

// writeSOAPFault writes a SOAP fault the lab produced itself (outside the simulator's dispatch).
func writeSOAPFault(w http.ResponseWriter, msg string, f types.BaseMethodFault) {
	var esc bytes.Buffer
	_ = xml.EscapeText(&esc, []byte(msg))
	name := faultName(f)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>%s</faultstring><detail><%sFault xmlns="urn:vim25" xsi:type="%s"></%sFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>`,
		esc.String(), name, name, name)
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
