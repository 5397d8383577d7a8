package vcenter

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/fabric"
)

// dsState is the lab's view of one datastore. A VMFS datastore is identified by the VMFS UUID in
// its header (as ESXi does): a LUN replica or clone carrying the same file system is the same
// datastore, whichever device presents it. An NFS datastore is identified by its server and path.
type dsState struct {
	key    string // dsKey
	ref    types.ManagedObjectReference
	name   string
	proto  fabric.Protocol
	dir    string // directory holding the datastore's files right now
	naa    string // VMFS: the device currently backing it
	uuid   string // VMFS UUID, or a synthetic one for NFS
	server string // NFS
	remote string // NFS export path
	mode   types.HostMountMode
	mounts map[types.ManagedObjectReference]bool // host -> accessible
	// why a host's mount is inaccessible (HostMountInfo.inaccessibleReason; empty for a LUN that
	// turned read-only, which is neither PDL nor APD)
	reasons map[types.ManagedObjectReference]string
	// parked: hosts that unmounted the volume (UnmountVmfsVolume) and still see its device; the
	// datastore lists them with mounted=false
	parked map[types.ManagedObjectReference]bool
}

func vmfsKey(uuid string) string          { return "vmfs:" + uuid }
func nfsKey(server, remote string) string { return "nfs:" + server + ":" + remote }

const datastoreCapacity = int64(1) << 40

// accessible reports whether any host can reach the datastore.
func (s *dsState) accessible() bool {
	for _, ok := range s.mounts {
		if ok {
			return true
		}
	}
	return false
}

// mountPath is where ESXi mounts the datastore.
func (s *dsState) mountPath() string { return "/vmfs/volumes/" + s.uuid }

// hostDevices is what the fabric presents to one host right now.
type hostDevices struct {
	luns   []fabric.Device            // online LUNs mapped to the host (SCSI devices it sees)
	vmfs   map[string][]fabric.Device // VMFS UUID -> the mountable devices carrying it
	labels map[string]fabric.Header   // VMFS UUID -> header
	// unresolved VMFS copies: writable, formatted devices whose VMFS was written on another
	// device (a replica or a clone), not force-mounted on this host
	unresolved map[string][]fabric.Device
	headers    map[string]fabric.Header // device -> header, for every formatted device
	nfs        map[string]fabric.Device // nfsKey -> export
}

// pick chooses the device to mount a VMFS volume from: the one already backing the datastore if
// it is still there (ESXi does not switch between copies of a volume), else the first by name.
func (hd hostDevices) pick(uuid, current string) fabric.Device {
	devs := hd.vmfs[uuid]
	for _, d := range devs {
		if d.NAA == current {
			return d
		}
	}
	return devs[0]
}

// devicesFor classifies what the fabric presents to a host. A formatted, writable LUN is
// mountable when its VMFS was written on it (its signature matches), when this host force-mounted
// that copy, or when the host mounts copies by label (LVM.DisallowSnapshotLun=0); any other copy
// is unresolved. Detached devices are seen but do no I/O.
func (v *VCenter) devicesFor(h *hostInfo) hostDevices {
	hd := hostDevices{vmfs: map[string][]fabric.Device{}, labels: map[string]fabric.Header{}, nfs: map[string]fabric.Device{},
		unresolved: map[string][]fabric.Device{}, headers: map[string]fabric.Header{}}
	devs := v.fabric.Devices(v.site.ID)
	sort.Slice(devs, func(i, j int) bool { return devs[i].NAA+devs[i].Volume < devs[j].NAA+devs[j].Volume })
	byLabel := v.copiesByLabel(h)
	for _, d := range devs {
		switch d.Protocol {
		case fabric.VMFS:
			if !d.Online || !hasInitiator(d.Initiators, h.initiator) {
				continue
			}
			hd.luns = append(hd.luns, d)
			if !d.Writable {
				continue
			}
			hdr, err := fabric.ReadHeader(d.Dir)
			if err != nil {
				if err != fabric.ErrNoHeader {
					v.log.Warn("unreadable VMFS header", "device", d.NAA, "err", err)
				}
				continue
			}
			if hdr.UUID == "" {
				continue
			}
			hd.headers[d.NAA] = hdr
			v.mu.Lock()
			hs := v.hostStore(h)
			detached, forced := hs.detached[d.NAA], hs.forced[hdr.UUID] == d.NAA
			v.mu.Unlock()
			if detached {
				continue
			}
			if !byLabel && !forced && hdr.Device != "" && hdr.Device != d.NAA {
				hd.unresolved[hdr.UUID] = append(hd.unresolved[hdr.UUID], d)
				if _, ok := hd.labels[hdr.UUID]; !ok {
					hd.labels[hdr.UUID] = hdr
				}
				continue
			}
			if prev := hd.vmfs[hdr.UUID]; len(prev) > 0 {
				v.log.Warn("VMFS volume seen on two devices; mounting one", "uuid", hdr.UUID, "devices", []string{prev[0].NAA, d.NAA})
			}
			hd.vmfs[hdr.UUID] = append(hd.vmfs[hdr.UUID], d)
			hd.labels[hdr.UUID] = hdr
		case fabric.NFS:
			if d.ExportPath == "" || exportAccess(d, h.ip) == "" {
				continue
			}
			hd.nfs[nfsKey(d.Server, normalizeExport(d.ExportPath))] = d
		}
	}
	return hd
}

func hasInitiator(list []string, wwpn string) bool {
	for _, i := range list {
		if strings.EqualFold(strings.TrimSpace(i), wwpn) {
			return true
		}
	}
	return false
}

// exportAccess tells how an export lets a client in: "rw", "ro" or "" (not at all). Client
// matches are addresses, CIDRs or 0.0.0.0/0. A volume that is not writable is read-only to all.
func exportAccess(d fabric.Device, ip string) string {
	addr := net.ParseIP(ip)
	match := func(list []string) bool {
		for _, c := range list {
			c = strings.TrimSpace(c)
			if c == ip || c == "0.0.0.0/0" || c == "::/0" {
				return true
			}
			if _, n, err := net.ParseCIDR(c); err == nil && addr != nil && n.Contains(addr) {
				return true
			}
		}
		return false
	}
	switch {
	case match(d.ReadWrite) && d.Writable:
		return "rw"
	case match(d.ReadWrite) || match(d.ReadOnly):
		return "ro"
	}
	return ""
}

// rescanHost brings a host's storage in line with the fabric: it refreshes the SCSI devices the
// host sees, mounts the VMFS volumes it can (resolved or force-mounted copies it did not unmount),
// and turns the mounts of volumes it can no longer reach inaccessible (a lost device, a LUN that
// became read-only) rather than dropping them, as ESXi does; lost devices nothing uses any more
// are then removed (Disk.AutoremoveOnPDL). NFS mounts stay configured and follow their export's
// availability. The caller holds opMu.
func (v *VCenter) rescanHost(ctx *simulator.Context, h *hostInfo) {
	hd := v.devicesFor(h)
	present := map[string]fabric.Device{}
	for _, d := range hd.luns {
		present[d.NAA] = d
	}
	v.autoremoveLost(ctx, h, present)
	v.mu.Lock()
	hs := v.hostStore(h)
	hs.seen = map[string]bool{}
	for naa := range present {
		hs.seen[naa] = true
	}
	v.mu.Unlock()
	v.updateScsiLuns(ctx, h, hd.luns)

	v.mu.Lock()
	var mine []*dsState
	for _, s := range v.stores {
		if _, ok := s.mounts[h.ref]; ok {
			mine = append(mine, s)
		} else if s.parked[h.ref] {
			mine = append(mine, s)
		}
	}
	v.mu.Unlock()
	sort.Slice(mine, func(i, j int) bool { return mine[i].key < mine[j].key })

	for _, s := range mine {
		switch s.proto {
		case fabric.VMFS:
			v.mu.Lock()
			parked := s.parked[h.ref]
			v.mu.Unlock()
			if parked {
				// Unmounted here: it stays known while its device is still seen and attached.
				if d, ok := present[s.naa]; !ok || v.isDetached(h, d.NAA) {
					v.unpark(ctx, s, h)
				}
				delete(hd.vmfs, s.uuid)
				delete(hd.unresolved, s.uuid)
				continue
			}
			if _, ok := hd.vmfs[s.uuid]; ok {
				old := s.naa
				v.rebindVMFS(ctx, s, hd.pick(s.uuid, s.naa))
				v.setMountAccessible(ctx, s, h, true, "")
				v.clearLost(h, old)
				v.clearLost(h, s.naa)
				delete(hd.vmfs, s.uuid)
				delete(hd.unresolved, s.uuid)
				continue
			}
			v.loseMount(ctx, s, h, present)
			delete(hd.unresolved, s.uuid)
		case fabric.NFS:
			d, ok := hd.nfs[s.key]
			if ok {
				v.rebindNFS(ctx, s, d)
				// A read-write mount of an export that became read-only (a resynced
				// SnapMirror destination) is as good as gone for the VMs on it.
				ok = exportAccess(d, h.ip) == "rw" || s.mode == types.HostMountModeReadOnly
			}
			v.setMountAccessible(ctx, s, h, ok, "AllPathsDown_Timeout")
		}
	}

	uuids := make([]string, 0, len(hd.vmfs))
	for u := range hd.vmfs {
		uuids = append(uuids, u)
	}
	sort.Strings(uuids)
	for _, u := range uuids {
		v.mu.Lock()
		unmounted := v.hostStore(h).unmounted[u]
		current := ""
		if s := v.stores[vmfsKey(u)]; s != nil {
			current = s.naa
		}
		v.mu.Unlock()
		if unmounted {
			// ESXi keeps an unmounted volume unmounted across rescans; vCenter shows it so.
			if v.datastoreByUUID(u) == nil {
				v.createUnmounted(ctx, hd.pick(u, ""), hd.labels[u])
			}
			if s := v.datastoreByUUID(u); s != nil {
				v.mu.Lock()
				if s.parked == nil {
					s.parked = map[types.ManagedObjectReference]bool{}
				}
				s.parked[h.ref] = true
				v.mu.Unlock()
				v.renderHostMounts(ctx, s)
				v.updateFileSystemVolumes(ctx, h)
			}
			continue
		}
		v.mountVMFS(ctx, h, hd.pick(u, current), hd.labels[u])
	}
	v.refreshVMConnections(ctx)
}

// updateScsiLuns sets the SCSI disks a host sees: the LUNs presented to it (operational state
// "ok", or "off" once detached) and the devices it lost while a mounted volume was on them
// ("lostCommunication", until they come back or are removed).
func (v *VCenter) updateScsiLuns(ctx *simulator.Context, h *hostInfo, luns []fabric.Device) {
	ss, ok := v.reg.Get(h.storage).(*simulator.HostStorageSystem)
	if !ok {
		return
	}
	v.mu.Lock()
	hs := v.hostStore(h)
	type entry struct {
		d     fabric.Device
		state string
	}
	var all []entry
	seen := map[string]bool{}
	for _, d := range luns {
		st := "ok"
		if hs.detached[d.NAA] {
			st = "off"
		}
		all = append(all, entry{d, st})
		seen[d.NAA] = true
	}
	for naa, l := range hs.lost {
		if !seen[naa] && l.kind == lostPDL {
			all = append(all, entry{l.dev, "lostCommunication"})
		}
	}
	v.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].d.NAA < all[j].d.NAA })
	var list []types.BaseScsiLun
	for _, e := range all {
		d := e.d
		list = append(list, &types.HostScsiDisk{
			ScsiLun: types.ScsiLun{
				HostDevice:       types.HostDevice{DeviceName: "/vmfs/devices/disks/" + d.NAA, DeviceType: "disk"},
				Key:              "key-vim.host.ScsiDisk-" + strings.TrimPrefix(d.NAA, "naa."),
				Uuid:             scsiLunUUID(d.NAA),
				CanonicalName:    d.NAA,
				DisplayName:      fmt.Sprintf("NETAPP Fibre Channel Disk (%s)", d.NAA),
				LunType:          "disk",
				Vendor:           "NETAPP  ",
				Model:            "LUN C-Mode      ",
				Revision:         "9800",
				SerialNumber:     d.Serial,
				OperationalState: []string{e.state},
			},
			Capacity:   types.HostDiskDimensionsLba{BlockSize: 512, Block: datastoreCapacity / 512},
			DevicePath: "/vmfs/devices/disks/" + d.NAA,
		})
	}
	ctx.WithLock(ss, func() {
		info := *ss.StorageDeviceInfo
		info.ScsiLun = list
		ctx.Update(ss, []types.PropertyChange{{Name: "storageDeviceInfo", Val: &info}})
	})
	if hs, ok := v.reg.Get(h.ref).(*simulator.HostSystem); ok {
		ctx.WithLock(hs, func() {
			if hs.Config != nil {
				ctx.Update(hs, []types.PropertyChange{{Name: "config.storageDevice", Val: ss.StorageDeviceInfo}})
			}
		})
	}
}

// mountVMFS mounts a VMFS volume on a host, creating the datastore on its first mount.
func (v *VCenter) mountVMFS(ctx *simulator.Context, h *hostInfo, d fabric.Device, hdr fabric.Header) {
	key := vmfsKey(hdr.UUID)
	v.mu.Lock()
	s := v.stores[key]
	v.mu.Unlock()
	if s == nil {
		s = &dsState{key: key, proto: fabric.VMFS, dir: d.Dir, naa: d.NAA, uuid: hdr.UUID,
			mode: types.HostMountModeReadWrite, mounts: map[types.ManagedObjectReference]bool{}}
		s.name = v.uniqueDatastoreName(hdr.Label)
		info := &types.VmfsDatastoreInfo{
			DatastoreInfo: v.datastoreInfo(s),
			Vmfs:          v.vmfsVolume(s, hdr.Label),
		}
		v.createDatastore(ctx, s, info, string(types.HostFileSystemVolumeFileSystemTypeVMFS))
	} else {
		v.rebindVMFS(ctx, s, d)
	}
	v.addMount(ctx, s, h)
}

// createUnmounted creates the datastore of a volume a host knows but keeps unmounted (its device
// came back, or was attached again): vCenter lists it, mounted nowhere.
func (v *VCenter) createUnmounted(ctx *simulator.Context, d fabric.Device, hdr fabric.Header) {
	key := vmfsKey(hdr.UUID)
	s := &dsState{key: key, proto: fabric.VMFS, dir: d.Dir, naa: d.NAA, uuid: hdr.UUID,
		mode: types.HostMountModeReadWrite, mounts: map[types.ManagedObjectReference]bool{}}
	s.name = v.uniqueDatastoreName(hdr.Label)
	info := &types.VmfsDatastoreInfo{DatastoreInfo: v.datastoreInfo(s), Vmfs: v.vmfsVolume(s, hdr.Label)}
	v.createDatastore(ctx, s, info, string(types.HostFileSystemVolumeFileSystemTypeVMFS))
}

func (v *VCenter) datastoreInfo(s *dsState) types.DatastoreInfo {
	now := time.Now()
	return types.DatastoreInfo{
		Name: s.name, Url: s.dir, FreeSpace: datastoreCapacity / 2,
		MaxFileSize: 62 << 40, MaxVirtualDiskCapacity: 62 << 40, MaxMemoryFileSize: 62 << 40,
		Timestamp: &now, ContainerId: s.uuid,
	}
}

func (v *VCenter) vmfsVolume(s *dsState, label string) *types.HostVmfsVolume {
	return &types.HostVmfsVolume{
		HostFileSystemVolume: types.HostFileSystemVolume{Type: "VMFS", Name: label, Capacity: datastoreCapacity},
		BlockSizeMb:          1, BlockSize: 1024, MaxBlocks: 63963136, MajorVersion: 6, Version: "6.82",
		Uuid: s.uuid, Extent: []types.HostScsiDiskPartition{{DiskName: s.naa, Partition: 1}},
		VmfsUpgradable: false,
	}
}

// uniqueDatastoreName returns label, or "label (n)" when the datacenter already has a datastore of
// that name, as vCenter names a second volume with a clashing label.
func (v *VCenter) uniqueDatastoreName(label string) string {
	dc := v.reg.Get(v.inv.dc).(*simulator.Datacenter)
	taken := func(n string) bool { return v.reg.FindByName(n, dc.Datastore) != nil }
	if label == "" {
		label = "datastore"
	}
	if !taken(label) {
		return label
	}
	for i := 1; ; i++ {
		n := fmt.Sprintf("%s (%d)", label, i)
		if !taken(n) {
			return n
		}
	}
}

// createDatastore puts a new datastore object in the datacenter's datastore folder.
func (v *VCenter) createDatastore(ctx *simulator.Context, s *dsState, info types.BaseDatastoreInfo, fsType string) {
	ds := &simulator.Datastore{}
	ds.Name = s.name
	ds.Info = info
	ds.Summary = types.DatastoreSummary{
		Name: s.name, Url: s.dir, Capacity: datastoreCapacity, FreeSpace: datastoreCapacity / 2,
		Type: fsType, Accessible: true, MultipleHostAccess: types.NewBool(true),
		MaintenanceMode: string(types.DatastoreSummaryMaintenanceModeStateNormal),
	}
	ds.Capability = types.DatastoreCapability{
		DirectoryHierarchySupported: true, PerFileThinProvisioningSupported: true,
		StorageIORMSupported: false, NativeSnapshotSupported: false,
		TopLevelDirectoryCreateSupported: types.NewBool(true), SeSparseSupported: types.NewBool(true),
	}
	v.reg.NewEntity(ds)
	ds.Summary.Datastore = &ds.Self

	browser := &simulator.HostDatastoreBrowser{}
	browser.Datastore = []types.ManagedObjectReference{ds.Self}
	ds.Browser = v.reg.Put(browser).Reference()

	folder := v.reg.Get(v.inv.dsFolder).(*simulator.Folder)
	ctx.WithLock(folder, func() {
		ctx.Update(folder, []types.PropertyChange{{Name: "childEntity", Val: append(append([]types.ManagedObjectReference(nil), folder.ChildEntity...), ds.Self)}})
		v.reg.PutEntity(folder, ds)
	})
	dc := v.reg.Get(v.inv.dc).(*simulator.Datacenter)
	ctx.WithLock(dc, func() {
		ctx.Update(dc, []types.PropertyChange{{Name: "datastore", Val: append(append([]types.ManagedObjectReference(nil), dc.Datastore...), ds.Self)}})
	})
	s.ref = ds.Self
	v.mu.Lock()
	v.stores[s.key] = s
	v.mu.Unlock()
	v.postEvent(ctx, &types.DatastoreDiscoveredEvent{
		HostEvent: types.HostEvent{Event: types.Event{Datacenter: v.dcEventArg()}},
		Datastore: types.DatastoreEventArgument{Datastore: ds.Self, EntityEventArgument: types.EntityEventArgument{Name: s.name}},
	})
}

// rebindVMFS points an existing VMFS datastore at the device that presents its volume now (a
// replica after a break, say, instead of the clone it was first mounted from).
func (v *VCenter) rebindVMFS(ctx *simulator.Context, s *dsState, d fabric.Device) {
	if s.dir == d.Dir && s.naa == d.NAA {
		return
	}
	ds, ok := v.reg.Get(s.ref).(*simulator.Datastore)
	if !ok {
		return
	}
	v.mu.Lock()
	s.dir, s.naa = d.Dir, d.NAA
	v.mu.Unlock()
	ctx.WithLock(ds, func() {
		info, ok := ds.Info.(*types.VmfsDatastoreInfo)
		if !ok {
			return
		}
		ni := *info
		ni.Url = s.dir
		if ni.Vmfs != nil {
			vol := *ni.Vmfs
			vol.Extent = []types.HostScsiDiskPartition{{DiskName: s.naa, Partition: 1}}
			ni.Vmfs = &vol
		}
		ctx.Update(ds, []types.PropertyChange{{Name: "info", Val: &ni}, {Name: "summary.url", Val: s.dir}})
	})
}

func (v *VCenter) rebindNFS(ctx *simulator.Context, s *dsState, d fabric.Device) {
	if s.dir == d.Dir {
		return
	}
	ds, ok := v.reg.Get(s.ref).(*simulator.Datastore)
	if !ok {
		return
	}
	v.mu.Lock()
	s.dir = d.Dir
	v.mu.Unlock()
	ctx.WithLock(ds, func() {
		if info, ok := ds.Info.(*types.NasDatastoreInfo); ok {
			ni := *info
			ni.Url = s.dir
			ctx.Update(ds, []types.PropertyChange{{Name: "info", Val: &ni}, {Name: "summary.url", Val: s.dir}})
		}
	})
}

// addMount mounts s on host h (accessible).
func (v *VCenter) addMount(ctx *simulator.Context, s *dsState, h *hostInfo) {
	v.mu.Lock()
	wasAccessible, had := s.mounts[h.ref]
	s.mounts[h.ref] = true
	delete(s.parked, h.ref)
	if s.reasons != nil {
		delete(s.reasons, h.ref)
	}
	v.mu.Unlock()
	v.renderHostMounts(ctx, s)
	if had {
		v.updateFileSystemVolumes(ctx, h)
		if !wasAccessible {
			v.reloadVMsOn(ctx, s, h)
		}
		return
	}
	v.addRef(ctx, h.ref, "datastore", s.ref)
	if dss, ok := v.reg.Get(h.dss).(*simulator.HostDatastoreSystem); ok {
		ctx.WithLock(dss, func() {
			ctx.Update(dss, []types.PropertyChange{{Name: "datastore", Val: appendRef(dss.Datastore, s.ref)}})
		})
	}
	v.addRef(ctx, h.cluster.ref, "datastore", s.ref)
	v.updateFileSystemVolumes(ctx, h)
	v.reloadVMsOn(ctx, s, h) // VMs that lost the volume with an earlier mount
}

// renderHostMounts writes a datastore's host list, summary.accessible and overall status from the
// lab's state: every host that mounts it (accessible or not, with the reason) and every host that
// unmounted it but still sees its device (mounted=false).
func (v *VCenter) renderHostMounts(ctx *simulator.Context, s *dsState) {
	ds, ok := v.reg.Get(s.ref).(*simulator.Datastore)
	if !ok {
		return
	}
	v.mu.Lock()
	var list []types.DatastoreHostMount
	for h, acc := range s.mounts {
		mi := types.HostMountInfo{Path: s.mountPath(), AccessMode: string(s.mode), Mounted: types.NewBool(true), Accessible: types.NewBool(acc)}
		if !acc {
			mi.InaccessibleReason = s.reasons[h]
		}
		list = append(list, types.DatastoreHostMount{Key: h, MountInfo: mi})
	}
	for h := range s.parked {
		list = append(list, types.DatastoreHostMount{Key: h, MountInfo: types.HostMountInfo{
			Path: s.mountPath(), AccessMode: string(s.mode), Mounted: types.NewBool(false), Accessible: types.NewBool(false),
		}})
	}
	any := s.accessible()
	v.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].Key.Value < list[j].Key.Value })
	status := types.ManagedEntityStatusGreen
	if !any {
		status = types.ManagedEntityStatusRed
	}
	ctx.WithLock(ds, func() {
		ctx.Update(ds, []types.PropertyChange{
			{Name: "host", Val: list},
			{Name: "summary.accessible", Val: any},
			{Name: "overallStatus", Val: status},
		})
	})
}

// setMountAccessible flips one host's mount of s and the datastore's summary.accessible.
func (v *VCenter) setMountAccessible(ctx *simulator.Context, s *dsState, h *hostInfo, ok bool, reason string) {
	v.mu.Lock()
	prev, mounted := s.mounts[h.ref]
	if mounted {
		s.mounts[h.ref] = ok
		if s.reasons == nil {
			s.reasons = map[types.ManagedObjectReference]string{}
		}
		if ok {
			delete(s.reasons, h.ref)
		} else if prev {
			s.reasons[h.ref] = reason
		}
	}
	v.mu.Unlock()
	if !mounted || prev == ok {
		return
	}
	v.renderHostMounts(ctx, s)
	v.updateFileSystemVolumes(ctx, h)
	if ok {
		v.reloadVMsOn(ctx, s, h)
	}
}

// unmount removes a host's mount of s. The datastore disappears with its last mount unless VMs
// are registered on it or a host still knows it unmounted (vCenter then keeps it, inaccessible).
func (v *VCenter) unmount(ctx *simulator.Context, s *dsState, h *hostInfo) {
	v.mu.Lock()
	delete(s.mounts, h.ref)
	if s.reasons != nil {
		delete(s.reasons, h.ref)
	}
	v.mu.Unlock()
	v.removeRef(ctx, h.ref, "datastore", s.ref)
	if dss, ok := v.reg.Get(h.dss).(*simulator.HostDatastoreSystem); ok {
		ctx.WithLock(dss, func() {
			ctx.Update(dss, []types.PropertyChange{{Name: "datastore", Val: withoutRef(dss.Datastore, s.ref)}})
		})
	}
	stillInCluster := false
	v.mu.Lock()
	for _, other := range h.cluster.hosts {
		if _, ok := s.mounts[other.ref]; ok {
			stillInCluster = true
		}
	}
	v.mu.Unlock()
	if !stillInCluster {
		v.removeRef(ctx, h.cluster.ref, "datastore", s.ref)
	}
	v.updateFileSystemVolumes(ctx, h)
	v.settle(ctx, s, h)
}

// settle renders a datastore after a host stopped mounting or knowing it, or removes it when
// nothing refers to it any more.
func (v *VCenter) settle(ctx *simulator.Context, s *dsState, h *hostInfo) {
	ds, ok := v.reg.Get(s.ref).(*simulator.Datastore)
	if !ok {
		return
	}
	v.mu.Lock()
	inUse := len(s.mounts) > 0 || len(s.parked) > 0
	v.mu.Unlock()
	if inUse || v.datastoreHasVMs(s) {
		v.renderHostMounts(ctx, s)
		return
	}
	v.postEvent(ctx, &types.DatastoreRemovedOnHostEvent{
		HostEvent: types.HostEvent{Event: types.Event{Datacenter: v.dcEventArg(), Host: v.hostEventArg(h)}},
		Datastore: types.DatastoreEventArgument{Datastore: s.ref, EntityEventArgument: types.EntityEventArgument{Name: s.name}},
	})
	folder := v.reg.Get(v.inv.dsFolder).(*simulator.Folder)
	v.reg.Remove(ctx, s.ref)
	v.reg.Remove(ctx, ds.Browser)
	ctx.WithLock(folder, func() {
		ctx.Update(folder, []types.PropertyChange{{Name: "childEntity", Val: withoutRef(folder.ChildEntity, s.ref)}})
	})
	dc := v.reg.Get(v.inv.dc).(*simulator.Datacenter)
	ctx.WithLock(dc, func() {
		ctx.Update(dc, []types.PropertyChange{{Name: "datastore", Val: withoutRef(dc.Datastore, s.ref)}})
	})
	v.mu.Lock()
	delete(v.stores, s.key)
	v.mu.Unlock()
}

// updateFileSystemVolumes recomputes a host's config.fileSystemVolume from its mounts.
func (v *VCenter) updateFileSystemVolumes(ctx *simulator.Context, h *hostInfo) {
	ss, ok := v.reg.Get(h.storage).(*simulator.HostStorageSystem)
	if !ok {
		return
	}
	v.mu.Lock()
	var list []*dsState
	for _, s := range v.stores {
		if _, ok := s.mounts[h.ref]; ok || s.parked[h.ref] {
			list = append(list, s)
		}
	}
	acc := map[string]bool{}
	mounted := map[string]bool{}
	for _, s := range list {
		acc[s.key] = s.mounts[h.ref]
		_, mounted[s.key] = s.mounts[h.ref]
	}
	v.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	var mounts []types.HostFileSystemMountInfo
	for _, s := range list {
		var vol types.BaseHostFileSystemVolume
		switch s.proto {
		case fabric.VMFS:
			vol = v.vmfsVolume(s, s.name)
		default:
			vol = &types.HostNasVolume{
				HostFileSystemVolume: types.HostFileSystemVolume{Type: "NFS", Name: s.name, Capacity: datastoreCapacity},
				RemoteHost:           s.server, RemotePath: s.remote, RemoteHostNames: []string{s.server},
			}
		}
		mounts = append(mounts, types.HostFileSystemMountInfo{
			MountInfo: types.HostMountInfo{Path: s.mountPath(), AccessMode: string(s.mode),
				Mounted: types.NewBool(mounted[s.key]), Accessible: types.NewBool(acc[s.key])},
			Volume: vol,
		})
	}
	fsv := &types.HostFileSystemVolumeInfo{VolumeTypeList: []string{"VMFS", "NFS", "NFS41", "OTHER"}, MountInfo: mounts}
	ctx.WithLock(ss, func() {
		ctx.Update(ss, []types.PropertyChange{{Name: "fileSystemVolumeInfo", Val: *fsv}})
	})
	if hs, ok := v.reg.Get(h.ref).(*simulator.HostSystem); ok && hs.Config != nil {
		ctx.WithLock(hs, func() {
			ctx.Update(hs, []types.PropertyChange{{Name: "config.fileSystemVolume", Val: fsv}})
		})
	}
}

func (v *VCenter) datastoreHasVMs(s *dsState) bool {
	ds, ok := v.reg.Get(s.ref).(*simulator.Datastore)
	if !ok {
		return false
	}
	var n int
	v.reg.WithLock(v.ctx(), ds, func() { n = len(ds.Vm) })
	return n > 0
}

// mountNAS mounts an NFS export on a host under name (CreateNasDatastore).
func (v *VCenter) mountNAS(ctx *simulator.Context, h *hostInfo, server, remote, name string, mode types.HostMountMode) (types.ManagedObjectReference, *soap.Fault) {
	var none types.ManagedObjectReference
	remote = normalizeExport(remote)
	var dev *fabric.Device
	for _, d := range v.fabric.Devices(v.site.ID) {
		if d.Protocol == fabric.NFS && d.ExportPath != "" && d.Server == server && normalizeExport(d.ExportPath) == remote {
			d := d
			dev = &d
			break
		}
	}
	access := ""
	if dev != nil {
		access = exportAccess(*dev, h.ip)
	}
	if access == "" {
		return none, simulator.Fault(fmt.Sprintf("NFS mount %s:%s failed: The mount request was denied by the NFS server. Check that the export exists and that the client is permitted to mount it.", server, remote),
			&types.HostConfigFault{})
	}
	if mode == types.HostMountModeReadWrite && access != "rw" {
		return none, simulator.Fault(fmt.Sprintf("NFS mount %s:%s failed: the export is read-only for this host.", server, remote),
			&types.NoPermissionOnNasVolume{NasConfigFault: types.NasConfigFault{Name: name}})
	}
	hs := v.reg.Get(h.ref).(*simulator.HostSystem)
	if e := v.reg.FindByName(name, hs.Datastore); e != nil {
		return none, simulator.Fault(fmt.Sprintf("The name '%s' already exists.", name), &types.DuplicateName{Name: name, Object: e.Reference()})
	}
	key := nfsKey(server, remote)
	v.mu.Lock()
	s := v.stores[key]
	var already bool
	if s != nil {
		_, already = s.mounts[h.ref]
	}
	v.mu.Unlock()
	if already {
		return none, simulator.Fault(fmt.Sprintf("The NFS share %s:%s is already mounted.", server, remote), &types.AlreadyExists{Name: name})
	}
	if s != nil && s.name != name {
		return none, simulator.Fault(fmt.Sprintf("The share %s:%s is mounted elsewhere as '%s'.", server, remote, s.name), &types.DuplicateName{Name: name, Object: s.ref})
	}
	if s == nil {
		dc := v.reg.Get(v.inv.dc).(*simulator.Datacenter)
		if e := v.reg.FindByName(name, dc.Datastore); e != nil {
			return none, simulator.Fault(fmt.Sprintf("The name '%s' already exists.", name), &types.DuplicateName{Name: name, Object: e.Reference()})
		}
		s = &dsState{key: key, name: name, proto: fabric.NFS, dir: dev.Dir, server: server, remote: remote, mode: mode,
			uuid: nfsVolumeID(server, remote), mounts: map[types.ManagedObjectReference]bool{}}
		info := &types.NasDatastoreInfo{
			DatastoreInfo: v.datastoreInfo(s),
			Nas: &types.HostNasVolume{
				HostFileSystemVolume: types.HostFileSystemVolume{Type: "NFS", Name: name, Capacity: datastoreCapacity},
				RemoteHost:           server, RemotePath: remote, RemoteHostNames: []string{server},
			},
		}
		v.createDatastore(ctx, s, info, string(types.HostFileSystemVolumeFileSystemTypeNFS))
	}
	v.addMount(ctx, s, h)
	return s.ref, nil
}

// normalizeExport drops trailing slashes from an export path.
func normalizeExport(p string) string {
	p = strings.TrimRight(p, "/")
	if p == "" {
		return "/"
	}
	return p
}

// nfsVolumeID is the synthetic volume id ESXi shows for an NFS mount (/vmfs/volumes/<id>).
func nfsVolumeID(server, remote string) string {
	u := locationID("nfs", server+":"+remote)
	return strings.ReplaceAll(u, "-", "")[:8] + "-" + strings.ReplaceAll(u, "-", "")[8:16]
}

// refreshVMConnections sets runtime.connectionState of every VM from the accessibility of its
// configuration file's datastore on its host.
func (v *VCenter) refreshVMConnections(ctx *simulator.Context) {
	type item struct {
		ref  types.ManagedObjectReference
		want types.VirtualMachineConnectionState
	}
	var items []item
	v.mu.Lock()
	for ref, st := range v.vms {
		want := types.VirtualMachineConnectionStateInaccessible
		if s := v.storeByNameLocked(st.dsName); s != nil && s.mounts[st.host] {
			want = types.VirtualMachineConnectionStateConnected
		}
		if st.conn != want {
			st.conn = want
			items = append(items, item{ref, want})
		}
	}
	v.mu.Unlock()
	for _, it := range items {
		vm, ok := v.reg.Get(it.ref).(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		ctx.WithLock(vm, func() {
			ctx.Update(vm, []types.PropertyChange{
				{Name: "runtime.connectionState", Val: it.want},
				{Name: "summary.runtime.connectionState", Val: it.want},
			})
		})
	}
}

func (v *VCenter) storeByNameLocked(name string) *dsState {
	for _, s := range v.stores {
		if s.name == name {
			return s
		}
	}
	return nil
}

// addRef appends ref to a list property of obj (if absent), notifying property collectors.
func (v *VCenter) addRef(ctx *simulator.Context, obj types.ManagedObjectReference, prop string, ref types.ManagedObjectReference) {
	o := v.reg.Get(obj)
	if o == nil {
		return
	}
	ctx.WithLock(o, func() {
		cur := refList(o, prop)
		if simulator.FindReference(cur, ref) != nil {
			return
		}
		// Appending in place is safe: earlier values of the property are shorter slices of the
		// same array, which the append does not touch.
		ctx.Update(o, []types.PropertyChange{{Name: prop, Val: append(cur, ref)}})
	})
}

// appendNewRef appends a reference known not to be in the list yet (a VM just created).
func (v *VCenter) appendNewRef(ctx *simulator.Context, obj types.ManagedObjectReference, prop string, ref types.ManagedObjectReference) {
	o := v.reg.Get(obj)
	if o == nil {
		return
	}
	ctx.WithLock(o, func() {
		ctx.Update(o, []types.PropertyChange{{Name: prop, Val: append(refList(o, prop), ref)}})
	})
}

// removeRef removes ref from a list property of obj, notifying property collectors.
func (v *VCenter) removeRef(ctx *simulator.Context, obj types.ManagedObjectReference, prop string, ref types.ManagedObjectReference) {
	o := v.reg.Get(obj)
	if o == nil {
		return
	}
	ctx.WithLock(o, func() {
		cur := refList(o, prop)
		if simulator.FindReference(cur, ref) == nil {
			return
		}
		ctx.Update(o, []types.PropertyChange{{Name: prop, Val: withoutRef(cur, ref)}})
	})
}

// refList reads the reference-list properties the lab maintains.
func refList(o mo.Reference, prop string) []types.ManagedObjectReference {
	switch x := o.(type) {
	case *simulator.HostSystem:
		switch prop {
		case "datastore":
			return x.Datastore
		case "vm":
			return x.Vm
		case "network":
			return x.Network
		}
	case *simulator.ClusterComputeResource:
		switch prop {
		case "datastore":
			return x.Datastore
		case "network":
			return x.Network
		}
	case *simulator.Datastore:
		if prop == "vm" {
			return x.Vm
		}
	case *simulator.ResourcePool:
		if prop == "vm" {
			return x.Vm
		}
	case *simulator.Folder:
		if prop == "childEntity" {
			return x.ChildEntity
		}
	}
	return nil
}

func appendRef(list []types.ManagedObjectReference, ref types.ManagedObjectReference) []types.ManagedObjectReference {
	if simulator.FindReference(list, ref) != nil {
		return list
	}
	return append(append([]types.ManagedObjectReference(nil), list...), ref)
}

func withoutRef(list []types.ManagedObjectReference, ref types.ManagedObjectReference) []types.ManagedObjectReference {
	out := make([]types.ManagedObjectReference, 0, len(list))
	for _, r := range list {
		if r != ref {
			out = append(out, r)
		}
	}
	return out
}

func (v *VCenter) storeByRef(ref types.ManagedObjectReference) *dsState {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range v.stores {
		if s.ref == ref {
			return s
		}
	}
	return nil
}

func (v *VCenter) vmsOnDatastoreAndHost(s *dsState, h *hostInfo) int {
	ds, ok := v.reg.Get(s.ref).(*simulator.Datastore)
	if !ok {
		return 0
	}
	n := 0
	var vms []types.ManagedObjectReference
	v.reg.WithLock(v.ctx(), ds, func() { vms = append(vms, ds.Vm...) })
	v.mu.Lock()
	for _, ref := range vms {
		if st := v.vms[ref]; st != nil && st.host == h.ref {
			n++
		}
	}
	v.mu.Unlock()
	return n
}

// datastoreDir returns the directory behind a datastore name, if mounted and reachable from host
// (any host when host is zero).
func (v *VCenter) datastoreDir(name string, host types.ManagedObjectReference) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.storeByNameLocked(name)
	if s == nil {
		return "", false
	}
	if host.Value != "" {
		return s.dir, s.mounts[host]
	}
	return s.dir, s.accessible()
}

// fileExists reports whether a regular file exists.
func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
