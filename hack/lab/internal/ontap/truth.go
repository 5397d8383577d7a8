package ontap

import (
	"path/filepath"
	"sort"
	"time"

	"vmdr.local/lab/internal/fabric"
)

// Ground truth: JSON-able snapshots of the clusters' state for assertions and the control
// endpoint.

// Truth is the state of the whole storage side.
type Truth struct {
	LinkCut  bool           `json:"linkCut"`
	Clusters []ClusterTruth `json:"clusters"`
}

// ClusterTruth is one cluster's state.
type ClusterTruth struct {
	Site           string              `json:"site"`
	Name           string              `json:"name"`
	UUID           string              `json:"uuid"`
	Version        string              `json:"version"`
	Down           bool                `json:"down"`
	SVM            string              `json:"svm"`
	Volumes        []VolumeTruth       `json:"volumes"`
	LUNs           []LUNTruth          `json:"luns"`
	Igroups        []IgroupTruth       `json:"igroups"`
	ExportPolicies []ExportPolicyTruth `json:"exportPolicies"`
	Relationships  []RelationshipTruth `json:"relationships"`
	// SourceOf lists the uuids of relationships this cluster is the source of (what
	// list_destinations_only shows).
	SourceOf []string   `json:"sourceOf"`
	Jobs     []JobTruth `json:"jobs"`
	// Mutations counts the changes made for clients, by "Kind key" (mutations.go).
	Mutations map[string]int `json:"mutations"`
}

// VolumeTruth is a volume.
type VolumeTruth struct {
	Name          string          `json:"name"`
	UUID          string          `json:"uuid"`
	Type          string          `json:"type"`
	State         string          `json:"state"`
	Dir           string          `json:"dir"`
	Junction      string          `json:"junction,omitempty"`
	ExportPolicy  string          `json:"exportPolicy,omitempty"`
	Initialized   bool            `json:"initialized"`
	CloneParent   string          `json:"cloneParent,omitempty"`
	CloneSnapshot string          `json:"cloneSnapshot,omitempty"`
	Snapshots     []SnapshotTruth `json:"snapshots"`
}

// SnapshotTruth is a snapshot.
type SnapshotTruth struct {
	Name       string    `json:"name"`
	UUID       string    `json:"uuid"`
	CreateTime time.Time `json:"createTime"`
	Owners     []string  `json:"owners,omitempty"`
	Dir        string    `json:"dir"`
}

// LUNTruth is a LUN with its maps.
type LUNTruth struct {
	Path    string     `json:"path"`
	UUID    string     `json:"uuid"`
	Volume  string     `json:"volume"`
	Dir     string     `json:"dir"`
	Serial  string     `json:"serial"`
	NAA     string     `json:"naa"`
	Enabled bool       `json:"enabled"`
	Online  bool       `json:"online"`
	Maps    []MapTruth `json:"maps"`
}

// MapTruth is a LUN map.
type MapTruth struct {
	Igroup string `json:"igroup"`
	ID     int    `json:"id"`
}

// IgroupTruth is an initiator group.
type IgroupTruth struct {
	Name       string   `json:"name"`
	Protocol   string   `json:"protocol"`
	OSType     string   `json:"osType"`
	Initiators []string `json:"initiators"`
}

// ExportPolicyTruth is an export policy with the clients its rules grant.
type ExportPolicyTruth struct {
	Name      string   `json:"name"`
	ID        int64    `json:"id"`
	ReadWrite []string `json:"readWrite"`
	ReadOnly  []string `json:"readOnly"`
}

// RelationshipTruth is a SnapMirror relationship as its destination cluster holds it.
type RelationshipTruth struct {
	UUID             string        `json:"uuid"`
	Source           string        `json:"source"`
	Destination      string        `json:"destination"`
	Policy           string        `json:"policy"`
	Schedule         string        `json:"schedule,omitempty"`
	State            string        `json:"state"`
	Healthy          bool          `json:"healthy"`
	UnhealthyReason  string        `json:"unhealthyReason,omitempty"`
	Lag              time.Duration `json:"-"`
	LagSeconds       float64       `json:"lagSeconds"`
	ExportedSnapshot string        `json:"exportedSnapshot,omitempty"`
	// SourceSnapshots and DestinationSnapshots are the relationship's SnapMirror snapshots on
	// each volume, oldest first.
	SourceSnapshots      []string  `json:"sourceSnapshots"`
	DestinationSnapshots []string  `json:"destinationSnapshots"`
	TransferState        string    `json:"transferState,omitempty"`
	TransferError        string    `json:"transferError,omitempty"`
	TransferBytes        int64     `json:"transferBytes"`
	LastTransferType     string    `json:"lastTransferType,omitempty"`
	LastTransferEnd      time.Time `json:"lastTransferEnd"`
}

// JobTruth is a job that has not expired.
type JobTruth struct {
	UUID        string `json:"uuid"`
	Description string `json:"description"`
	State       string `json:"state"`
	Code        int    `json:"code"`
	Message     string `json:"message,omitempty"`
}

// Truth returns the state of both clusters.
func (l *Lab) Truth() Truth {
	l.mu.RLock()
	defer l.mu.RUnlock()
	t := Truth{LinkCut: l.linkCut}
	for _, c := range l.clusters {
		t.Clusters = append(t.Clusters, c.truth())
	}
	return t
}

// Truth returns this cluster's state.
func (c *Cluster) Truth() ClusterTruth {
	c.lab.mu.RLock()
	defer c.lab.mu.RUnlock()
	return c.truth()
}

// Relationship returns the relationship whose destination is volume dstVolume on this cluster.
func (c *Cluster) Relationship(dstVolume string) (RelationshipTruth, bool) {
	c.lab.mu.RLock()
	defer c.lab.mu.RUnlock()
	for _, r := range c.rels {
		if r.dstVol == dstVolume {
			return c.lab.relTruth(r), true
		}
	}
	return RelationshipTruth{}, false
}

// Volume returns a volume by name.
func (c *Cluster) Volume(name string) (VolumeTruth, bool) {
	c.lab.mu.RLock()
	defer c.lab.mu.RUnlock()
	v := c.volumeByName(name)
	if v == nil {
		return VolumeTruth{}, false
	}
	return c.volTruth(v), true
}

func (c *Cluster) truth() ClusterTruth {
	l := c.lab
	t := ClusterTruth{
		Site: c.site, Name: c.name, UUID: c.uuid, Version: l.version.String(), Down: c.down.Load(), SVM: c.svm.name,
		Mutations: map[string]int{},
	}
	for k, n := range c.mutations {
		t.Mutations[k] = n
	}
	for _, v := range c.sortedVolumes() {
		t.Volumes = append(t.Volumes, c.volTruth(v))
		for _, leaf := range sortedKeys(v.luns) {
			ln := v.luns[leaf]
			lt := LUNTruth{
				Path: ln.name(), UUID: ln.uuid, Volume: v.name, Dir: filepath.Join(v.dir, leaf), Serial: ln.serial,
				NAA: fabric.NAAFromSerial(ln.serial), Enabled: ln.enabled, Online: lunState(ln) == "online",
			}
			for _, m := range c.mapsOf(ln, nil) {
				lt.Maps = append(lt.Maps, MapTruth{Igroup: m.ig.name, ID: m.id})
			}
			t.LUNs = append(t.LUNs, lt)
		}
	}
	for _, g := range c.igroups {
		t.Igroups = append(t.Igroups, IgroupTruth{Name: g.name, Protocol: g.protocol, OSType: g.osType,
			Initiators: append([]string(nil), g.initiators...)})
	}
	sort.Slice(t.Igroups, func(i, j int) bool { return t.Igroups[i].Name < t.Igroups[j].Name })
	for _, p := range c.policies {
		rw, ro := ruleClients(p)
		t.ExportPolicies = append(t.ExportPolicies, ExportPolicyTruth{Name: p.name, ID: p.id, ReadWrite: rw, ReadOnly: ro})
	}
	sort.Slice(t.ExportPolicies, func(i, j int) bool { return t.ExportPolicies[i].ID < t.ExportPolicies[j].ID })
	for _, id := range sortedKeys(c.rels) {
		t.Relationships = append(t.Relationships, l.relTruth(c.rels[id]))
	}
	t.SourceOf = sortedKeys(c.srcEntries)
	for _, id := range sortedKeys(c.jobs) {
		j := c.jobs[id]
		t.Jobs = append(t.Jobs, JobTruth{UUID: j.uuid, Description: j.description, State: j.state, Code: j.code, Message: j.message})
	}
	return t
}

func (c *Cluster) volTruth(v *volume) VolumeTruth {
	vt := VolumeTruth{
		Name: v.name, UUID: v.uuid, Type: v.typ, State: v.state, Dir: v.dir, Junction: v.junction,
		Initialized: v.initialized,
	}
	if v.policy != nil {
		vt.ExportPolicy = v.policy.name
	}
	if v.clone != nil {
		vt.CloneParent, vt.CloneSnapshot = v.clone.parentVolName, v.clone.parentSnapName
	}
	for _, s := range v.snapshots {
		vt.Snapshots = append(vt.Snapshots, SnapshotTruth{Name: s.name, UUID: s.uuid, CreateTime: s.createTime, Owners: s.owners(), Dir: s.dir})
	}
	return vt
}

func (l *Lab) relTruth(r *relationship) RelationshipTruth {
	rt := RelationshipTruth{
		UUID: r.uuid, Source: r.srcPath(), Destination: r.dstPath(), Policy: r.policy.name, Schedule: r.schedule,
		State: r.state, Healthy: r.healthy, LastTransferType: r.lastTransferType,
	}
	if len(r.unhealthy) > 0 {
		rt.UnhealthyReason = r.unhealthy[0].message
	}
	if r.exportedSnap != nil {
		rt.ExportedSnapshot = r.exportedSnap.name
		rt.Lag = l.clk.Now().Sub(r.exportedSnap.createTime)
		rt.LagSeconds = rt.Lag.Seconds()
	}
	own := func(c *Cluster, vol string) []string {
		var names []string
		if v := c.volumeByName(vol); v != nil {
			for _, s := range v.snapshots {
				if s.relUUID == r.uuid {
					names = append(names, s.name)
				}
			}
		}
		return names
	}
	rt.SourceSnapshots = own(r.srcCluster, r.srcVol)
	rt.DestinationSnapshots = own(r.dstCluster, r.dstVol)
	if t := r.transfer; t != nil {
		rt.TransferState, rt.TransferBytes, rt.LastTransferEnd = t.state, l.bytesSoFar(t), t.end
		rt.TransferError = t.errMsg
	}
	return rt
}
