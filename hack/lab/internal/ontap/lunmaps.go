package ontap

import (
	"net/http"
	"sort"
	"strconv"

	"vmdr.local/lab/internal/topology"
)

// /api/protocols/san/lun-maps (docs/ontap-api.md §12). Synchronous.

func (c *Cluster) renderLUNMap(m *lunMap) record {
	inits := make([]any, 0, len(m.ig.initiators))
	for _, n := range m.ig.initiators {
		inits = append(inits, n)
	}
	ig := c.igroupRef(m.ig)
	ig["os_type"], ig["protocol"], ig["initiators"] = m.ig.osType, m.ig.protocol, inits
	ln := c.lunRef(m.lun)
	ln["node"] = record{"name": c.name + "-01", "uuid": topology.UUIDFor("ontap-node", c.name+"-01")}
	return record{
		"svm":                 c.svmRef(),
		"lun":                 ln,
		"igroup":              ig,
		"logical_unit_number": m.id,
		"_links":              selfLink("/api/protocols/san/lun-maps/" + m.lun.uuid + "/" + m.ig.uuid),
	}
}

func (c *Cluster) getLUNMaps(rc *reqCtx, _ []string) *apiError {
	c.lab.mu.RLock()
	recs := make([]record, 0, len(c.maps))
	for _, m := range c.maps {
		if c.visibleLUN(m.lun) {
			recs = append(recs, c.renderLUNMap(m))
		}
	}
	c.lab.mu.RUnlock()
	return rc.list(lunMapResource, recs)
}

func (c *Cluster) getLUNMap(rc *reqCtx, args []string) *apiError {
	c.lab.mu.RLock()
	var rec record
	for _, m := range c.maps {
		if m.lun.uuid == args[0] && m.ig.uuid == args[1] {
			rec = c.renderLUNMap(m)
		}
	}
	c.lab.mu.RUnlock()
	if rec == nil {
		return errNotFound("lun.uuid")
	}
	return rc.instance(lunMapResource, rec)
}

func (c *Cluster) postLUNMap(rc *reqCtx, _ []string) *apiError {
	if err := rc.checkBody("lunmap", "lun.node"); err != nil {
		return err
	}
	if err := rc.svmFromBody(true); err != nil {
		return err
	}
	lunName, hasLName, err := rc.str("lun.name")
	if err != nil {
		return err
	}
	lunUUID, hasLUUID, err := rc.str("lun.uuid")
	if err != nil {
		return err
	}
	igName, hasIName, err := rc.str("igroup.name")
	if err != nil {
		return err
	}
	igUUID, hasIUUID, err := rc.str("igroup.uuid")
	if err != nil {
		return err
	}
	if !hasLName && !hasLUUID {
		return errBadRequest(CodeLUNMapNoLUN, "lun", "Either lun.uuid or lun.name must be provided to create a LUN map.")
	}
	if !hasIName && !hasIUUID {
		return errBadRequest(CodeLUNMapNoIgroup, "igroup", "Either igroup.uuid or igroup.name must be provided to create a LUN map.")
	}
	id, hasID, err := rc.integer("logical_unit_number")
	if err != nil {
		return err
	}
	if hasID && (id < 0 || id > 4095) {
		return errInvalidValue("logical_unit_number", strconv.FormatInt(id, 10), "<0..4095>")
	}
	l := c.lab
	l.mu.Lock()
	var ln *lun
	for _, x := range c.luns {
		if c.visibleLUN(x) && (!hasLUUID || x.uuid == lunUUID) && (!hasLName || x.name() == lunName) {
			ln = x
		}
	}
	var g *igroup
	for _, x := range c.igroups {
		if (!hasIUUID || x.uuid == igUUID) && (!hasIName || x.name == igName) {
			g = x
		}
	}
	var aerr *apiError
	switch {
	case ln == nil:
		aerr = errorf(http.StatusNotFound, CodeLUNNotFound, "lun", "The specified LUN was not found.")
	case g == nil:
		aerr = errorf(http.StatusNotFound, CodeIgroupNotFound, "igroup", "The initiator group does not exist.")
	case len(c.mapsOf(ln, g)) > 0:
		aerr = errorf(http.StatusConflict, CodeLUNAlreadyMapped, "", "The LUN is already mapped to the same initiator group.")
	}
	var m *lunMap
	if aerr == nil {
		used := map[int]bool{}
		for _, x := range c.mapsOf(nil, g) {
			used[x.id] = true
		}
		if hasID && used[int(id)] {
			aerr = errorf(http.StatusConflict, CodeLUNIDInUse, "logical_unit_number",
				"Logical unit number %d is already in use in initiator group %q.", id, g.name)
		} else {
			n := int(id)
			if !hasID {
				for n = 0; used[n]; n++ {
				}
			}
			m = &lunMap{lun: ln, ig: g, id: n}
			c.maps = append(c.maps, m)
		}
	}
	var rec record
	if m != nil {
		rec = c.renderLUNMap(m)
	}
	l.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	if m != nil {
		c.mutated("MapLun", ln.name()+" "+g.name)
	}
	return rc.created("/api/protocols/san/lun-maps/"+ln.uuid+"/"+g.uuid, rec)
}

func (c *Cluster) deleteLUNMap(rc *reqCtx, args []string) *apiError {
	l := c.lab
	l.mu.Lock()
	var aerr *apiError
	ln, g := c.luns[args[0]], c.igroups[args[1]]
	switch {
	case !c.visibleLUN(ln):
		aerr = errorf(http.StatusNotFound, CodeLUNNotFound, "lun.uuid", "The LUN was not found.")
	case g == nil:
		aerr = errorf(http.StatusNotFound, CodeLUNMapIgroupGone, "igroup.uuid", "The initiator group was not found.")
	case len(c.mapsOf(ln, g)) == 0:
		aerr = errorf(http.StatusNotFound, CodeLUNMapNotFound, "", "The specified LUN map does not exist.")
	default:
		kept := c.maps[:0]
		for _, m := range c.maps {
			if m.lun != ln || m.ig != g {
				kept = append(kept, m)
			}
		}
		c.maps = kept
	}
	l.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	c.mutated("UnmapLun", ln.name()+" "+g.name)
	return rc.ok()
}

// sortedInitiators returns the union of the initiators of the igroups ln is mapped to. Callers
// hold l.mu.
func (c *Cluster) sortedInitiators(ln *lun) []string {
	set := map[string]bool{}
	for _, m := range c.mapsOf(ln, nil) {
		for _, n := range m.ig.initiators {
			set[n] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
