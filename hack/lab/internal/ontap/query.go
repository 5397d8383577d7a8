package ontap

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Common query handling (docs/ontap-api.md §2): fields=, filters, order_by, max_records with
// start.* cursors and next links, return_records and return_timeout. Records are rendered as
// generic JSON trees (map[string]any) holding every field, expensive ones included; queries
// filter, order, page and finally project them.

type record = map[string]any

// resource describes one REST resource type for the query machinery.
type resource struct {
	kind string   // key into schemaFields / schemaExpensive
	keys []string // key fields: always returned, and the default order and cursor
	// params are the endpoint's own query parameters (not filters), e.g. list_destinations_only.
	params []string
}

// fieldSel is a parsed fields= parameter.
type fieldSel struct {
	standard  bool // "*"
	expensive bool // "**"
	include   []string
	exclude   []string
}

type orderKey struct {
	path string
	desc bool
}

// query is a parsed request query.
type query struct {
	fields        *fieldSel // nil: the default for the request kind
	filters       []filter
	maxRecords    int // -1: not given
	orderBy       []orderKey
	returnRecords *bool
	returnTimeout int // -1: not given
	start         map[string]string
	params        url.Values // the endpoint's own parameters
}

func (q *query) param(name string) string { return q.params.Get(name) }

// boolParam reads an endpoint boolean parameter; malformed values are a 262197 error.
func (q *query) boolParam(name string) (bool, *apiError) {
	v := q.params.Get(name)
	if v == "" {
		return false, nil
	}
	b, ok := parseBool(v)
	if !ok {
		return false, errInvalidValue(name, v, "")
	}
	return b, nil
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// parseQuery validates and parses the query of r for resource res (nil for endpoints without a
// resource, e.g. actions). Unknown parameters are 262179 errors.
func (l *Lab) parseQuery(r *http.Request, res *resource) (*query, *apiError) {
	raw, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errBadRequest(CodeInvalidValue, "", "Invalid query string: %v", err)
	}
	q := &query{maxRecords: -1, returnTimeout: -1, start: map[string]string{}, params: url.Values{}}
	known := map[string]bool{}
	if res != nil {
		known = l.knownFields(res.kind)
	}
	own := map[string]bool{}
	if res != nil {
		for _, p := range res.params {
			own[p] = true
		}
	}
	for _, key := range sortedKeys(raw) {
		vals := raw[key]
		val := vals[len(vals)-1]
		switch {
		case key == "fields":
			if res == nil {
				return nil, errUnexpectedArg(key)
			}
			sel, aerr := parseFields(strings.Join(vals, ","), known)
			if aerr != nil {
				return nil, aerr
			}
			q.fields = sel
		case key == "max_records":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return nil, errInvalidValue(key, val, "")
			}
			q.maxRecords = n
		case key == "order_by":
			ob, aerr := parseOrderBy(vals, known)
			if aerr != nil {
				return nil, aerr
			}
			q.orderBy = ob
		case key == "return_records":
			b, ok := parseBool(val)
			if !ok {
				return nil, errInvalidValue(key, val, "")
			}
			q.returnRecords = &b
		case key == "return_timeout":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 || n > 120 {
				return nil, errInvalidValue(key, val, "<0..120>")
			}
			q.returnTimeout = n
		case key == "pretty":
			if _, ok := parseBool(val); !ok {
				return nil, errInvalidValue(key, val, "")
			}
		case own[key]:
			q.params[key] = vals
		case strings.HasPrefix(key, "start.") && res != nil && known[strings.TrimPrefix(key, "start.")]:
			q.start[strings.TrimPrefix(key, "start.")] = val
		case res != nil && known[key]:
			for _, v := range vals {
				q.filters = append(q.filters, parseFilter(key, v))
			}
		default:
			return nil, errUnexpectedArg(key)
		}
	}
	return q, nil
}

// parseFields parses fields=a,b.c,!d,*,**.
func parseFields(s string, known map[string]bool) (*fieldSel, *apiError) {
	sel := &fieldSel{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		switch f {
		case "*":
			sel.standard = true
			continue
		case "**":
			sel.standard, sel.expensive = true, true
			continue
		}
		neg := strings.HasPrefix(f, "!")
		name := strings.TrimSuffix(strings.TrimPrefix(f, "!"), ".*")
		if !known[name] {
			return nil, errInvalidValue("fields", strings.TrimPrefix(f, "!"), "<field,...>")
		}
		if neg {
			sel.exclude = append(sel.exclude, name)
		} else {
			sel.include = append(sel.include, name)
		}
	}
	return sel, nil
}

func parseOrderBy(vals []string, known map[string]bool) ([]orderKey, *apiError) {
	var out []orderKey
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			fs := strings.Fields(part)
			k := orderKey{path: fs[0]}
			if !known[k.path] {
				return nil, errInvalidValue("order_by", part, "")
			}
			if len(fs) > 2 {
				return nil, errInvalidValue("order_by", part, "")
			}
			if len(fs) == 2 {
				switch strings.ToLower(fs[1]) {
				case "asc":
				case "desc":
					k.desc = true
				default:
					return nil, errInvalidValue("order_by", part, "")
				}
			}
			out = append(out, k)
		}
	}
	return out, nil
}

// filter is one <field>=<query>: an OR of terms.
type filter struct {
	path  string
	terms []term
}

type term struct {
	neg  bool
	op   string // "=", "glob", "<", ">", "<=", ">=", "range", "null"
	a, b string
}

// parseFilter parses a filter query: terms separated by "|", each optionally negated with "!",
// then "null", a comparison ("<x", ">=x"), a range "a..b", a wildcard pattern, or a literal.
// "..." and {...} quote a literal.
func parseFilter(path, q string) filter {
	f := filter{path: path}
	for _, part := range splitUnquoted(q, '|') {
		t := term{op: "="}
		if strings.HasPrefix(part, "!") {
			t.neg = true
			part = part[1:]
		}
		switch {
		case isQuoted(part):
			t.a = part[1 : len(part)-1]
		case part == "null":
			t.op = "null"
		case strings.HasPrefix(part, "<="), strings.HasPrefix(part, ">="):
			t.op, t.a = part[:2], part[2:]
		case strings.HasPrefix(part, "<"), strings.HasPrefix(part, ">"):
			t.op, t.a = part[:1], part[1:]
		case strings.Contains(part, ".."):
			i := strings.Index(part, "..")
			t.op, t.a, t.b = "range", part[:i], part[i+2:]
		case strings.Contains(part, "*"):
			t.op, t.a = "glob", part
		default:
			t.a = part
		}
		f.terms = append(f.terms, t)
	}
	return f
}

func isQuoted(s string) bool {
	return len(s) >= 2 && ((s[0] == '"' && s[len(s)-1] == '"') || (s[0] == '{' && s[len(s)-1] == '}'))
}

// splitUnquoted splits s at sep outside "..." and {...}.
func splitUnquoted(s string, sep byte) []string {
	var out []string
	depth, inQuote, startIdx := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			inQuote = !inQuote
		case c == '{' && !inQuote:
			depth++
		case c == '}' && !inQuote && depth > 0:
			depth--
		case c == sep && !inQuote && depth == 0:
			out = append(out, s[startIdx:i])
			startIdx = i + 1
		}
	}
	return append(out, s[startIdx:])
}

// matches reports whether rec satisfies every filter.
func matches(rec record, filters []filter) bool {
	for _, f := range filters {
		vals := lookup(rec, f.path)
		ok := false
		for _, t := range f.terms {
			if t.match(vals) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (t term) match(vals []any) bool {
	if t.op == "null" {
		return (len(vals) == 0) != t.neg
	}
	if len(vals) == 0 {
		return false
	}
	for _, v := range vals {
		if t.matchOne(v) != t.neg {
			return true
		}
	}
	return false
}

func (t term) matchOne(v any) bool {
	s := scalarString(v)
	switch t.op {
	case "=":
		return compareValues(s, t.a) == 0
	case "glob":
		return globMatch(t.a, s)
	case "<":
		return compareValues(s, t.a) < 0
	case ">":
		return compareValues(s, t.a) > 0
	case "<=":
		return compareValues(s, t.a) <= 0
	case ">=":
		return compareValues(s, t.a) >= 0
	case "range":
		return compareValues(s, t.a) >= 0 && compareValues(s, t.b) <= 0
	}
	return false
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return ""
	}
	return ""
}

// compareValues orders two scalar strings: numerically when both are numbers, as ISO 8601
// durations or date-times when both parse as such, else as strings (enums compare
// alphabetically).
func compareValues(a, b string) int {
	if x, err := strconv.ParseFloat(a, 64); err == nil {
		if y, err := strconv.ParseFloat(b, 64); err == nil {
			return cmp3(x < y, x > y)
		}
	}
	if x, ok := parseISODuration(a); ok {
		if y, ok := parseISODuration(b); ok {
			return cmp3(x < y, x > y)
		}
	}
	if x, err := time.Parse(time.RFC3339, a); err == nil {
		if y, err := time.Parse(time.RFC3339, b); err == nil {
			return cmp3(x.Before(y), x.After(y))
		}
	}
	if strings.EqualFold(a, b) && (strings.EqualFold(a, "true") || strings.EqualFold(a, "false")) {
		return 0
	}
	return strings.Compare(a, b)
}

func cmp3(less, more bool) int {
	switch {
	case less:
		return -1
	case more:
		return 1
	}
	return 0
}

// globMatch matches s against a pattern where "*" is any run of characters.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// lookup returns the scalar values at a dotted path, fanning out through arrays.
func lookup(v any, path string) []any {
	var out []any
	var walk func(v any, parts []string)
	walk = func(v any, parts []string) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e, parts)
			}
			return
		case []string:
			for _, e := range x {
				walk(e, parts)
			}
			return
		case record:
			if len(parts) == 0 {
				return
			}
			if c, ok := x[parts[0]]; ok {
				walk(c, parts[1:])
			}
			return
		}
		if len(parts) == 0 && v != nil {
			out = append(out, v)
		}
	}
	walk(v, strings.Split(path, "."))
	return out
}

// sortRecords orders records by order_by keys, then by the resource's key fields.
func sortRecords(recs []record, keys []orderKey, res *resource) {
	all := append([]orderKey(nil), keys...)
	for _, k := range res.keys {
		all = append(all, orderKey{path: k})
	}
	sort.SliceStable(recs, func(i, j int) bool {
		for _, k := range all {
			a, b := first(lookup(recs[i], k.path)), first(lookup(recs[j], k.path))
			c := compareValues(a, b)
			if c == 0 {
				continue
			}
			if k.desc {
				return c > 0
			}
			return c < 0
		}
		return false
	})
}

func first(vals []any) string {
	if len(vals) == 0 {
		return ""
	}
	return scalarString(vals[0])
}

// project keeps the selected fields of rec. A nil sel selects the key fields only (the
// collection default); instance GETs pass standardFields.
func project(rec record, sel *fieldSel, res *resource, expensive []string) record {
	var out record
	switch {
	case sel != nil && sel.expensive:
		out = deepCopy(rec).(record)
	case sel != nil && sel.standard:
		out = deepCopy(rec).(record)
		for _, p := range expensive {
			removePath(out, strings.Split(strings.TrimSuffix(p, ".*"), "."))
		}
	default:
		out = record{}
	}
	if sel != nil {
		for _, p := range sel.include {
			mergeInto(out, pick(rec, strings.Split(p, ".")))
		}
	}
	for _, k := range res.keys {
		mergeInto(out, pick(rec, strings.Split(k, ".")))
	}
	if l, ok := rec["_links"]; ok {
		out["_links"] = deepCopy(l)
	}
	if sel != nil {
		for _, p := range sel.exclude {
			removePath(out, strings.Split(p, "."))
		}
	}
	return out
}

var standardFields = &fieldSel{standard: true}

// pick returns the subtree of v along parts (fanning out through arrays), or nil.
func pick(v any, parts []string) any {
	if len(parts) == 0 {
		return deepCopy(v)
	}
	switch x := v.(type) {
	case record:
		c, ok := x[parts[0]]
		if !ok {
			return nil
		}
		sub := pick(c, parts[1:])
		if sub == nil {
			return nil
		}
		out := record{parts[0]: sub}
		if l, ok := x["_links"]; ok && len(parts) > 1 {
			out["_links"] = deepCopy(l)
		}
		return out
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if s := pick(e, parts); s != nil {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// mergeInto merges src (a picked subtree) into dst.
func mergeInto(dst record, src any) {
	s, ok := src.(record)
	if !ok {
		return
	}
	for k, v := range s {
		cur, exists := dst[k]
		if !exists {
			dst[k] = v
			continue
		}
		switch cv := cur.(type) {
		case record:
			mergeInto(cv, v)
		case []any:
			if nv, ok := v.([]any); ok && len(nv) == len(cv) {
				for i := range cv {
					if cr, ok := cv[i].(record); ok {
						mergeInto(cr, nv[i])
					}
				}
			}
		default:
			dst[k] = v
		}
	}
}

func removePath(v any, parts []string) {
	if len(parts) == 0 {
		return
	}
	switch x := v.(type) {
	case record:
		if len(parts) == 1 {
			delete(x, parts[0])
			return
		}
		if c, ok := x[parts[0]]; ok {
			removePath(c, parts[1:])
			if cr, ok := c.(record); ok && len(cr) == 0 {
				delete(x, parts[0])
			}
		}
	case []any:
		for _, e := range x {
			removePath(e, parts)
		}
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case record:
		out := make(record, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	}
	return v
}

// stripLinks removes every "_links" key (Accept: application/json).
func stripLinks(v any) {
	switch x := v.(type) {
	case record:
		delete(x, "_links")
		for _, e := range x {
			stripLinks(e)
		}
	case []any:
		for _, e := range x {
			stripLinks(e)
		}
	}
}
