package vcenter

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/fabric"
	"vmdr.local/lab/internal/topology"
)

// VMFS copies, device states and storage faults, as ESXi 7/8 handle them (vSphere Storage,
// "Managing Duplicate VMFS Datastores" and "Working with Permanent Device Loss"):
//
//   - A VMFS volume carries the device it was written on (fabric.Header.Device). On any other
//     device (a SnapMirror replica, a FlexClone) it is an unresolved copy: seen at a rescan, listed
//     by QueryUnresolvedVmfsVolume(s), mounted only when resolved. Force-mounting keeps the UUID
//     (refused with VmfsAlreadyMounted while another copy is mounted at the site) and is
//     remembered by the host; resignaturing writes a new UUID and a "snap-xxxxxxxx-" label on the
//     device, after which every host mounts it as its own. With LVM.DisallowSnapshotLun=0 on a
//     host (Options.MountCopiesByLabel), copies mount under their label at a rescan, as in the
//     VMbook's ESX 3 days.
//   - UnmountVmfsVolume / MountVmfsVolume and DetachScsiLun / AttachScsiLun are remembered by the
//     host across rescans. The safe way to take a LUN away is unmount, detach, then unmap.
//   - A device that goes away while a volume on it is mounted (unmapped, offline, deleted, the
//     array down) is a permanent device loss: the mount turns inaccessible (PermanentDeviceLoss)
//     at once, as the VMFS heartbeat notices it, and so do the VMs on it; the device stays listed
//     as lostCommunication. With Disk.AutoremoveOnPDL=1 (ESXi's default) a host removes a lost
//     device at its next rescan once no powered-on VM uses it, and with it the mount. A LUN that
//     turns read-only under a mounted volume (a reverse resync) makes it inaccessible the same way
//     until it is writable again. Every such loss is recorded (Truth.StorageFaults) so a test can
//     catch an operator that removes storage in the wrong order.

// hostStore is what one host remembers about its storage, as ESXi persists it.
type hostStore struct {
	seen      map[string]bool       // devices found by the last rescan
	unmounted map[string]bool       // VMFS UUID -> unmounted (stays so across rescans)
	forced    map[string]string     // VMFS UUID -> device the copy was force-mounted from
	detached  map[string]bool       // device -> detached (no I/O until attached)
	lost      map[string]lostDevice // device -> lost while a mounted volume was on it
	autoPDL   bool                  // Disk.AutoremoveOnPDL
}

type lostKind int

const (
	lostPDL      lostKind = iota // the device is gone
	lostReadOnly                 // the device is there but no longer writable
)

type lostDevice struct {
	dev  fabric.Device
	kind lostKind
}

// StorageFault is one loss of storage under a mounted volume, as the lab saw it happen.
type StorageFault struct {
	Host      string   `json:"host"`
	Datastore string   `json:"datastore"`
	Device    string   `json:"device"`
	Kind      string   `json:"kind"` // PermanentDeviceLoss, ReadOnly, AllPathsDown
	VMs       []string `json:"vms"`  // VMs registered on the datastore on that host
	Running   []string `json:"running,omitempty"`
	At        string   `json:"at"`
}

// hostStore returns h's store. The caller holds v.mu.
func (v *VCenter) hostStore(h *hostInfo) *hostStore {
	if v.hstore == nil {
		v.hstore = map[types.ManagedObjectReference]*hostStore{}
	}
	hs := v.hstore[h.ref]
	if hs == nil {
		hs = &hostStore{seen: map[string]bool{}, unmounted: map[string]bool{}, forced: map[string]string{},
			detached: map[string]bool{}, lost: map[string]lostDevice{}, autoPDL: !v.opts.KeepLostDevices}
		v.hstore[h.ref] = hs
	}
	return hs
}

// copiesByLabel reports whether a host mounts VMFS copies under their label at a rescan
// (LVM.DisallowSnapshotLun=0).
func (v *VCenter) copiesByLabel(h *hostInfo) bool {
	return v.intOption(h, "LVM.DisallowSnapshotLun", 1) == 0
}

// intOption reads an integer host advanced setting.
func (v *VCenter) intOption(h *hostInfo, key string, def int64) int64 {
	om, ok := v.reg.Get(h.options).(*simulator.OptionManager)
	if !ok {
		return def
	}
	val := def
	v.reg.WithLock(v.ctx(), om, func() {
		for _, s := range om.Setting {
			if ov := s.GetOptionValue(); ov.Key == key {
				switch n := ov.Value.(type) {
				case int64:
					val = n
				case int32:
					val = int64(n)
				case int:
					val = int64(n)
				}
			}
		}
	})
	return val
}

func (v *VCenter) isDetached(h *hostInfo, naa string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.hostStore(h).detached[naa]
}

func (v *VCenter) clearLost(h *hostInfo, naa string) {
	v.mu.Lock()
	delete(v.hostStore(h).lost, naa)
	v.mu.Unlock()
}

// scsiLunUUID is the ScsiLun.uuid ESXi derives for a NetApp LUN.
func scsiLunUUID(naa string) string {
	return "02000000" + strings.TrimPrefix(naa, "naa.") + "4c554e20432d"
}

// loseMount turns a host's mount of a VMFS volume inaccessible because its device is gone or no
// longer writable, and records the fault. present is what the host sees now.
func (v *VCenter) loseMount(ctx *simulator.Context, s *dsState, h *hostInfo, present map[string]fabric.Device) {
	v.mu.Lock()
	acc, mounted := s.mounts[h.ref]
	naa := s.naa
	v.mu.Unlock()
	if !mounted {
		return
	}
	d, there := present[naa]
	kind, reason, label := lostPDL, "PermanentDeviceLoss", "PermanentDeviceLoss"
	if there && !d.Writable {
		kind, reason, label = lostReadOnly, "", "ReadOnly"
	}
	if !there {
		d = fabric.Device{NAA: naa, Dir: s.dir}
		for _, l := range v.fabric.Devices(v.site.ID) {
			if l.NAA == naa {
				d = l
			}
		}
	}
	v.mu.Lock()
	hs := v.hostStore(h)
	if _, known := hs.lost[naa]; !known || hs.lost[naa].kind != kind {
		hs.lost[naa] = lostDevice{dev: d, kind: kind}
	}
	v.mu.Unlock()
	if acc {
		v.recordFault(ctx, s, h, label)
	}
	v.setMountAccessible(ctx, s, h, false, reason)
}

// recordFault notes a storage loss under a mounted volume, with the VMs it hit.
func (v *VCenter) recordFault(ctx *simulator.Context, s *dsState, h *hostInfo, kind string) {
	f := StorageFault{Host: h.name, Datastore: s.name, Device: s.naa, Kind: kind, At: v.clock.Now().UTC().Format(time.RFC3339Nano)}
	ds, ok := v.reg.Get(s.ref).(*simulator.Datastore)
	if ok {
		var vms []types.ManagedObjectReference
		ctx.WithLock(ds, func() { vms = append(vms, ds.Vm...) })
		for _, ref := range sortedRefs(vms) {
			v.mu.Lock()
			st := v.vms[ref]
			onHost := st != nil && st.host == h.ref
			v.mu.Unlock()
			if !onHost {
				continue
			}
			vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
			if !ok {
				continue
			}
			var name string
			var on bool
			ctx.WithLock(vm, func() { name, on = vm.Name, vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn })
			f.VMs = append(f.VMs, name)
			if on {
				f.Running = append(f.Running, name)
			}
		}
	}
	v.log.Info("storage lost under a mounted datastore", "host", h.name, "datastore", s.name, "device", s.naa, "kind", kind, "vms", len(f.VMs))
	v.mu.Lock()
	v.faultLog = append(v.faultLog, f)
	v.mu.Unlock()
}

// StorageFaults returns every storage loss under a mounted volume since the start.
func (v *VCenter) StorageFaults() []StorageFault {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]StorageFault(nil), v.faultLog...)
}

// autoremoveLost removes, as Disk.AutoremoveOnPDL=1 does, the devices a host lost that are still
// gone and that no powered-on VM of the host uses; the mounts on them go too. Mounts of a LUN
// that is still read-only go the same way.
func (v *VCenter) autoremoveLost(ctx *simulator.Context, h *hostInfo, present map[string]fabric.Device) {
	v.mu.Lock()
	hs := v.hostStore(h)
	auto := hs.autoPDL && v.intOption(h, "Disk.AutoremoveOnPDL", 1) != 0
	var gone []string
	for naa, l := range hs.lost {
		d, there := present[naa]
		switch {
		case l.kind == lostPDL && !there && auto:
			gone = append(gone, naa)
		case l.kind == lostReadOnly && (!there || !d.Writable):
			// A LUN that stays read-only (a SnapMirror destination again) holds no mountable
			// volume: it is dropped like a copy that is not mounted.
			gone = append(gone, naa)
		}
	}
	var stores []*dsState
	for _, s := range v.stores {
		if _, ok := s.mounts[h.ref]; ok && s.proto == fabric.VMFS {
			stores = append(stores, s)
		}
	}
	v.mu.Unlock()
	sort.Strings(gone)
	for _, naa := range gone {
		busy := false
		var on []*dsState
		for _, s := range stores {
			if s.naa != naa {
				continue
			}
			on = append(on, s)
			if v.runningOn(ctx, s, h) {
				busy = true
			}
		}
		if busy {
			continue
		}
		for _, s := range on {
			v.unmount(ctx, s, h)
		}
		v.mu.Lock()
		delete(hs.lost, naa)
		v.mu.Unlock()
	}
}

// runningOn reports whether a powered-on VM of host h has its files on s.
func (v *VCenter) runningOn(ctx *simulator.Context, s *dsState, h *hostInfo) bool {
	ds, ok := v.reg.Get(s.ref).(*simulator.Datastore)
	if !ok {
		return false
	}
	var vms []types.ManagedObjectReference
	ctx.WithLock(ds, func() { vms = append(vms, ds.Vm...) })
	for _, ref := range vms {
		v.mu.Lock()
		st := v.vms[ref]
		onHost := st != nil && st.host == h.ref
		v.mu.Unlock()
		vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
		if !onHost || !ok {
			continue
		}
		on := false
		ctx.WithLock(vm, func() { on = vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff })
		if on {
			return true
		}
	}
	return false
}

// park unmounts a VMFS volume on a host that keeps seeing its device (UnmountVmfsVolume).
func (v *VCenter) park(ctx *simulator.Context, s *dsState, h *hostInfo) {
	v.mu.Lock()
	if s.parked == nil {
		s.parked = map[types.ManagedObjectReference]bool{}
	}
	s.parked[h.ref] = true
	hs := v.hostStore(h)
	hs.unmounted[s.uuid] = true
	v.mu.Unlock()
	v.unmount(ctx, s, h)
}

// unpark forgets an unmounted volume on a host (its device was detached or went away).
func (v *VCenter) unpark(ctx *simulator.Context, s *dsState, h *hostInfo) {
	v.mu.Lock()
	delete(s.parked, h.ref)
	v.mu.Unlock()
	v.updateFileSystemVolumes(ctx, h)
	v.settle(ctx, s, h)
}

// heartbeat is the VMFS and NFS heartbeat of every host: it notices, without a rescan, when a
// mounted volume's device is gone or no longer writable (or an NFS export stops serving), as
// ESXi does within seconds, and turns the mount and its VMs inaccessible. Recovery takes a rescan.
func (v *VCenter) heartbeat() {
	defer v.wg.Done()
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-v.closing:
			return
		case <-t.C:
		}
		v.beat()
	}
}

const heartbeatEvery = 100 * time.Millisecond

// beat checks every accessible mount once.
func (v *VCenter) beat() {
	devs := v.fabric.Devices(v.site.ID)
	byNAA := map[string]fabric.Device{}
	nfs := map[string]fabric.Device{}
	for _, d := range devs {
		switch d.Protocol {
		case fabric.VMFS:
			byNAA[d.NAA] = d
		case fabric.NFS:
			if d.ExportPath != "" {
				nfs[nfsKey(d.Server, normalizeExport(d.ExportPath))] = d
			}
		}
	}
	type hit struct {
		s *dsState
		h *hostInfo
	}
	var hits []hit
	v.mu.Lock()
	for _, s := range v.stores {
		for href, acc := range s.mounts {
			h := v.inv.hostByRef[href]
			if !acc || h == nil {
				continue
			}
			switch s.proto {
			case fabric.VMFS:
				d, ok := byNAA[s.naa]
				if !ok || !d.Online || !d.Writable || !hasInitiator(d.Initiators, h.initiator) {
					hits = append(hits, hit{s, h})
				}
			case fabric.NFS:
				d, ok := nfs[s.key]
				if !ok || exportAccess(d, h.ip) == "" || (s.mode == types.HostMountModeReadWrite && exportAccess(d, h.ip) != "rw") {
					hits = append(hits, hit{s, h})
				}
			}
		}
	}
	v.mu.Unlock()
	if len(hits) == 0 {
		return
	}
	v.opMu.Lock()
	defer v.opMu.Unlock()
	ctx := v.ctx()
	present := map[string]fabric.Device{}
	for _, hh := range hits {
		if hh.s.proto == fabric.NFS {
			v.recordFault(ctx, hh.s, hh.h, "AllPathsDown")
			v.setMountAccessible(ctx, hh.s, hh.h, false, "AllPathsDown_Timeout")
			continue
		}
		for k := range present {
			delete(present, k)
		}
		for naa, d := range byNAA {
			if d.Online && hasInitiator(d.Initiators, hh.h.initiator) {
				present[naa] = d
			}
		}
		v.loseMount(ctx, hh.s, hh.h, present)
	}
	v.refreshVMConnections(ctx)
	for _, hh := range hits {
		v.updateScsiLunsFromFabric(ctx, hh.h)
	}
}

// updateScsiLunsFromFabric refreshes a host's device list with what it saw at its last rescan,
// in the states it has now.
func (v *VCenter) updateScsiLunsFromFabric(ctx *simulator.Context, h *hostInfo) {
	v.mu.Lock()
	seen := v.hostStore(h).seen
	v.mu.Unlock()
	var luns []fabric.Device
	for _, d := range v.fabric.Devices(v.site.ID) {
		if d.Protocol == fabric.VMFS && seen[d.NAA] && d.Online && hasInitiator(d.Initiators, h.initiator) {
			luns = append(luns, d)
		}
	}
	v.updateScsiLuns(ctx, h, luns)
}

// ---- unresolved copies ----

// unresolvedOn lists the unresolved VMFS copies a host found at its last rescan.
func (v *VCenter) unresolvedOn(h *hostInfo) (map[string][]fabric.Device, map[string]fabric.Header) {
	hd := v.devicesFor(h)
	v.mu.Lock()
	seen := v.hostStore(h).seen
	v.mu.Unlock()
	out := map[string][]fabric.Device{}
	for u, devs := range hd.unresolved {
		for _, d := range devs {
			if seen[d.NAA] {
				out[u] = append(out[u], d)
			}
		}
	}
	return out, hd.headers
}

// mountedElsewhere reports which accessible mount of VMFS uuid at this site comes from a device
// other than naa ("" when none): a copy cannot be force-mounted then.
func (v *VCenter) mountedElsewhere(uuid, naa string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.stores[vmfsKey(uuid)]
	if s == nil || s.naa == naa || !s.accessible() {
		return ""
	}
	for href, acc := range s.mounts {
		if acc {
			if h := v.inv.hostByRef[href]; h != nil {
				return h.name
			}
		}
	}
	return ""
}

// unresolvedVolumes renders a host's unresolved copies as QueryUnresolvedVmfsVolume answers.
func (v *VCenter) unresolvedVolumes(h *hostInfo) []types.HostUnresolvedVmfsVolume {
	copies, headers := v.unresolvedOn(h)
	uuids := make([]string, 0, len(copies))
	for u := range copies {
		uuids = append(uuids, u)
	}
	sort.Strings(uuids)
	var out []types.HostUnresolvedVmfsVolume
	blocks := datastoreCapacity / (1 << 20)
	for _, u := range uuids {
		devs := copies[u]
		for _, d := range devs {
			reason := string(types.HostUnresolvedVmfsExtentUnresolvedReasonDiskIdMismatch)
			if v.mountedElsewhere(u, d.NAA) != "" {
				reason = string(types.HostUnresolvedVmfsExtentUnresolvedReasonUuidConflict)
			}
			out = append(out, types.HostUnresolvedVmfsVolume{
				Extent: []types.HostUnresolvedVmfsExtent{{
					Device:     types.HostScsiDiskPartition{DiskName: d.NAA, Partition: 1},
					DevicePath: "/vmfs/devices/disks/" + d.NAA + ":1",
					VmfsUuid:   u, IsHeadExtent: true, Ordinal: 0, StartBlock: 0, EndBlock: int32(blocks - 1),
					Reason: reason,
				}},
				VmfsLabel:   headers[d.NAA].Label,
				VmfsUuid:    u,
				TotalBlocks: int32(blocks),
				ResolveStatus: types.HostUnresolvedVmfsVolumeResolveStatus{
					Resolvable: true, IncompleteExtents: types.NewBool(false), MultipleCopies: types.NewBool(len(devs) > 1),
				},
			})
		}
	}
	return out
}

// findCopy finds the unresolved copy an extent device path names on a host.
func (v *VCenter) findCopy(h *hostInfo, paths []string) (fabric.Device, fabric.Header, types.BaseMethodFault) {
	if len(paths) == 0 {
		return fabric.Device{}, fabric.Header{}, &types.InvalidArgument{InvalidProperty: "resolutionSpec.extentDevicePath"}
	}
	want := strings.TrimPrefix(paths[0], "/vmfs/devices/disks/")
	if i := strings.LastIndex(want, ":"); i > 0 {
		want = want[:i]
	}
	copies, headers := v.unresolvedOn(h)
	for _, devs := range copies {
		for _, d := range devs {
			if d.NAA == want {
				return d, headers[d.NAA], nil
			}
		}
	}
	return fabric.Device{}, fabric.Header{}, &types.HostConfigFault{}
}

// forceMount mounts an unresolved copy keeping its signature, and remembers it on the host.
func (v *VCenter) forceMount(ctx *simulator.Context, h *hostInfo, d fabric.Device, hdr fabric.Header) (*dsState, types.BaseMethodFault) {
	if other := v.mountedElsewhere(hdr.UUID, d.NAA); other != "" {
		return nil, &types.VmfsAlreadyMounted{VmfsMountFault: types.VmfsMountFault{Uuid: hdr.UUID}}
	}
	old := ""
	if s := v.datastoreByUUID(hdr.UUID); s != nil {
		old = s.naa
	}
	v.mu.Lock()
	hs := v.hostStore(h)
	hs.forced[hdr.UUID] = d.NAA
	delete(hs.unmounted, hdr.UUID)
	delete(hs.lost, d.NAA)
	v.mu.Unlock()
	v.mountVMFS(ctx, h, d, hdr)
	v.clearLost(h, old) // a mount that had lost its device now has another
	v.refreshVMConnections(ctx)
	return v.datastoreByUUID(hdr.UUID), nil
}

func (v *VCenter) datastoreByUUID(uuid string) *dsState {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.stores[vmfsKey(uuid)]
}

// resignature gives a copy a new signature on its device (a new UUID, the "snap-xxxxxxxx-" label)
// and mounts it on h; the other hosts mount it at their next rescan.
func (v *VCenter) resignature(ctx *simulator.Context, h *hostInfo, d fabric.Device, hdr fabric.Header) (*dsState, types.BaseMethodFault) {
	id := topology.UUIDFor("vmfs-resignature", hdr.UUID+"/"+d.NAA)
	nh := fabric.Header{Label: fmt.Sprintf("snap-%s-%s", strings.ReplaceAll(id, "-", "")[:8], hdr.Label), UUID: id, Device: d.NAA}
	if err := fabric.WriteHeader(d.Dir, nh); err != nil {
		return nil, &types.HostConfigFault{}
	}
	v.mu.Lock()
	delete(v.hostStore(h).unmounted, id)
	v.mu.Unlock()
	v.mountVMFS(ctx, h, d, nh)
	v.refreshVMConnections(ctx)
	return v.datastoreByUUID(id), nil
}

// hostsSeeing returns the hosts of this site that a device is presented to.
func (v *VCenter) hostsSeeing(d fabric.Device) []*hostInfo {
	var out []*hostInfo
	for _, h := range v.inv.hosts {
		if hasInitiator(d.Initiators, h.initiator) {
			out = append(out, h)
		}
	}
	return out
}
