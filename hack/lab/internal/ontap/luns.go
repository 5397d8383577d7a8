package ontap

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// /api/storage/luns (docs/ontap-api.md §10). Synchronous. Igroups and lun-maps are in
// igroups.go and lunmaps.go.

func (c *Cluster) lunRef(ln *lun) record {
	return ref(ln.name(), ln.uuid, "/api/storage/luns/"+ln.uuid)
}

func (c *Cluster) igroupRef(g *igroup) record {
	return ref(g.name, g.uuid, "/api/protocols/san/igroups/"+g.uuid)
}

// mapsOf returns the maps of a LUN or an igroup (nil matches any). Callers hold l.mu.
func (c *Cluster) mapsOf(ln *lun, g *igroup) []*lunMap {
	var out []*lunMap
	for _, m := range c.maps {
		if (ln == nil || m.lun == ln) && (g == nil || m.ig == g) {
			out = append(out, m)
		}
	}
	return out
}

// lunState is status.state: online when enabled and the volume is online.
func lunState(ln *lun) string {
	if ln.enabled && ln.vol.state == "online" {
		return "online"
	}
	return "offline"
}

func (c *Cluster) renderLUN(ln *lun) record {
	container := "online"
	if ln.vol.state != "online" {
		container = "volume_offline"
	}
	maps := c.mapsOf(ln, nil)
	lm := make([]any, 0, len(maps))
	for _, m := range maps {
		lm = append(lm, record{"logical_unit_number": m.id, "igroup": c.igroupRef(m.ig)})
	}
	r := record{
		"uuid":          ln.uuid,
		"name":          ln.name(),
		"svm":           c.svmRef(),
		"location":      record{"logical_unit": ln.leaf, "volume": c.volumeRef(ln.vol)},
		"os_type":       ln.osType,
		"serial_number": ln.serial,
		"enabled":       ln.enabled,
		"class":         "regular",
		"create_time":   isoTime(ln.createTime),
		"auto_delete":   false,
		"space":         record{"size": ln.size, "used": 0, "guarantee": record{"requested": false, "reserved": false}},
		"status": record{
			"state":           lunState(ln),
			"container_state": container,
			"read_only":       ln.vol.typ != "rw",
			"mapped":          len(maps) > 0,
		},
		"lun_maps": lm,
		"_links":   selfLink("/api/storage/luns/" + ln.uuid),
	}
	if ln.comment != "" {
		r["comment"] = ln.comment
	}
	return r
}

func (c *Cluster) visibleLUN(ln *lun) bool { return ln != nil && !c.creating(ln.vol) }

func (c *Cluster) getLUNs(rc *reqCtx, _ []string) *apiError {
	c.lab.mu.RLock()
	recs := make([]record, 0, len(c.luns))
	for _, ln := range c.luns {
		if c.visibleLUN(ln) {
			recs = append(recs, c.renderLUN(ln))
		}
	}
	c.lab.mu.RUnlock()
	return rc.list(lunResource, recs)
}

func (c *Cluster) getLUN(rc *reqCtx, args []string) *apiError {
	c.lab.mu.RLock()
	ln := c.luns[args[0]]
	var rec record
	if c.visibleLUN(ln) {
		rec = c.renderLUN(ln)
	}
	c.lab.mu.RUnlock()
	if rec == nil {
		return errNotFound("uuid")
	}
	return rc.instance(lunResource, rec)
}

var osTypes = map[string]bool{"aix": true, "hpux": true, "hyper_v": true, "linux": true, "netware": true, "openvms": true,
	"solaris": true, "solaris_efi": true, "vmware": true, "windows": true, "windows_2008": true, "windows_gpt": true, "xen": true}

func (c *Cluster) postLUN(rc *reqCtx, _ []string) *apiError {
	if err := rc.checkBody("lun", "uuid", "serial_number", "status", "class", "create_time", "lun_maps"); err != nil {
		return err
	}
	if err := rc.svmFromBody(true); err != nil {
		return err
	}
	name, hasName, err := rc.str("name")
	if err != nil {
		return err
	}
	volName, _, err := rc.str("location.volume.name")
	if err != nil {
		return err
	}
	leaf, _, err := rc.str("location.logical_unit")
	if err != nil {
		return err
	}
	if hasName {
		parts := strings.Split(strings.TrimPrefix(name, "/vol/"), "/")
		if !strings.HasPrefix(name, "/vol/") || len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			return errInvalidValue("name", name, "")
		}
		if (volName != "" && volName != parts[0]) || (leaf != "" && leaf != parts[1]) {
			return errBadRequest(5374858, "name", "The volume or LUN specified by \"name\" is not the same as that specified by \"location\".")
		}
		volName, leaf = parts[0], parts[1]
	}
	if volName == "" || leaf == "" {
		return errMissing("name")
	}
	osType, ok, err := rc.str("os_type")
	if err != nil {
		return err
	}
	if !ok {
		return errMissing("os_type")
	}
	if !osTypes[osType] {
		return errInvalidValue("os_type", osType, "")
	}
	raw, ok := rc.raw("space.size")
	if !ok {
		return errMissing("space.size")
	}
	size, ok := parseSize(raw)
	if !ok || size < 4096 {
		return errBadRequest(5374130, "space.size", "An invalid size value was provided.")
	}
	comment, _, err := rc.str("comment")
	if err != nil {
		return err
	}
	l := c.lab
	l.mu.Lock()
	v := c.volumeByName(volName)
	var aerr *apiError
	switch {
	case v == nil || c.creating(v):
		aerr = errBadRequest(CodeVolNotFound, "location.volume", "The specified volume was not found.")
	case v.typ != "rw":
		aerr = errBadRequest(CodeLUNReadOnly, "location.volume", "Volume %q is read-only.", volName)
	case v.state != "online":
		aerr = errBadRequest(CodeLUNVolumeOffline, "location.volume", "The LUN's volume is offline.")
	case v.luns[leaf] != nil:
		aerr = errorf(http.StatusConflict, CodeLUNExists, "name", "A LUN named %q already exists.", "/vol/"+volName+"/"+leaf)
	}
	if aerr != nil {
		l.mu.Unlock()
		return aerr
	}
	ln := c.addLUN(v, leaf, size, osType, "", l.clk.Now())
	ln.comment = comment
	v.san = true
	rec := c.renderLUN(ln)
	l.mu.Unlock()
	if err := os.MkdirAll(filepath.Join(v.dir, leaf), 0o755); err != nil {
		return errorf(http.StatusInternalServerError, CodeInternal, "", "Failed to create the LUN: %v", err)
	}
	return rc.created("/api/storage/luns/"+ln.uuid, rec)
}

func (c *Cluster) patchLUN(rc *reqCtx, args []string) *apiError {
	if err := rc.checkBody("lun", "uuid", "serial_number", "status", "class", "create_time", "lun_maps"); err != nil {
		return err
	}
	enabled, hasEnabled, err := rc.boolean("enabled")
	if err != nil {
		return err
	}
	comment, hasComment, err := rc.str("comment")
	if err != nil {
		return err
	}
	var size int64
	raw, hasSize := rc.raw("space.size")
	if hasSize {
		n, ok := parseSize(raw)
		if !ok {
			return errBadRequest(5374130, "space.size", "An invalid size value was provided.")
		}
		size = n
	}
	for _, f := range []string{"name", "location", "os_type"} {
		if _, ok := rc.raw(f); ok {
			return errBadRequest(CodeInvalidContext, f, "Field %q cannot be modified.", f)
		}
	}
	l := c.lab
	l.mu.Lock()
	ln := c.luns[args[0]]
	var aerr *apiError
	switch {
	case !c.visibleLUN(ln):
		aerr = errNotFound("uuid")
	case ln.vol.state != "online":
		aerr = errBadRequest(CodeLUNVolumeOffline, "", "The LUN's volume is offline. The volume must be online to modify or remove the LUN.")
	case hasSize && size < ln.size:
		aerr = errBadRequest(5374892, "space.size", "An attempt was made to reduce the size of a LUN.")
	}
	if aerr == nil {
		if hasEnabled {
			ln.enabled = enabled
		}
		if hasComment {
			ln.comment = comment
		}
		if hasSize {
			ln.size = size
		}
	}
	l.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	return rc.ok()
}

func (c *Cluster) deleteLUN(rc *reqCtx, args []string) *apiError {
	allow, err := rc.q.boolParam("allow_delete_while_mapped")
	if err != nil {
		return err
	}
	l := c.lab
	l.mu.Lock()
	ln := c.luns[args[0]]
	var aerr *apiError
	switch {
	case !c.visibleLUN(ln):
		aerr = errNotFound("uuid")
	case ln.vol.typ != "rw":
		aerr = errBadRequest(CodeLUNReadOnly, "", "LUN %q is on a read-only volume.", ln.name())
	case ln.vol.state != "online":
		aerr = errBadRequest(CodeLUNVolumeOffline, "", "The LUN's volume is offline. The volume must be online to modify or remove the LUN.")
	case len(c.mapsOf(ln, nil)) > 0 && !allow:
		aerr = errBadRequest(CodeLUNMapped, "", "The LUN is mapped and cannot be deleted without specifying the allow_delete_while_mapped query parameter.")
	}
	var dir string
	if aerr == nil {
		dir = filepath.Join(ln.vol.dir, ln.leaf)
		c.removeLUN(ln)
	}
	l.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	_ = os.RemoveAll(dir)
	return rc.ok()
}
