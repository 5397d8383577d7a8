package vcenter

import (
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/fabric"
)

// Truth is the vCenter's state as the lab knows it, for assertions and the control endpoint.
type Truth struct {
	Site         string           `json:"site"`
	InstanceUUID string           `json:"instanceUuid"`
	URL          string           `json:"url,omitempty"`
	Down         string           `json:"down"`
	VMs          []VMTruth        `json:"vms"`
	Datastores   []DatastoreTruth `json:"datastores"`
	Hosts        []HostTruth      `json:"hosts"`
	// StorageFaults: every time storage went away under a mounted datastore (a LUN unmapped,
	// offlined or deleted, or turned read-only, before the host unmounted the volume)
	StorageFaults []StorageFault `json:"storageFaults"`
	// Mutations counts the changes the lab made for clients, by "Kind key" (mutations.go).
	Mutations map[string]int `json:"mutations"`
}

// VMTruth is one registered VM.
type VMTruth struct {
	Ref                  string         `json:"ref"`
	Name                 string         `json:"name"`
	InstanceUUID         string         `json:"instanceUuid"`
	BIOSUUID             string         `json:"biosUuid"`
	Folder               string         `json:"folder"`       // path below the datacenter's VM folder ("" for the folder itself)
	ResourcePool         string         `json:"resourcePool"` // "<cluster>" or "<cluster>/<pool path>"
	Host                 string         `json:"host"`
	VMXPath              string         `json:"vmxPath"`
	Datastores           []string       `json:"datastores"`
	Template             bool           `json:"template,omitempty"`
	PowerState           string         `json:"powerState"`
	ConnectionState      string         `json:"connectionState"`
	Question             *QuestionTruth `json:"question,omitempty"`
	NICs                 []NICTruth     `json:"nics"`
	Media                []MediaTruth   `json:"media"` // CD-ROM and floppy drives
	ToolsAfterPowerOn    bool           `json:"toolsAfterPowerOn"`
	ToolsRunning         bool           `json:"toolsRunning"`
	Heartbeat            string         `json:"heartbeat"`
	GuestIP              string         `json:"guestIp,omitempty"`
	GuestHostName        string         `json:"guestHostName,omitempty"`
	PendingCustomization bool           `json:"pendingCustomization,omitempty"`
	BootTime             string         `json:"bootTime,omitempty"` // lab clock, while powered on
}

// QuestionTruth is a VM's pending question.
type QuestionTruth struct {
	ID        string        `json:"id"`
	MessageID string        `json:"messageId"`
	Text      string        `json:"text"`
	Choices   []ChoiceTruth `json:"choices"`
}

// ChoiceTruth is one possible answer.
type ChoiceTruth struct {
	Key     string `json:"key"`
	Label   string `json:"label"`
	Summary string `json:"summary"`
}

// NICTruth is one network adapter.
type NICTruth struct {
	Key            int32  `json:"key"`
	Label          string `json:"label"`
	Portgroup      string `json:"portgroup"`
	Resolved       bool   `json:"resolved"` // attached to a network of this datacenter
	MAC            string `json:"mac"`
	Connected      bool   `json:"connected"`
	StartConnected bool   `json:"startConnected"`
	GuestIP        string `json:"guestIp,omitempty"`
}

// MediaTruth is one CD-ROM or floppy drive.
type MediaTruth struct {
	Key            int32  `json:"key"`
	Kind           string `json:"kind"` // "cdrom" | "floppy"
	Label          string `json:"label"`
	Backing        string `json:"backing"` // backing type name, e.g. VirtualCdromRemotePassthroughBackingInfo
	Connected      bool   `json:"connected"`
	StartConnected bool   `json:"startConnected"`
}

// DatastoreTruth is one datastore and its mounts.
type DatastoreTruth struct {
	Ref        string       `json:"ref"`
	Name       string       `json:"name"`
	Type       string       `json:"type"` // VMFS | NFS
	Dir        string       `json:"dir"`
	Device     string       `json:"device,omitempty"`   // VMFS: NAA of the LUN behind it
	VMFSUUID   string       `json:"vmfsUuid,omitempty"` // VMFS
	RemoteHost string       `json:"remoteHost,omitempty"`
	RemotePath string       `json:"remotePath,omitempty"`
	Accessible bool         `json:"accessible"`
	Mounts     []MountTruth `json:"mounts"`
	VMs        int          `json:"vms"`
}

// MountTruth is one host's mount of a datastore.
type MountTruth struct {
	Host       string `json:"host"`
	Accessible bool   `json:"accessible"`
	Mounted    bool   `json:"mounted"`          // false: the host unmounted it and still sees its device
	Reason     string `json:"reason,omitempty"` // why it is inaccessible (PermanentDeviceLoss, ...)
}

// HostTruth is one ESXi host and the datastores it sees.
type HostTruth struct {
	Ref        string             `json:"ref"`
	Name       string             `json:"name"`
	Cluster    string             `json:"cluster"`
	Initiator  string             `json:"initiator"`
	IP         string             `json:"ip"`
	Datastores []HostMountedTruth `json:"datastores"`
	Devices    []string           `json:"devices"` // NAA names of the SCSI disks it sees
	// DeviceStates: operational state of each device ("ok", "off" when detached,
	// "lostCommunication" when it went away under a mounted volume)
	DeviceStates map[string]string `json:"deviceStates"`
	Unresolved   []string          `json:"unresolved"` // devices carrying an unresolved VMFS copy
}

// HostMountedTruth is a datastore as one host sees it.
type HostMountedTruth struct {
	Name       string `json:"name"`
	Accessible bool   `json:"accessible"`
}

// Truth returns a consistent snapshot of the vCenter's state.
func (v *VCenter) Truth() Truth {
	v.opMu.Lock()
	defer v.opMu.Unlock()
	ctx := v.ctx()
	t := Truth{Site: v.site.ID, InstanceUUID: v.InstanceUUID(), Down: v.Down().String()}
	if u := v.URL(); u != nil {
		t.URL = u.String()
	}
	for _, e := range v.reg.All("VirtualMachine") {
		if vm, ok := e.(*simulator.VirtualMachine); ok {
			if vt, ok := v.vmTruth(ctx, vm); ok {
				t.VMs = append(t.VMs, vt)
			}
		}
	}
	sort.Slice(t.VMs, func(i, j int) bool {
		if t.VMs[i].Name != t.VMs[j].Name {
			return t.VMs[i].Name < t.VMs[j].Name
		}
		return t.VMs[i].Ref < t.VMs[j].Ref
	})
	t.Datastores = v.datastoreTruth(ctx)
	t.Hosts = v.hostTruth(ctx, t.Datastores)
	t.Mutations = v.Mutations()
	t.StorageFaults = v.StorageFaults()
	if t.StorageFaults == nil {
		t.StorageFaults = []StorageFault{}
	}
	return t
}

// VM returns the ground truth of the VM with that name (the first, by reference, if several).
func (v *VCenter) VM(name string) (VMTruth, bool) {
	for _, vm := range v.Truth().VMs {
		if vm.Name == name {
			return vm, true
		}
	}
	return VMTruth{}, false
}

func (v *VCenter) vmTruth(ctx *simulator.Context, vm *simulator.VirtualMachine) (VMTruth, bool) {
	st := v.vmStateFor(ctx, vm.Self)
	if st == nil {
		return VMTruth{}, false
	}
	var t VMTruth
	ok := true
	ctx.WithLock(vm, func() {
		if vm.Config == nil || vm.Runtime.Host == nil {
			ok = false
			return
		}
		t = VMTruth{
			Ref: vm.Self.Value, Name: unescapeName(vm.Name), InstanceUUID: vm.Config.InstanceUuid, BIOSUUID: vm.Config.Uuid,
			VMXPath: vm.Config.Files.VmPathName, Template: vm.Config.Template,
			PowerState: string(vm.Runtime.PowerState), ConnectionState: string(vm.Runtime.ConnectionState),
			ToolsAfterPowerOn: vm.Config.Tools != nil && isTrue(vm.Config.Tools.AfterPowerOn),
			Heartbeat:         string(vm.GuestHeartbeatStatus),
		}
		if vm.Runtime.BootTime != nil && vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
			t.BootTime = vm.Runtime.BootTime.UTC().Format(time.RFC3339Nano)
		}
		if h := v.inv.hostByRef[*vm.Runtime.Host]; h != nil {
			t.Host = h.name
		}
		if vm.Parent != nil {
			t.Folder = v.folderPath(*vm.Parent)
		}
		if vm.ResourcePool != nil {
			t.ResourcePool = v.poolPath(*vm.ResourcePool)
		}
		for _, d := range vm.Datastore {
			if s := v.storeByRef(d); s != nil {
				t.Datastores = append(t.Datastores, s.name)
			}
		}
		if q := vm.Runtime.Question; q != nil {
			qt := &QuestionTruth{ID: q.Id, Text: q.Text}
			if len(q.Message) > 0 {
				qt.MessageID = q.Message[0].Id
			}
			for _, c := range q.Choice.ChoiceInfo {
				ed := c.GetElementDescription()
				qt.Choices = append(qt.Choices, ChoiceTruth{Key: ed.Key, Label: ed.Label, Summary: ed.Summary})
			}
			t.Question = qt
		}
		if g := vm.Guest; g != nil {
			t.ToolsRunning = g.ToolsRunningStatus == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)
			t.GuestIP = g.IpAddress
			t.GuestHostName = g.HostName
		}
		t.PendingCustomization = vm.Config.Tools != nil && vm.Config.Tools.PendingCustomization != ""
		guestIPs := map[int32]string{}
		if vm.Guest != nil {
			for _, n := range vm.Guest.Net {
				if len(n.IpAddress) > 0 {
					guestIPs[n.DeviceConfigId] = n.IpAddress[0]
				}
			}
		}
		v.mu.Lock()
		nics := st.nics
		v.mu.Unlock()
		for _, d := range object.VirtualDeviceList(vm.Config.Hardware.Device) {
			vd := d.GetVirtualDevice()
			label := deviceLabel(vd.DeviceInfo)
			conn, start := false, false
			if c := vd.Connectable; c != nil {
				conn, start = c.Connected, c.StartConnected
			}
			switch d.(type) {
			case types.BaseVirtualEthernetCard:
				card := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
				nt := NICTruth{Key: vd.Key, Label: label, Portgroup: v.nicNetworkName(vd, nics[vd.Key]), MAC: card.MacAddress,
					Connected: conn, StartConnected: start, GuestIP: guestIPs[vd.Key]}
				switch b := vd.Backing.(type) {
				case *types.VirtualEthernetCardNetworkBackingInfo:
					nt.Resolved = b.Network != nil
				case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
					nt.Resolved = v.findPortgroupByKey(b.Port.SwitchUuid, b.Port.PortgroupKey).ref.Value != ""
				}
				t.NICs = append(t.NICs, nt)
			case *types.VirtualCdrom, *types.VirtualFloppy:
				kind := "cdrom"
				if _, ok := d.(*types.VirtualFloppy); ok {
					kind = "floppy"
				}
				t.Media = append(t.Media, MediaTruth{Key: vd.Key, Kind: kind, Label: label, Backing: typeName(vd.Backing),
					Connected: conn, StartConnected: start})
			}
		}
	})
	return t, ok
}

func typeName(x any) string {
	if x == nil {
		return ""
	}
	t := reflect.TypeOf(x)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// folderPath renders a VM folder's path below the datacenter's VM folder.
func (v *VCenter) folderPath(ref types.ManagedObjectReference) string {
	var parts []string
	for i := 0; i < 64 && ref != v.inv.vmFolder; i++ {
		e, ok := v.reg.Get(ref).(mo.Entity)
		if !ok {
			break
		}
		parts = append([]string{unescapeName(e.Entity().Name)}, parts...)
		if e.Entity().Parent == nil {
			break
		}
		ref = *e.Entity().Parent
	}
	return strings.Join(parts, "/")
}

// poolPath renders a resource pool as "<cluster>" (root pool) or "<cluster>/<path>".
func (v *VCenter) poolPath(ref types.ManagedObjectReference) string {
	var parts []string
	for i := 0; i < 64; i++ {
		rp, ok := v.reg.Get(ref).(*simulator.ResourcePool)
		if !ok {
			break
		}
		if rp.Parent == nil || rp.Parent.Type != "ResourcePool" {
			if cl, ok := v.reg.Get(rp.Owner).(*simulator.ClusterComputeResource); ok {
				parts = append([]string{cl.Name}, parts...)
			}
			break
		}
		parts = append([]string{rp.Name}, parts...)
		ref = *rp.Parent
	}
	return strings.Join(parts, "/")
}

func (v *VCenter) datastoreTruth(ctx *simulator.Context) []DatastoreTruth {
	v.mu.Lock()
	stores := make([]*dsState, 0, len(v.stores))
	for _, s := range v.stores {
		stores = append(stores, s)
	}
	v.mu.Unlock()
	var out []DatastoreTruth
	for _, s := range stores {
		v.mu.Lock()
		d := DatastoreTruth{Ref: s.ref.Value, Name: s.name, Dir: s.dir, Accessible: s.accessible()}
		switch s.proto {
		case fabric.VMFS:
			d.Type, d.Device, d.VMFSUUID = "VMFS", s.naa, s.uuid
		default:
			d.Type, d.RemoteHost, d.RemotePath = "NFS", s.server, s.remote
		}
		for h, ok := range s.mounts {
			name := h.Value
			if hi := v.inv.hostByRef[h]; hi != nil {
				name = hi.name
			}
			d.Mounts = append(d.Mounts, MountTruth{Host: name, Accessible: ok, Mounted: true, Reason: s.reasons[h]})
		}
		for h := range s.parked {
			name := h.Value
			if hi := v.inv.hostByRef[h]; hi != nil {
				name = hi.name
			}
			d.Mounts = append(d.Mounts, MountTruth{Host: name})
		}
		v.mu.Unlock()
		sort.Slice(d.Mounts, func(i, j int) bool { return d.Mounts[i].Host < d.Mounts[j].Host })
		if ds, ok := v.reg.Get(s.ref).(*simulator.Datastore); ok {
			ctx.WithLock(ds, func() { d.VMs = len(ds.Vm) })
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (v *VCenter) hostTruth(ctx *simulator.Context, dss []DatastoreTruth) []HostTruth {
	var out []HostTruth
	for _, h := range v.inv.hosts {
		ht := HostTruth{Ref: h.ref.Value, Name: h.name, Cluster: h.cluster.name, Initiator: h.initiator, IP: h.ip, DeviceStates: map[string]string{}}
		copies, _ := v.unresolvedOn(h)
		for _, devs := range copies {
			for _, d := range devs {
				ht.Unresolved = append(ht.Unresolved, d.NAA)
			}
		}
		sort.Strings(ht.Unresolved)
		for _, d := range dss {
			for _, m := range d.Mounts {
				if m.Host == h.name && m.Mounted {
					ht.Datastores = append(ht.Datastores, HostMountedTruth{Name: d.Name, Accessible: m.Accessible})
				}
			}
		}
		if ss, ok := v.reg.Get(h.storage).(*simulator.HostStorageSystem); ok {
			ctx.WithLock(ss, func() {
				if ss.StorageDeviceInfo != nil {
					for _, l := range ss.StorageDeviceInfo.ScsiLun {
						sl := l.GetScsiLun()
						ht.Devices = append(ht.Devices, sl.CanonicalName)
						if len(sl.OperationalState) > 0 {
							ht.DeviceStates[sl.CanonicalName] = sl.OperationalState[0]
						}
					}
				}
			})
		}
		out = append(out, ht)
	}
	return out
}
