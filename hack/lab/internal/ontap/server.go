package ontap

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// The REST front end of one cluster: connection-level faults, panic recovery, basic auth,
// injected delays and request failures, then routing to the resource handlers.

// reqCtx carries one request through a handler.
type reqCtx struct {
	c     *Cluster
	l     *Lab
	w     http.ResponseWriter
	r     *http.Request
	q     *query
	body  record // parsed JSON object (POST/PATCH)
	plain bool   // Accept: application/json (no HAL links)
	// tunneled: the request is scoped to the SVM by X-Dot-SVM-Name / X-Dot-SVM-UUID, which
	// then stands in for svm.name / svm.uuid in bodies.
	tunneled bool
}

// route is one endpoint: a method and a path pattern whose "{}" segments are captured.
type route struct {
	method  string
	pattern []string
	res     *resource
	handle  func(rc *reqCtx, args []string) *apiError
}

const maxBody = 4 << 20

func (c *Cluster) newHandler() http.Handler {
	routes := c.routes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.down.Load() || c.lab.closed.Load() {
			dropConnection(w)
			return
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				writeError(w, errorf(http.StatusInternalServerError, CodeInternal, "",
					"Internal error. %v", v))
			}
		}()
		c.serve(w, r, routes)
	})
}

// dropConnection closes the client's connection without a response, as an unreachable cluster.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func (c *Cluster) serve(w http.ResponseWriter, r *http.Request, routes []route) {
	if d := c.faults.delayFor(r.Method, r.URL.Path); d > 0 {
		c.lab.waitLab(r.Context(), d, nil)
	}
	if !c.authorized(r) {
		c.unauthorized(w)
		return
	}
	if f, ok := c.faults.takeRequestFault(r.Method, r.URL.Path); ok {
		writeError(w, &apiError{Status: f.Status, Code: f.Code, Message: f.Message})
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	if !strings.HasPrefix(path, "/api/") {
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "", "API not found"))
		return
	}
	segs := strings.Split(strings.TrimPrefix(path, "/api/"), "/")
	var matched *route
	var args []string
	pathKnown := false
	for i := range routes {
		a, ok := matchPattern(routes[i].pattern, segs)
		if !ok {
			continue
		}
		pathKnown = true
		if routes[i].method == r.Method || (r.Method == http.MethodHead && routes[i].method == http.MethodGet) {
			matched, args = &routes[i], a
			break
		}
	}
	if matched == nil {
		if pathKnown {
			writeError(w, errorf(http.StatusMethodNotAllowed, CodeNotSupported, "",
				"The operation %s is not supported on this API.", r.Method))
			return
		}
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "", "API not found"))
		return
	}
	rc := &reqCtx{c: c, l: c.lab, w: w, r: r, plain: acceptsPlainJSON(r)}
	if aerr := rc.tunnel(); aerr != nil {
		writeError(w, aerr)
		return
	}
	q, aerr := c.lab.parseQuery(r, matched.res)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	rc.q = q
	if aerr := rc.readBody(); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := matched.handle(rc, args); aerr != nil {
		writeError(w, aerr)
	}
}

// tunnel checks the SVM tunneling headers (§1) against the cluster's SVM.
func (rc *reqCtx) tunnel() *apiError {
	name, id := rc.r.Header.Get("X-Dot-SVM-Name"), rc.r.Header.Get("X-Dot-SVM-UUID")
	if name == "" && id == "" {
		return nil
	}
	s := rc.c.svm
	if (name != "" && name != s.name) || (id != "" && id != s.uuid) {
		return errorf(http.StatusNotFound, CodeSVMNotFound, "", "SVM %q does not exist.", name+id)
	}
	rc.tunneled = true
	return nil
}

func matchPattern(pattern, segs []string) ([]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var args []string
	for i, p := range pattern {
		if p == "{}" {
			if segs[i] == "" {
				return nil, false
			}
			args = append(args, segs[i])
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return args, true
}

func acceptsPlainJSON(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return strings.Contains(a, "application/json") && !strings.Contains(a, "hal+json")
}

func (c *Cluster) authorized(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	if !ok {
		return false
	}
	o := c.lab.opts
	uok := subtle.ConstantTimeCompare([]byte(u), []byte(o.User)) == 1
	pok := subtle.ConstantTimeCompare([]byte(p), []byte(o.Password)) == 1
	return uok && pok
}

const unauthorizedPage = `<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>401 Unauthorized</title>
</head><body>
<h1>Unauthorized</h1>
<p>This server could not verify that you
are authorized to access the document
requested.  Either you supplied the wrong
credentials (e.g., bad password), or your
browser doesn't understand how to supply
the credentials required.</p>
</body></html>
`

func (c *Cluster) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="`+c.name+`"`)
	if c.lab.opts.UnauthorizedJSON {
		writeError(w, errorf(http.StatusUnauthorized, CodeNotAuthorized, "", "not authorized for that command"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = io.WriteString(w, unauthorizedPage)
}

// readBody reads and parses the JSON body. GET and DELETE must not carry one.
func (rc *reqCtx) readBody() *apiError {
	b, err := io.ReadAll(io.LimitReader(rc.r.Body, maxBody+1))
	if err != nil {
		return errBadRequest(CodeInvalidJSON, "", "Failed to read the request body: %v", err)
	}
	if len(b) > maxBody {
		return errBadRequest(CodeInvalidJSON, "", "The request body is too large.")
	}
	empty := len(strings.TrimSpace(string(b))) == 0
	if rc.r.Method == http.MethodDelete && !empty && emptyObject(b) {
		// The NetApp SDK (netapp-ontap) sends {} with every DELETE, and ONTAP accepts it.
		empty = true
	}
	switch rc.r.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
		if !empty {
			return errBadRequest(CodeBodyNotAllowed, "", "A request body is not allowed on %s requests.", rc.r.Method)
		}
		return nil
	}
	if empty {
		rc.body = record{}
		return nil
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return errBadRequest(CodeInvalidJSON, "", "Invalid JSON input: %s", jsonErrText(err))
	}
	if dec.More() {
		return errBadRequest(CodeInvalidJSON, "", "Invalid JSON input: unexpected data after the top-level value")
	}
	obj, ok := normalizeJSON(v).(record)
	if !ok {
		return errBadRequest(CodeInvalidJSON+1, "", "Invalid JSON input: expected an object at the top level")
	}
	rc.body = obj
	return nil
}

// emptyObject reports whether b is a JSON object without members ({}, with any white space).
func emptyObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil && len(m) == 0
}

func jsonErrText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at offset %d", se.Error(), se.Offset)
	}
	return err.Error()
}

// normalizeJSON turns json.Number into float64 (or keeps huge integers exact as strings are not
// expected) and maps into records.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(record, len(x))
		for k, e := range x {
			out[k] = normalizeJSON(e)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = normalizeJSON(e)
		}
		return x
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	}
	return v
}

// checkBody rejects body fields the resource does not know (262179) and the read-only ones
// listed in readOnly.
func (rc *reqCtx) checkBody(kind string, readOnly ...string) *apiError {
	known := rc.l.knownFields(kind)
	ro := map[string]bool{}
	for _, f := range readOnly {
		ro[f] = true
	}
	var walk func(v any, prefix string) *apiError
	walk = func(v any, prefix string) *apiError {
		switch x := v.(type) {
		case record:
			for _, k := range sortedKeys(x) {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				if k == "_links" {
					continue
				}
				if !known[p] {
					return errUnexpectedArg(p)
				}
				if ro[p] {
					return errBadRequest(CodeInvalidContext, p, "Field %q cannot be set in this operation.", p)
				}
				if err := walk(x[k], p); err != nil {
					return err
				}
			}
		case []any:
			for _, e := range x {
				if err := walk(e, prefix); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(rc.body, "")
}

// Typed accessors for body fields at dotted paths. Absent fields return ok=false; a value of the
// wrong type is a 400 with code 262185.

func (rc *reqCtx) raw(path string) (any, bool) {
	var cur any = rc.body
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(record)
		if !ok {
			return nil, false
		}
		cur, ok = m[p]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

func (rc *reqCtx) str(path string) (string, bool, *apiError) {
	v, ok := rc.raw(path)
	if !ok || v == nil {
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", false, errTypeMismatch(path, "string")
	}
	return s, true, nil
}

func (rc *reqCtx) boolean(path string) (bool, bool, *apiError) {
	v, ok := rc.raw(path)
	if !ok || v == nil {
		return false, false, nil
	}
	switch x := v.(type) {
	case bool:
		return x, true, nil
	case string:
		if b, ok := parseBool(x); ok {
			return b, true, nil
		}
	}
	return false, false, errTypeMismatch(path, "boolean")
}

func (rc *reqCtx) integer(path string) (int64, bool, *apiError) {
	v, ok := rc.raw(path)
	if !ok || v == nil {
		return 0, false, nil
	}
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true, nil
		}
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return n, true, nil
		}
	}
	return 0, false, errTypeMismatch(path, "integer")
}

func (rc *reqCtx) strings(path string) ([]string, bool, *apiError) {
	v, ok := rc.raw(path)
	if !ok || v == nil {
		return nil, false, nil
	}
	switch x := v.(type) {
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false, errTypeMismatch(path, "array of strings")
			}
			out = append(out, s)
		}
		return out, true, nil
	case string:
		return []string{x}, true, nil
	}
	return nil, false, errTypeMismatch(path, "array of strings")
}

func errTypeMismatch(path, want string) *apiError {
	return errBadRequest(CodeInvalidValue, path, "Invalid value for field %q: expected %s.", path, want)
}

// writeJSON sends v with the given status.
func (rc *reqCtx) writeJSON(status int, v any) {
	if rc.plain {
		stripLinksKeepNext(v)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(v)
	b := buf.Bytes()
	if err != nil {
		writeError(rc.w, errorf(http.StatusInternalServerError, CodeInternal, "", "Internal error. %v", err))
		return
	}
	rc.w.Header().Set("Content-Type", "application/hal+json")
	if rc.plain {
		rc.w.Header().Set("Content-Type", "application/json")
	}
	rc.w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	rc.w.WriteHeader(status)
	if rc.r.Method != http.MethodHead {
		_, _ = rc.w.Write(b)
	}
}

// stripLinksKeepNext removes HAL links but keeps a collection's next link (Accept:
// application/json).
func stripLinksKeepNext(v any) {
	rec, ok := v.(record)
	if !ok {
		stripLinks(v)
		return
	}
	var next any
	if l, ok := rec["_links"].(record); ok {
		next = l["next"]
	}
	stripLinks(rec)
	if next != nil {
		rec["_links"] = record{"next": next}
	}
}

func selfLink(href string) record { return record{"self": record{"href": href}} }

// ref builds a nested reference {name, uuid, _links}.
func ref(name, uuid, href string) record {
	r := record{}
	if name != "" {
		r["name"] = name
	}
	if uuid != "" {
		r["uuid"] = uuid
	}
	if href != "" {
		r["_links"] = selfLink(href)
	}
	return r
}
