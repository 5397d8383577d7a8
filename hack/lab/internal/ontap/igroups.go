package ontap

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// /api/protocols/san/igroups and their initiators (docs/ontap-api.md §11). Synchronous.

func (c *Cluster) renderIgroup(g *igroup) record {
	inits := make([]any, 0, len(g.initiators))
	for _, n := range g.initiators {
		inits = append(inits, record{"name": n})
	}
	maps := c.mapsOf(nil, g)
	lm := make([]any, 0, len(maps))
	for _, m := range maps {
		lm = append(lm, record{"logical_unit_number": m.id, "lun": record{
			"name": m.lun.name(), "uuid": m.lun.uuid, "_links": selfLink("/api/storage/luns/" + m.lun.uuid),
		}})
	}
	r := record{
		"uuid":            g.uuid,
		"name":            g.name,
		"svm":             c.svmRef(),
		"protocol":        g.protocol,
		"os_type":         g.osType,
		"initiators":      inits,
		"lun_maps":        lm,
		"delete_on_unmap": false,
		"_links":          selfLink("/api/protocols/san/igroups/" + g.uuid),
	}
	if g.comment != "" {
		r["comment"] = g.comment
	}
	return r
}

func (c *Cluster) getIgroups(rc *reqCtx, _ []string) *apiError {
	c.lab.mu.RLock()
	recs := make([]record, 0, len(c.igroups))
	for _, g := range c.igroups {
		recs = append(recs, c.renderIgroup(g))
	}
	c.lab.mu.RUnlock()
	return rc.list(igroupResource, recs)
}

func (c *Cluster) getIgroup(rc *reqCtx, args []string) *apiError {
	c.lab.mu.RLock()
	g := c.igroups[args[0]]
	var rec record
	if g != nil {
		rec = c.renderIgroup(g)
	}
	c.lab.mu.RUnlock()
	if rec == nil {
		return errNotFound("uuid")
	}
	return rc.instance(igroupResource, rec)
}

var (
	wwpnRE = regexp.MustCompile(`^([0-9a-fA-F]{2}:){7}[0-9a-fA-F]{2}$`)
	iqnRE  = regexp.MustCompile(`^iqn\.\d{4}-\d{2}\.[^\s:]+(:[^\s]+)?$`)
	euiRE  = regexp.MustCompile(`^eui\.[0-9a-fA-F]{16}$`)
)

// checkInitiator validates an initiator name's format.
func checkInitiator(name string) *apiError {
	switch {
	case len(name) > 223:
		return errBadRequest(5373992, "initiators.name", "A supplied initiator name was too long to be valid.")
	case strings.HasPrefix(name, "iqn."):
		if !iqnRE.MatchString(name) {
			return errBadRequest(CodeIgroupBadIQN, "initiators.name", "An invalid iSCSI initiator name %q was supplied.", name)
		}
	case strings.HasPrefix(name, "eui."):
		if !euiRE.MatchString(name) {
			return errBadRequest(5373978, "initiators.name", "The EUI initiator %q has an invalid format.", name)
		}
	case strings.Contains(name, ":"):
		if !wwpnRE.MatchString(name) {
			return errBadRequest(CodeIgroupBadWWPN, "initiators.name", "An invalid Fibre Channel WWPN %q was supplied.", name)
		}
	default:
		return errBadRequest(CodeIgroupBadInitiator, "initiators.name", "The initiator name %q did not match any valid format.", name)
	}
	return nil
}

var igroupNameRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,96}$`)

func (c *Cluster) postIgroup(rc *reqCtx, _ []string) *apiError {
	if err := rc.checkBody("igroup", "uuid", "lun_maps"); err != nil {
		return err
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
	if !igroupNameRE.MatchString(name) {
		return errBadRequest(CodeIgroupInvalidName, "name", "An invalid initiator group name %q was supplied.", name)
	}
	osType, ok, err := rc.str("os_type")
	if err != nil {
		return err
	}
	if !ok {
		return errMissing("os_type")
	}
	if !osTypes[osType] || osType == "solaris_efi" || strings.HasPrefix(osType, "windows_") {
		return errInvalidValue("os_type", osType, "")
	}
	protocol, ok, err := rc.str("protocol")
	if err != nil {
		return err
	}
	if !ok {
		protocol = "mixed"
	}
	if protocol != "fcp" && protocol != "iscsi" && protocol != "mixed" {
		return errInvalidValue("protocol", protocol, "")
	}
	comment, _, err := rc.str("comment")
	if err != nil {
		return err
	}
	inits, err := rc.initiatorNames("initiators")
	if err != nil {
		return err
	}
	l := c.lab
	l.mu.Lock()
	if c.igroupByName(name) != nil {
		l.mu.Unlock()
		return errorf(http.StatusConflict, CodeIgroupExists, "name", "An initiator group with the name %q already exists.", name)
	}
	if aerr := c.checkOSConflict(inits, osType, nil, 5374732); aerr != nil {
		l.mu.Unlock()
		return aerr
	}
	g := &igroup{uuid: c.newUUID("igroup"), name: name, protocol: protocol, osType: osType, comment: comment, initiators: inits}
	c.igroups[g.uuid] = g
	rec := c.renderIgroup(g)
	l.mu.Unlock()
	return rc.created("/api/protocols/san/igroups/"+g.uuid, rec)
}

// initiatorNames reads [{"name":...}] at path and validates every name.
func (rc *reqCtx) initiatorNames(path string) ([]string, *apiError) {
	raw, ok := rc.raw(path)
	if !ok || raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, errTypeMismatch(path, "array")
	}
	var out []string
	seen := map[string]bool{}
	for _, e := range list {
		m, ok := e.(record)
		if !ok {
			return nil, errTypeMismatch(path, "array of objects")
		}
		n, ok := m["name"].(string)
		if !ok {
			return nil, errMissing(path + ".name")
		}
		if err := checkInitiator(n); err != nil {
			return nil, err
		}
		if seen[strings.ToLower(n)] {
			return nil, errBadRequest(CodeIgroupInitiatorExists, path+".name", "Initiator %q is listed twice.", n)
		}
		seen[strings.ToLower(n)] = true
		out = append(out, strings.ToLower(n))
	}
	return out, nil
}

// checkOSConflict refuses initiators that are already in another igroup with another os_type.
// Callers hold l.mu.
func (c *Cluster) checkOSConflict(inits []string, osType string, self *igroup, code int) *apiError {
	for _, g := range c.igroups {
		if g == self || g.osType == osType {
			continue
		}
		for _, have := range g.initiators {
			for _, n := range inits {
				if have == n {
					return errBadRequest(code, "initiators", "Initiator %q is already in initiator group %q with a conflicting operating system type.", n, g.name)
				}
			}
		}
	}
	return nil
}

func (c *Cluster) patchIgroup(rc *reqCtx, args []string) *apiError {
	if err := rc.checkBody("igroup", "uuid", "lun_maps", "initiators"); err != nil {
		return err
	}
	name, hasName, err := rc.str("name")
	if err != nil {
		return err
	}
	if hasName && !igroupNameRE.MatchString(name) {
		return errBadRequest(CodeIgroupInvalidName, "name", "An invalid initiator group name %q was supplied.", name)
	}
	osType, hasOS, err := rc.str("os_type")
	if err != nil {
		return err
	}
	if hasOS && !osTypes[osType] {
		return errInvalidValue("os_type", osType, "")
	}
	comment, hasComment, err := rc.str("comment")
	if err != nil {
		return err
	}
	if _, ok := rc.raw("protocol"); ok {
		return errBadRequest(CodeIgroupProtocolRO, "protocol", "The protocol of an initiator group cannot be changed.")
	}
	l := c.lab
	l.mu.Lock()
	g := c.igroups[args[0]]
	var aerr *apiError
	switch {
	case g == nil:
		aerr = errNotFound("uuid")
	case hasName && name != g.name && c.igroupByName(name) != nil:
		aerr = errorf(http.StatusConflict, CodeIgroupExists, "name", "An initiator group with the name %q already exists.", name)
	case hasOS:
		aerr = c.checkOSConflict(g.initiators, osType, g, 5374732)
	}
	if aerr == nil {
		if hasName {
			g.name = name
		}
		if hasOS {
			g.osType = osType
		}
		if hasComment {
			g.comment = comment
		}
	}
	l.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	return rc.ok()
}

func (c *Cluster) deleteIgroup(rc *reqCtx, args []string) *apiError {
	allow, err := rc.q.boolParam("allow_delete_while_mapped")
	if err != nil {
		return err
	}
	l := c.lab
	l.mu.Lock()
	g := c.igroups[args[0]]
	var aerr *apiError
	switch {
	case g == nil:
		aerr = errorf(http.StatusNotFound, CodeIgroupNotFound, "uuid", "The initiator group does not exist.")
	case len(c.mapsOf(nil, g)) > 0 && !allow:
		aerr = errBadRequest(CodeIgroupMapped, "", "The initiator group is mapped to one or more LUNs and allow_delete_while_mapped has not been specified.")
	}
	if aerr == nil {
		kept := c.maps[:0]
		for _, m := range c.maps {
			if m.ig != g {
				kept = append(kept, m)
			}
		}
		c.maps = kept
		delete(c.igroups, g.uuid)
	}
	l.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	return rc.ok()
}

func (c *Cluster) renderInitiator(g *igroup, name string) record {
	return record{
		"name":   name,
		"igroup": record{"uuid": g.uuid, "_links": selfLink("/api/protocols/san/igroups/" + g.uuid)},
		"_links": selfLink("/api/protocols/san/igroups/" + g.uuid + "/initiators/" + url.PathEscape(name)),
	}
}

func (c *Cluster) getInitiators(rc *reqCtx, args []string) *apiError {
	c.lab.mu.RLock()
	g := c.igroups[args[0]]
	var recs []record
	if g != nil {
		for _, n := range g.initiators {
			recs = append(recs, c.renderInitiator(g, n))
		}
	}
	c.lab.mu.RUnlock()
	if g == nil {
		return errorf(http.StatusNotFound, CodeIgroupNotFound, "igroup.uuid", "The initiator group specified in the URI does not exist.")
	}
	return rc.list(initiatorResource, recs)
}

func (c *Cluster) getInitiator(rc *reqCtx, args []string) *apiError {
	name, _ := url.PathUnescape(args[1])
	c.lab.mu.RLock()
	g := c.igroups[args[0]]
	var rec record
	if g != nil {
		for _, n := range g.initiators {
			if n == strings.ToLower(name) {
				rec = c.renderInitiator(g, n)
			}
		}
	}
	c.lab.mu.RUnlock()
	if g == nil {
		return errorf(http.StatusNotFound, CodeIgroupNotFound, "igroup.uuid", "The initiator group specified in the URI does not exist.")
	}
	if rec == nil {
		return errNotFound("name")
	}
	return rc.instance(initiatorResource, rec)
}

func (c *Cluster) postInitiators(rc *reqCtx, args []string) *apiError {
	for _, k := range sortedKeys(rc.body) {
		if k != "name" && k != "records" {
			return errUnexpectedArg(k)
		}
	}
	var names []string
	_, hasRecords := rc.body["records"]
	name, hasName, err := rc.str("name")
	if err != nil {
		return err
	}
	switch {
	case hasRecords && hasName:
		return errBadRequest(CodeIgroupRecordsAndName, "records", "You can add initiators using the records property or the name property, but not both.")
	case hasRecords:
		if names, err = rc.initiatorNames("records"); err != nil {
			return err
		}
	case hasName:
		if err := checkInitiator(name); err != nil {
			return err
		}
		names = []string{strings.ToLower(name)}
	}
	if len(names) == 0 {
		return errBadRequest(CodeIgroupNoInitiators, "name", "Initiators must be supplied.")
	}
	l := c.lab
	l.mu.Lock()
	g := c.igroups[args[0]]
	var aerr *apiError
	if g == nil {
		aerr = errorf(http.StatusNotFound, CodeIgroupNotFound, "igroup.uuid", "The initiator group specified in the URI does not exist.")
	} else {
		for _, n := range names {
			for _, have := range g.initiators {
				if have == n {
					aerr = errorf(http.StatusConflict, CodeIgroupInitiatorExists, "name", "Initiator %q is already in the initiator group.", n)
				}
			}
		}
		if aerr == nil {
			aerr = c.checkOSConflict(names, g.osType, g, 5374734)
		}
	}
	if aerr == nil {
		g.initiators = append(g.initiators, names...)
	}
	l.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	return rc.created("/api/protocols/san/igroups/"+g.uuid+"/initiators/"+url.PathEscape(names[0]), nil)
}

func (c *Cluster) deleteInitiator(rc *reqCtx, args []string) *apiError {
	allow, err := rc.q.boolParam("allow_delete_while_mapped")
	if err != nil {
		return err
	}
	name, _ := url.PathUnescape(args[1])
	name = strings.ToLower(name)
	l := c.lab
	l.mu.Lock()
	g := c.igroups[args[0]]
	var aerr *apiError
	idx := -1
	switch {
	case g == nil:
		aerr = errorf(http.StatusNotFound, CodeIgroupNotFound, "igroup.uuid", "The initiator group specified in the URI does not exist.")
	default:
		for i, n := range g.initiators {
			if n == name {
				idx = i
			}
		}
		if idx < 0 {
			aerr = errNotFound("name")
		} else if len(c.mapsOf(nil, g)) > 0 && !allow {
			aerr = errBadRequest(CodeIgroupInitiatorMapped, "", "The initiator group is mapped; specify allow_delete_while_mapped to remove initiator %q.", name)
		}
	}
	if aerr == nil {
		g.initiators = append(g.initiators[:idx:idx], g.initiators[idx+1:]...)
	}
	l.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	return rc.ok()
}
