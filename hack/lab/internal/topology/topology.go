// Package topology describes the VMbook's two datacenters as data: what exists in each vCenter and
// on each ONTAP cluster when the lab starts. The vCenter side (package vcenter) and the storage side
// (package ontap) both build their worlds from the same World value, so names, initiators, volumes
// and datastores agree by construction.
package topology

import (
	"crypto/sha256"
	"fmt"
)

// World is the whole lab: two sites and the SnapMirror relationships between their arrays.
type World struct {
	Sites         []Site
	Relationships []Relationship
}

// Site is one datacenter: a vCenter with one datacenter object and one ONTAP cluster.
type Site struct {
	ID         string // "site1" | "site2": stable key used by the control API and the fabric
	Datacenter string // vCenter datacenter name, e.g. "Site 1"
	Clusters   []Cluster
	Portgroups []Portgroup
	Folders    []string       // VM folder paths below the datacenter's vm folder, parents first ("Protection Group 1/Database")
	Pools      []ResourcePool // resource pools below a cluster's root pool
	Array      Array
	VMs        []VM
}

// Cluster is a vCenter compute cluster.
type Cluster struct {
	Name  string
	Hosts []Host
}

// Host is an ESXi host with its storage identities.
type Host struct {
	Name      string // host name as in vCenter, e.g. "esx1.site1.vmbook.lab"
	Initiator string // FC WWPN of its HBA; igroups list these
	IP        string // vmkernel address NFS exports match
	// Its compute capacity, as vCenter reports it (summary.hardware): cores, the MHz of each,
	// and memory. VMbook sizes them (Options.HostCores, Options.HostMemoryGB).
	Cores    int
	CoreMHz  int
	MemoryMB int64
}

// Portgroup is a (distributed) portgroup with the subnet behind it.
type Portgroup struct {
	Name     string
	CIDR     string
	Gateway  string
	DNS      []string
	Isolated bool // no uplink: the DR test network
}

// ResourcePool lives under the root pool of Cluster.
type ResourcePool struct {
	Cluster string
	Path    string // below the cluster's root pool, parents first ("FinanceServers")
}

// Array is a site's ONTAP cluster with one data SVM.
type Array struct {
	Cluster        string // ONTAP cluster name
	SVM            string
	DataLIF        string // NFS server address the hosts mount from
	Volumes        []Volume
	Igroups        []Igroup
	ExportPolicies []ExportPolicy
}

// Volume is a FlexVol. A SAN volume holds exactly one LUN (the VMbook's layout); a NAS volume is
// mounted at a junction path and exported.
type Volume struct {
	Name   string
	Type   string // "rw" or "dp"
	SizeGB int
	LUN    *LUN // SAN volumes
	NAS    *NAS // NAS volumes
	// Datastore is the datastore name this volume carries at the site that writes it
	// ("RP1"); replicas carry the same data and so the same label.
	Datastore string
}

// LUN is a LUN inside a volume, formatted with VMFS at the site that writes it.
type LUN struct {
	Name   string   // file name in the volume, e.g. "RP1.lun"; ONTAP name is /vol/<volume>/<Name>
	ID     int      // LUN id used in the maps
	MapsTo []string // igroups it is mapped to at start
}

// NAS is how a NAS volume is exported.
type NAS struct {
	JunctionPath string // "/RG2FV3"; empty for a replica that is not mounted until failover
	ExportPolicy string
}

// Igroup is an initiator group of a site's hosts.
type Igroup struct {
	Name       string
	Protocol   string // "fcp"
	Initiators []string
}

// ExportPolicy lets the named clients mount read-write.
type ExportPolicy struct {
	Name    string
	Clients []string
}

// Relationship is a SnapMirror relationship that exists (initialized) when the lab starts.
type Relationship struct {
	SourceSite, SourceVolume string
	DestSite, DestVolume     string
	Policy                   string // "MirrorAllSnapshots"
	Schedule                 string // ONTAP schedule name, "" for none
}

// VM is a virtual machine that exists at a site when the lab starts.
type VM struct {
	Name         string
	Folder       string // VM folder path below the datacenter's vm folder
	Cluster      string
	ResourcePool string // path below the cluster root pool; "" for the root pool
	Host         string
	Datastore    string
	Portgroup    string
	IP           string
	GuestID      string
	CPUs         int
	MemoryMB     int
	DiskGB       int
	PoweredOn    bool
	InstanceUUID string // deterministic, from the site and name
	BIOSUUID     string
}

// Options are the lab's scale knobs.
type Options struct {
	// VMsPerGroup is the number of VMs in each of the HR and Finance protection groups (at least
	// the VMbook's six). Extra VMs are named "HR-App<n>" / "Finance-App<n>".
	VMsPerGroup int
	// DatastoresPerGroup is the number of VMFS datastores (one volume and LUN each) per group:
	// at least the VMbook's two. Extra ones continue the numbering (RG1FV3 → RP6, ...).
	DatastoresPerGroup int
	// HostCores and HostMemoryGB size every host of a site (by site id, "site2"). A site not
	// named gets hosts that could each run every VM of the world (at four vCPUs per core), so no
	// run is short of capacity unless a test makes a site small.
	HostCores    map[string]int
	HostMemoryGB map[string]int
}

// DefaultOptions is the VMbook's own size.
func DefaultOptions() Options { return Options{VMsPerGroup: 6, DatastoresPerGroup: 2} }

// UUIDFor returns a deterministic RFC 4122-shaped UUID for a name, so the same lab always has
// the same instance and BIOS UUIDs.
func UUIDFor(kind, name string) string {
	h := sha256.Sum256([]byte(kind + "/" + name))
	h[6] = (h[6] & 0x0f) | 0x50 // version 5 layout
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// Site returns the site with the given ID.
func (w World) Site(id string) (Site, bool) {
	for _, s := range w.Sites {
		if s.ID == id {
			return s, true
		}
	}
	return Site{}, false
}

// AllHosts lists every host of the site.
func (s Site) AllHosts() []Host {
	var hs []Host
	for _, c := range s.Clusters {
		hs = append(hs, c.Hosts...)
	}
	return hs
}
