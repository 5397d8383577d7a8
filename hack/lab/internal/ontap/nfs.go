package ontap

import (
	"net"
	"net/http"
	"regexp"
	"strconv"
)

// /api/protocols/nfs/export-policies and their rules (docs/ontap-api.md §13). Synchronous.

var (
	flavors   = map[string]bool{"any": true, "none": true, "never": true, "krb5": true, "krb5i": true, "krb5p": true, "ntlm": true, "sys": true}
	protocols = map[string]bool{"any": true, "nfs": true, "nfs3": true, "nfs4": true, "cifs": true, "flexcache": true}
	hostRE    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,253}[A-Za-z0-9])?$`)
	policyRE  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,256}$`)
)

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func renderRule(p *exportPolicy, r *exportRule, links bool) record {
	clients := make([]any, 0, len(r.clients))
	for _, m := range r.clients {
		clients = append(clients, record{"match": m})
	}
	rec := record{
		"index":          r.index,
		"clients":        clients,
		"ro_rule":        toAny(r.ro),
		"rw_rule":        toAny(r.rw),
		"superuser":      toAny(r.su),
		"protocols":      toAny(r.protocols),
		"anonymous_user": r.anon,
	}
	if links {
		rec["_links"] = selfLink("/api/protocols/nfs/export-policies/" + strconv.FormatInt(p.id, 10) + "/rules/" + strconv.Itoa(r.index))
	}
	return rec
}

func (c *Cluster) renderExportPolicy(p *exportPolicy) record {
	rules := make([]any, 0, len(p.rules))
	for _, r := range p.rules {
		rules = append(rules, renderRule(p, r, false))
	}
	return record{
		"id":     p.id,
		"name":   p.name,
		"svm":    c.svmRef(),
		"rules":  rules,
		"_links": selfLink("/api/protocols/nfs/export-policies/" + strconv.FormatInt(p.id, 10)),
	}
}

func (c *Cluster) policyByID(s string) *exportPolicy {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil
	}
	return c.policies[id]
}

func (c *Cluster) getExportPolicies(rc *reqCtx, _ []string) *apiError {
	c.lab.mu.RLock()
	recs := make([]record, 0, len(c.policies))
	for _, p := range c.policies {
		recs = append(recs, c.renderExportPolicy(p))
	}
	c.lab.mu.RUnlock()
	return rc.list(exportPolResource, recs)
}

func (c *Cluster) getExportPolicy(rc *reqCtx, args []string) *apiError {
	c.lab.mu.RLock()
	p := c.policyByID(args[0])
	var rec record
	if p != nil {
		rec = c.renderExportPolicy(p)
	}
	c.lab.mu.RUnlock()
	if rec == nil {
		return errNotFound("id")
	}
	return rc.instance(exportPolResource, rec)
}

// parseRule reads an export rule from a body object; partial allows missing required fields
// (PATCH).
func parseRule(m record, prefix string, partial bool) (*exportRule, map[string]bool, *apiError) {
	r := &exportRule{}
	set := map[string]bool{}
	field := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	strList := func(k string, enum map[string]bool) ([]string, bool, *apiError) {
		raw, ok := m[k]
		if !ok || raw == nil {
			return nil, false, nil
		}
		var list []any
		switch x := raw.(type) {
		case []any:
			list = x
		case string:
			list = []any{x}
		default:
			return nil, false, errTypeMismatch(field(k), "array of strings")
		}
		out := make([]string, 0, len(list))
		for _, e := range list {
			s, ok := e.(string)
			if !ok {
				return nil, false, errTypeMismatch(field(k), "array of strings")
			}
			if enum != nil && !enum[s] {
				return nil, false, errInvalidValue(field(k), s, "")
			}
			out = append(out, s)
		}
		return out, true, nil
	}
	for k := range m {
		switch k {
		case "clients", "ro_rule", "rw_rule", "superuser", "protocols", "anonymous_user", "index", "_links":
		default:
			return nil, nil, errUnexpectedArg(field(k))
		}
	}
	if raw, ok := m["clients"]; ok && raw != nil {
		list, ok := raw.([]any)
		if !ok {
			return nil, nil, errTypeMismatch(field("clients"), "array of objects")
		}
		for _, e := range list {
			cm, ok := e.(record)
			if !ok {
				return nil, nil, errTypeMismatch(field("clients"), "array of objects")
			}
			for k := range cm {
				if k != "match" {
					return nil, nil, errUnexpectedArg(field("clients." + k))
				}
			}
			match, ok := cm["match"].(string)
			if !ok {
				return nil, nil, errMissing(field("clients.match"))
			}
			if !validClientMatch(match) {
				return nil, nil, errBadRequest(CodeExportClientInvalid, field("clients.match"), "Invalid clientmatch %q.", match)
			}
			r.clients = append(r.clients, match)
		}
		set["clients"] = true
	}
	var err *apiError
	var ok bool
	if r.ro, ok, err = strList("ro_rule", flavors); err != nil {
		return nil, nil, err
	} else if ok {
		set["ro_rule"] = true
	}
	if r.rw, ok, err = strList("rw_rule", flavors); err != nil {
		return nil, nil, err
	} else if ok {
		set["rw_rule"] = true
	}
	if r.su, ok, err = strList("superuser", flavors); err != nil {
		return nil, nil, err
	} else if ok {
		set["superuser"] = true
	}
	if r.protocols, ok, err = strList("protocols", protocols); err != nil {
		return nil, nil, err
	} else if ok {
		set["protocols"] = true
	}
	if raw, ok := m["anonymous_user"]; ok && raw != nil {
		switch x := raw.(type) {
		case string:
			r.anon = x
		case float64:
			r.anon = strconv.FormatInt(int64(x), 10)
		default:
			return nil, nil, errTypeMismatch(field("anonymous_user"), "string")
		}
		set["anonymous_user"] = true
	}
	if !partial {
		switch {
		case !set["clients"] || len(r.clients) == 0:
			return nil, nil, errMissing(field("clients.match"))
		case !set["ro_rule"]:
			return nil, nil, errMissing(field("ro_rule"))
		case !set["rw_rule"]:
			return nil, nil, errMissing(field("rw_rule"))
		}
		if !set["protocols"] {
			r.protocols = []string{"any"}
		}
		if !set["superuser"] {
			r.su = []string{"any"}
		}
		if !set["anonymous_user"] {
			r.anon = "65534"
		}
	}
	return r, set, nil
}

func validClientMatch(s string) bool {
	if _, _, err := net.ParseCIDR(s); err == nil {
		return true
	}
	if net.ParseIP(s) != nil {
		return true
	}
	if len(s) > 1 && s[0] == '@' {
		return hostRE.MatchString(s[1:])
	}
	return hostRE.MatchString(s)
}

func (c *Cluster) postExportPolicy(rc *reqCtx, _ []string) *apiError {
	for _, k := range sortedKeys(rc.body) {
		if k != "name" && k != "svm" && k != "rules" {
			return errUnexpectedArg(k)
		}
	}
	if err := rc.svmFromBody(true); err != nil {
		return err
	}
	name, ok, err := rc.str("name")
	if err != nil {
		return err
	}
	if !ok {
		return errMissing("name")
	}
	if !policyRE.MatchString(name) {
		return errBadRequest(CodeExportPolicyBadName, "name", "Invalid ruleset name %q provided. No spaces allowed in a ruleset name.", name)
	}
	rules, err := rc.rulesFromBody()
	if err != nil {
		return err
	}
	l := c.lab
	l.mu.Lock()
	if c.policyByName(name) != nil {
		l.mu.Unlock()
		return errorf(http.StatusConflict, CodeExportPolicyDuplicate, "name", "Export policy %q already exists.", name)
	}
	p := c.addExportPolicy(name)
	for _, r := range rules {
		p.nextIndex++
		r.index = p.nextIndex
		p.rules = append(p.rules, r)
	}
	rec := c.renderExportPolicy(p)
	l.mu.Unlock()
	return rc.created("/api/protocols/nfs/export-policies/"+strconv.FormatInt(p.id, 10), rec)
}

func (rc *reqCtx) rulesFromBody() ([]*exportRule, *apiError) {
	raw, ok := rc.raw("rules")
	if !ok || raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, errTypeMismatch("rules", "array of objects")
	}
	var out []*exportRule
	for _, e := range list {
		m, ok := e.(record)
		if !ok {
			return nil, errTypeMismatch("rules", "array of objects")
		}
		r, _, err := parseRule(m, "rules", false)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (c *Cluster) patchExportPolicy(rc *reqCtx, args []string) *apiError {
	for _, k := range sortedKeys(rc.body) {
		if k != "name" && k != "rules" {
			return errUnexpectedArg(k)
		}
	}
	name, hasName, err := rc.str("name")
	if err != nil {
		return err
	}
	if hasName && !policyRE.MatchString(name) {
		return errBadRequest(CodeExportPolicyBadName, "name", "Invalid ruleset name %q provided. No spaces allowed in a ruleset name.", name)
	}
	_, hasRules := rc.raw("rules")
	rules, err := rc.rulesFromBody()
	if err != nil {
		return err
	}
	l := c.lab
	l.mu.Lock()
	p := c.policyByID(args[0])
	var aerr *apiError
	switch {
	case p == nil:
		aerr = errorf(http.StatusNotFound, CodeExportPolicyNotFound, "id", "Export policy does not exist.")
	case hasName && p.name == "default" && name != "default":
		aerr = errBadRequest(CodeExportPolicyDefault, "name", "Cannot rename the default ruleset.")
	case hasName && name != p.name && c.policyByName(name) != nil:
		aerr = errorf(http.StatusConflict, CodeExportPolicyDuplicate, "name", "Export policy %q already exists.", name)
	}
	if aerr == nil {
		if hasName {
			p.name = name
		}
		if hasRules {
			p.rules, p.nextIndex = nil, 0
			for _, r := range rules {
				p.nextIndex++
				r.index = p.nextIndex
				p.rules = append(p.rules, r)
			}
		}
	}
	l.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	return rc.ok()
}

func (c *Cluster) deleteExportPolicy(rc *reqCtx, args []string) *apiError {
	l := c.lab
	l.mu.Lock()
	p := c.policyByID(args[0])
	var aerr *apiError
	switch {
	case p == nil:
		aerr = errorf(http.StatusNotFound, CodeExportPolicyNotFound, "id", "Export policy does not exist.")
	case p.name == "default":
		aerr = errBadRequest(CodeExportPolicyDefault, "", "Cannot delete default ruleset. This ruleset will be deleted when the owning Vserver is deleted.")
	default:
		for _, v := range c.vols {
			if v.policy == p {
				aerr = errorf(http.StatusConflict, CodeExportPolicyInUse, "",
					"Ruleset is in use by volume %q. It cannot be deleted until all volumes that refer to it are first deleted.", v.name)
			}
		}
	}
	if aerr == nil {
		delete(c.policies, p.id)
	}
	l.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	return rc.ok()
}

func (c *Cluster) getExportRules(rc *reqCtx, args []string) *apiError {
	c.lab.mu.RLock()
	p := c.policyByID(args[0])
	var recs []record
	if p != nil {
		for _, r := range p.rules {
			recs = append(recs, renderRule(p, r, true))
		}
	}
	c.lab.mu.RUnlock()
	if p == nil {
		return errorf(http.StatusNotFound, CodeExportPolicyNotFound, "policy.id", "Export policy does not exist.")
	}
	return rc.list(exportRuleRes, recs)
}

func (c *Cluster) findRule(args []string) (*exportPolicy, *exportRule, *apiError) {
	p := c.policyByID(args[0])
	if p == nil {
		return nil, nil, errorf(http.StatusNotFound, CodeExportPolicyNotFound, "policy.id", "Export policy does not exist.")
	}
	idx, err := strconv.Atoi(args[1])
	if err == nil {
		for _, r := range p.rules {
			if r.index == idx {
				return p, r, nil
			}
		}
	}
	return p, nil, errorf(http.StatusNotFound, CodeExportRuleNotFound, "index", "Export rule %q does not exist.", args[1])
}

func (c *Cluster) getExportRule(rc *reqCtx, args []string) *apiError {
	c.lab.mu.RLock()
	p, r, aerr := c.findRule(args)
	var rec record
	if aerr == nil {
		rec = renderRule(p, r, true)
	}
	c.lab.mu.RUnlock()
	if aerr != nil {
		return aerr
	}
	return rc.instance(exportRuleRes, rec)
}

func (c *Cluster) postExportRule(rc *reqCtx, args []string) *apiError {
	r, _, err := parseRule(rc.body, "", false)
	if err != nil {
		return err
	}
	l := c.lab
	l.mu.Lock()
	p := c.policyByID(args[0])
	var aerr *apiError
	if p == nil {
		aerr = errorf(http.StatusNotFound, CodeExportPolicyNotFound, "policy.id", "Export policy does not exist.")
	} else {
		for _, o := range p.rules {
			if sameStrings(o.clients, r.clients) {
				aerr = errorf(http.StatusConflict, CodeExportRuleExists, "clients", "An export rule for these clients already exists (index %d).", o.index)
			}
		}
	}
	var rec record
	if aerr == nil {
		p.nextIndex++
		r.index = p.nextIndex
		p.rules = append(p.rules, r)
		rec = renderRule(p, r, true)
	}
	l.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	return rc.created("/api/protocols/nfs/export-policies/"+args[0]+"/rules/"+strconv.Itoa(r.index), rec)
}

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

func (c *Cluster) patchExportRule(rc *reqCtx, args []string) *apiError {
	upd, set, err := parseRule(rc.body, "", true)
	if err != nil {
		return err
	}
	l := c.lab
	l.mu.Lock()
	_, r, aerr := c.findRule(args)
	if aerr == nil {
		if set["clients"] {
			r.clients = upd.clients
		}
		if set["ro_rule"] {
			r.ro = upd.ro
		}
		if set["rw_rule"] {
			r.rw = upd.rw
		}
		if set["superuser"] {
			r.su = upd.su
		}
		if set["protocols"] {
			r.protocols = upd.protocols
		}
		if set["anonymous_user"] {
			r.anon = upd.anon
		}
	}
	l.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	return rc.ok()
}

func (c *Cluster) deleteExportRule(rc *reqCtx, args []string) *apiError {
	l := c.lab
	l.mu.Lock()
	p, r, aerr := c.findRule(args)
	if aerr == nil {
		kept := p.rules[:0]
		for _, x := range p.rules {
			if x != r {
				kept = append(kept, x)
			}
		}
		p.rules = kept
	}
	l.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	return rc.ok()
}
