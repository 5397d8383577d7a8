package topology

import "fmt"

// Names of the VMbook's world that tests and the operator's samples refer to.
const (
	Site1 = "site1"
	Site2 = "site2"

	Site1Datacenter = "Site 1"
	Site2Datacenter = "Site 2"

	Site1Cluster     = "Site1-Cluster"
	Site2BCDRCluster = "Site2-BCDR"
	Site2DevCluster  = "Site2-Dev"

	Site1LAN  = "Site1-LAN" // 20.1.1.0/24
	Site2LAN  = "Site2-LAN" // 30.1.1.0/24
	Site2Test = "Site2-Test-Isolated"

	Site1SVM = "svm1"
	Site2SVM = "svm2"

	HRFolder      = "Protection Group 1"
	FinanceFolder = "Protection Group 2"
	HRPool        = "HRServers"
	FinancePool   = "FinanceServers"

	Site1Igroup     = "site1_esx"
	Site2BCDRIgroup = "site2_bcdr"
	Site2DevIgroup  = "site2_dev"

	// SpareSource and SpareDest are a replicable volume pair with no relationship, for tests that
	// create one.
	SpareSource = "RG9FV1"
	SpareDest   = "RG9FV1_SM"
)

// VMbook builds the two-site world of the VMbook (hack/lab/README.md, "The world") at the given scale.
func VMbook(o Options) World {
	if o.VMsPerGroup < 6 {
		o.VMsPerGroup = 6
	}
	if o.DatastoresPerGroup < 2 {
		o.DatastoresPerGroup = 2
	}

	s1hosts := make([]Host, 4)
	for i := range s1hosts {
		s1hosts[i] = Host{
			Name:      fmt.Sprintf("esx%d.site1.vmbook.lab", i+1),
			Initiator: fmt.Sprintf("20:00:00:25:b5:01:00:%02x", i+1),
			IP:        fmt.Sprintf("20.1.1.%d", 11+i),
		}
	}
	bcdr := make([]Host, 2)
	dev := make([]Host, 2)
	for i := range bcdr {
		bcdr[i] = Host{
			Name:      fmt.Sprintf("bcdr%d.site2.vmbook.lab", i+1),
			Initiator: fmt.Sprintf("20:00:00:25:b5:02:00:%02x", i+1),
			IP:        fmt.Sprintf("30.1.1.%d", 11+i),
		}
		dev[i] = Host{
			Name:      fmt.Sprintf("dev%d.site2.vmbook.lab", i+1),
			Initiator: fmt.Sprintf("20:00:00:25:b5:02:01:%02x", i+1),
			IP:        fmt.Sprintf("30.1.1.%d", 21+i),
		}
	}

	s1 := Site{
		ID:         Site1,
		Datacenter: Site1Datacenter,
		Clusters:   []Cluster{{Name: Site1Cluster, Hosts: s1hosts}},
		Portgroups: []Portgroup{{Name: Site1LAN, CIDR: "20.1.1.0/24", Gateway: "20.1.1.1", DNS: []string{"20.1.1.5"}}},
		Folders: []string{
			"Desktops", "Infrastructure",
			HRFolder, HRFolder + "/Database", HRFolder + "/Application",
			FinanceFolder, FinanceFolder + "/Database", FinanceFolder + "/Application",
		},
		Pools: []ResourcePool{
			{Cluster: Site1Cluster, Path: HRPool},
			{Cluster: Site1Cluster, Path: FinancePool},
			{Cluster: Site1Cluster, Path: "Infrastructure"},
		},
		Array: Array{
			Cluster: "site1-ontap", SVM: Site1SVM, DataLIF: "20.1.1.50",
			Igroups:        []Igroup{{Name: Site1Igroup, Protocol: "fcp", Initiators: initiators(s1hosts)}},
			ExportPolicies: []ExportPolicy{{Name: "site1_esx_nfs", Clients: []string{"20.1.1.0/24"}}},
		},
	}
	s2 := Site{
		ID:         Site2,
		Datacenter: Site2Datacenter,
		Clusters:   []Cluster{{Name: Site2BCDRCluster, Hosts: bcdr}, {Name: Site2DevCluster, Hosts: dev}},
		Portgroups: []Portgroup{
			{Name: Site2LAN, CIDR: "30.1.1.0/24", Gateway: "30.1.1.1", DNS: []string{"30.1.1.5"}},
			{Name: Site2Test, CIDR: "192.168.254.0/24", Isolated: true},
		},
		Folders: []string{"Infrastructure", "Development"},
		Pools:   []ResourcePool{{Cluster: Site2DevCluster, Path: "Development"}},
		Array: Array{
			Cluster: "site2-ontap", SVM: Site2SVM, DataLIF: "30.1.1.50",
			Igroups: []Igroup{
				{Name: Site2BCDRIgroup, Protocol: "fcp", Initiators: initiators(bcdr)},
				{Name: Site2DevIgroup, Protocol: "fcp", Initiators: initiators(dev)},
			},
			ExportPolicies: []ExportPolicy{{Name: "site2_esx_nfs", Clients: []string{"30.1.1.0/24"}}},
		},
	}

	// Local datastores.
	s1.Array.Volumes = append(s1.Array.Volumes,
		sanVolume("LP1FV1", "rw", "LP1", 0, Site1Igroup),
		sanVolume("LP2FV1", "rw", "LP2", 2, Site1Igroup),
	)
	s2.Array.Volumes = append(s2.Array.Volumes,
		sanVolume("LP1FV1", "rw", "LP1", 1, Site2BCDRIgroup, Site2DevIgroup),
		sanVolume("LP2FV1", "rw", "LP2", 2, Site2BCDRIgroup, Site2DevIgroup),
		sanVolume("DEVFV1", "rw", "DEV1", 10, Site2DevIgroup, Site2BCDRIgroup),
		sanVolume("DEVFV2", "rw", "DEV2", 11, Site2DevIgroup, Site2BCDRIgroup),
	)

	w := World{}
	// Replicated datastores: RP1.. for HR (RG1FV*), then Finance (RG2FV*), then RP<n> NFS for
	// Finance on RG2FV<k+1>. Replicas at Site 2 are pre-mapped to the BCDR hosts (VMbook ch. 11):
	// they appear on a rescan once the mirror is broken.
	rp := 1
	lunID := 20
	groupDatastores := map[string][]string{}
	for g, group := range []string{"HR", "Finance"} {
		for k := 1; k <= o.DatastoresPerGroup; k++ {
			vol := fmt.Sprintf("RG%dFV%d", g+1, k)
			ds := fmt.Sprintf("RP%d", rp)
			s1.Array.Volumes = append(s1.Array.Volumes, sanVolume(vol, "rw", ds, lunID, Site1Igroup))
			s2.Array.Volumes = append(s2.Array.Volumes, sanVolume(vol+"_SM", "dp", ds, lunID, Site2BCDRIgroup))
			w.Relationships = append(w.Relationships, Relationship{
				SourceSite: Site1, SourceVolume: vol, DestSite: Site2, DestVolume: vol + "_SM",
				Policy: "MirrorAllSnapshots", Schedule: "hourly",
			})
			groupDatastores[group] = append(groupDatastores[group], ds)
			rp++
			lunID++
		}
	}
	nfsVol := fmt.Sprintf("RG2FV%d", o.DatastoresPerGroup+1)
	nfsDS := fmt.Sprintf("RP%d", rp)
	s1.Array.Volumes = append(s1.Array.Volumes, Volume{
		Name: nfsVol, Type: "rw", SizeGB: 240, Datastore: nfsDS,
		NAS: &NAS{JunctionPath: "/" + nfsVol, ExportPolicy: "site1_esx_nfs"},
	})
	s2.Array.Volumes = append(s2.Array.Volumes, Volume{
		Name: nfsVol + "_SM", Type: "dp", SizeGB: 240, Datastore: nfsDS,
		NAS: &NAS{ExportPolicy: "site2_esx_nfs"},
	})
	w.Relationships = append(w.Relationships, Relationship{
		SourceSite: Site1, SourceVolume: nfsVol, DestSite: Site2, DestVolume: nfsVol + "_SM",
		Policy: "MirrorAllSnapshots", Schedule: "hourly",
	})
	groupDatastores["Finance"] = append(groupDatastores["Finance"], nfsDS)

	// A spare pair without a relationship and without VMs.
	s1.Array.Volumes = append(s1.Array.Volumes, sanVolume(SpareSource, "rw", "RP99", 99, Site1Igroup))
	s2.Array.Volumes = append(s2.Array.Volumes, sanVolume(SpareDest, "dp", "RP99", 99, Site2BCDRIgroup))

	// VMs. Protected ones are spread round-robin over their group's datastores.
	s1.VMs = append(s1.VMs, groupVMs("site1", "HR", HRFolder, HRPool, groupDatastores["HR"], o.VMsPerGroup, s1hosts, 100)...)
	s1.VMs = append(s1.VMs, groupVMs("site1", "Finance", FinanceFolder, FinancePool, groupDatastores["Finance"], o.VMsPerGroup, s1hosts, 200)...)
	for i, n := range []string{"Site1-DC1", "Site1-DNS1", "Site1-DHCP1"} {
		s1.VMs = append(s1.VMs, vm("site1", n, "Infrastructure", Site1Cluster, "Infrastructure", s1hosts[i%4].Name,
			[]string{"LP1", "LP2"}[i%2], Site1LAN, fmt.Sprintf("20.1.1.%d", 5+i), "windows9Server64Guest", true))
	}
	for i := 1; i <= 4; i++ {
		s1.VMs = append(s1.VMs, vm("site1", fmt.Sprintf("Desktop-%02d", i), "Desktops", Site1Cluster, "", s1hosts[i%4].Name,
			"LP2", Site1LAN, fmt.Sprintf("20.1.1.%d", 150+i), "windows9_64Guest", true))
	}
	for i, n := range []string{"Site2-DC1", "Site2-DNS1"} {
		s2.VMs = append(s2.VMs, vm("site2", n, "Infrastructure", Site2BCDRCluster, "", bcdr[i%2].Name,
			"LP1", Site2LAN, fmt.Sprintf("30.1.1.%d", 5+i), "windows9Server64Guest", true))
	}
	for i := 1; i <= 4; i++ {
		s2.VMs = append(s2.VMs, vm("site2", fmt.Sprintf("Dev-%02d", i), "Development", Site2DevCluster, "Development",
			dev[i%2].Name, []string{"DEV1", "DEV2"}[i%2], Site2LAN, fmt.Sprintf("30.1.1.%d", 100+i), "otherLinux64Guest", i <= 2))
	}

	w.Sites = []Site{s1, s2}
	sizeHosts(w.Sites, o)
	return w
}

// CoreMHz is the clock of every lab host's cores.
const CoreMHz = 2600

// sizeHosts gives every host its capacity: the site's size from the options, or one that fits the
// whole world (every VM of both sites, four vCPUs per core), rounded up to whole 64 GB.
func sizeHosts(sites []Site, o Options) {
	var vcpus, memMB int64
	for _, s := range sites {
		for _, v := range s.VMs {
			vcpus += int64(v.CPUs)
			memMB += int64(v.MemoryMB)
		}
	}
	fitCores := max(32, int((vcpus+3)/4))
	fitMemGB := max(512, int((memMB/1024+63)/64*64))
	for i := range sites {
		s := &sites[i]
		cores, memGB := fitCores, fitMemGB
		if n := o.HostCores[s.ID]; n > 0 {
			cores = n
		}
		if n := o.HostMemoryGB[s.ID]; n > 0 {
			memGB = n
		}
		for c := range s.Clusters {
			for h := range s.Clusters[c].Hosts {
				host := &s.Clusters[c].Hosts[h]
				host.Cores, host.CoreMHz, host.MemoryMB = cores, CoreMHz, int64(memGB)*1024
			}
		}
	}
}

func initiators(hs []Host) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Initiator
	}
	return out
}

func sanVolume(name, typ, ds string, lunID int, igroups ...string) Volume {
	return Volume{Name: name, Type: typ, SizeGB: 240, Datastore: ds, LUN: &LUN{Name: ds + ".lun", ID: lunID, MapsTo: igroups}}
}

// groupVMs lays out a protection group the VMbook's way: the database servers in the group's
// Database folder, the application servers in its Application folder.
func groupVMs(site, group, folder, pool string, datastores []string, n int, hosts []Host, ipBase int) []VM {
	names := []string{group + " Database", group + " - Entry System"}
	for i := 1; len(names) < n; i++ {
		names = append(names, fmt.Sprintf("%s-App%d", group, i))
	}
	out := make([]VM, 0, n)
	for i, name := range names {
		sub := "/Application"
		if i < 2 {
			sub = "/Database"
		}
		ip := fmt.Sprintf("20.1.%d.%d", 1+(ipBase+i)/250, 1+(ipBase+i)%250)
		out = append(out, vm(site, name, folder+sub, Site1Cluster, pool, hosts[i%len(hosts)].Name,
			datastores[i%len(datastores)], Site1LAN, ip, "windows9Server64Guest", true))
	}
	return out
}

func vm(site, name, folder, cluster, pool, host, ds, pg, ip, guest string, on bool) VM {
	return VM{
		Name: name, Folder: folder, Cluster: cluster, ResourcePool: pool, Host: host, Datastore: ds,
		Portgroup: pg, IP: ip, GuestID: guest, CPUs: 2, MemoryMB: 4096, DiskGB: 40, PoweredOn: on,
		InstanceUUID: UUIDFor("instance", site+"/"+name), BIOSUUID: UUIDFor("bios", site+"/"+name),
	}
}
