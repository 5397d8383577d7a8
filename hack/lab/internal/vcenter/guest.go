package vcenter

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The guest model. A powered-on VM's guest boots for Options.GuestBootTime (lab clock); then VMware
// Tools run, the heartbeat is green and the guest reports the network configuration it has: the
// one its .vmx records (lab.guest.* keys, standing for the guest OS's own settings), or the one a
// customization pending from CustomizeVM_Task applied at this boot. A customization changes the
// guest's settings for good: they are written back to the .vmx and replicate with it.

const toolsVersion = "12352"

func (v *VCenter) bootTime() time.Duration {
	switch d := v.opts.GuestBootTime; {
	case d == 0:
		return 2 * time.Second
	case d < 0:
		return 0
	default:
		return d
	}
}

// scheduleBoot starts a guest boot; the guest comes up after the boot time unless the VM is
// powered off, reset or rebooted in between.
func (v *VCenter) scheduleBoot(ref types.ManagedObjectReference, st *vmState) {
	v.mu.Lock()
	st.bootSeq++
	seq := st.bootSeq
	st.toolsUp = false
	if st.bootTimer != nil {
		st.bootTimer.Stop()
	}
	st.bootTimer = v.clock.AfterFunc(v.bootTime(), func() { v.guestUp(ref, seq) })
	v.mu.Unlock()
}

// guestUp is the end of a guest boot.
func (v *VCenter) guestUp(ref types.ManagedObjectReference, seq uint64) {
	defer v.recoverLog("guest boot")
	v.opMu.Lock()
	defer v.opMu.Unlock()
	if v.closed.Load() {
		return
	}
	v.guestUpLocked(v.ctx(), ref, seq)
}

// guestUpLocked brings a VM's guest up: pending customization, tools, heartbeat, guest network
// information. The caller holds opMu.
func (v *VCenter) guestUpLocked(ctx *simulator.Context, ref types.ManagedObjectReference, seq uint64) {
	vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
	st := v.vmState(ref)
	if !ok || st == nil {
		return
	}
	v.mu.Lock()
	current := st.bootSeq == seq
	spec := st.pendingCust
	v.mu.Unlock()
	if !current {
		return
	}
	var on bool
	ctx.WithLock(vm, func() { on = vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn })
	if !on {
		return
	}
	if spec != nil {
		v.applyCustomization(ctx, vm, st, spec)
	}
	v.runReipScript(ctx, vm, st)
	v.mu.Lock()
	st.toolsUp = true
	v.mu.Unlock()
	v.setGuest(ctx, vm, st, true)
}

// guestDown marks a VM's guest as not running (power-off, suspend, reset, reboot). The caller holds
// opMu.
func (v *VCenter) guestDown(ctx *simulator.Context, vm *simulator.VirtualMachine, st *vmState) {
	v.mu.Lock()
	st.bootSeq++
	st.toolsUp = false
	if st.bootTimer != nil {
		st.bootTimer.Stop()
		st.bootTimer = nil
	}
	v.mu.Unlock()
	v.setGuest(ctx, vm, st, false)
}

// setGuest publishes the guest information and heartbeat.
func (v *VCenter) setGuest(ctx *simulator.Context, vm *simulator.VirtualMachine, st *vmState, running bool) {
	ctx.WithLock(vm, func() {
		g := v.guestInfo(vm, st, running)
		hb := types.ManagedEntityStatusGray
		if running {
			hb = types.ManagedEntityStatusGreen
		}
		ctx.Update(vm, []types.PropertyChange{
			{Name: "guest", Val: g},
			{Name: "guestHeartbeatStatus", Val: hb},
			{Name: "summary.guest", Val: v.guestSummary(g)},
			{Name: "summary.quickStats.guestHeartbeatStatus", Val: hb},
		})
	})
}

// guestInfo renders what VMware Tools report. The caller holds the VM's lock.
func (v *VCenter) guestInfo(vm *simulator.VirtualMachine, st *vmState, running bool) *types.GuestInfo {
	g := &types.GuestInfo{
		ToolsStatus:         types.VirtualMachineToolsStatusToolsNotRunning,
		ToolsVersionStatus:  "guestToolsCurrent",
		ToolsVersionStatus2: "guestToolsCurrent",
		ToolsRunningStatus:  string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning),
		ToolsVersion:        toolsVersion,
		ToolsInstallType:    "guestToolsTypeOpenVMTools",
		GuestState:          "notRunning",
		AppHeartbeatStatus:  "appStatusGray",
		AppState:            "none",
	}
	if vm.Config != nil {
		g.GuestId = vm.Config.GuestId
		g.GuestFullName = vm.Config.GuestFullName
		g.GuestFamily = guestFamily(vm.Config.GuestId)
	}
	if cust := vm.Guest; cust != nil {
		g.CustomizationInfo = cust.CustomizationInfo
	}
	if !running {
		return g
	}
	g.ToolsStatus = types.VirtualMachineToolsStatusToolsOk
	g.ToolsRunningStatus = string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)
	g.GuestState = "running"
	g.GuestOperationsReady = types.NewBool(true)
	g.InteractiveGuestOperationsReady = types.NewBool(false)
	g.GuestStateChangeSupported = types.NewBool(true)
	v.mu.Lock()
	ident := st.guest
	nics := st.nics
	v.mu.Unlock()
	g.HostName = ident.HostName
	if g.HostName == "" {
		g.HostName = guestHostName(unescapeName(vm.Name))
	}
	cards := object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil))
	sort.Slice(cards, func(i, j int) bool { return cards[i].GetVirtualDevice().Key < cards[j].GetVirtualDevice().Key })
	var stack types.GuestStackInfo
	for _, d := range cards {
		vd := d.GetVirtualDevice()
		card := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
		meta := nics[vd.Key]
		nic := types.GuestNicInfo{
			Network:        v.nicNetworkName(vd, meta),
			MacAddress:     strings.ToLower(card.MacAddress),
			Connected:      vd.Connectable != nil && vd.Connectable.Connected,
			DeviceConfigId: vd.Key,
		}
		if gn, ok := ident.NICs[meta.index]; ok && gn.IP != "" {
			nic.IpAddress = []string{gn.IP}
			nic.IpConfig = &types.NetIpConfigInfo{IpAddress: []types.NetIpConfigInfoIpAddress{{
				IpAddress: gn.IP, PrefixLength: maskBits(gn.Mask), State: "preferred",
			}}}
			if len(gn.DNS) > 0 || ident.HostName != "" {
				nic.DnsConfig = &types.NetDnsConfigInfo{HostName: g.HostName, IpAddress: gn.DNS}
			}
			if g.IpAddress == "" && nic.Connected {
				g.IpAddress = gn.IP
			}
			if gn.Gateway != "" && stack.IpRouteConfig == nil {
				stack.IpRouteConfig = &types.NetIpRouteConfigInfo{IpRoute: []types.NetIpRouteConfigInfoIpRoute{{
					Network: "0.0.0.0", PrefixLength: 0,
					Gateway: types.NetIpRouteConfigInfoGateway{IpAddress: gn.Gateway, Device: fmt.Sprint(meta.index)},
				}}}
			}
			if len(gn.DNS) > 0 && stack.DnsConfig == nil {
				stack.DnsConfig = &types.NetDnsConfigInfo{HostName: g.HostName, IpAddress: gn.DNS}
			}
		}
		g.Net = append(g.Net, nic)
	}
	if g.IpAddress == "" {
		for _, n := range g.Net {
			if len(n.IpAddress) > 0 {
				g.IpAddress = n.IpAddress[0]
				break
			}
		}
	}
	if stack.DnsConfig != nil || stack.IpRouteConfig != nil {
		g.IpStack = []types.GuestStackInfo{stack}
	}
	return g
}

func (v *VCenter) guestSummary(g *types.GuestInfo) *types.VirtualMachineGuestSummary {
	return &types.VirtualMachineGuestSummary{
		GuestId: g.GuestId, GuestFullName: g.GuestFullName, ToolsStatus: g.ToolsStatus,
		ToolsVersionStatus: g.ToolsVersionStatus, ToolsVersionStatus2: g.ToolsVersionStatus2,
		ToolsRunningStatus: g.ToolsRunningStatus, HostName: g.HostName, IpAddress: g.IpAddress,
	}
}

// nicNetworkName is the name of the portgroup a NIC is attached to (the .vmx's name when its
// backing does not resolve here).
func (v *VCenter) nicNetworkName(vd *types.VirtualDevice, meta nicMeta) string {
	switch b := vd.Backing.(type) {
	case *types.VirtualEthernetCardNetworkBackingInfo:
		return b.DeviceName
	case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
		if r := v.findPortgroupByKey(b.Port.SwitchUuid, b.Port.PortgroupKey); r.name != "" {
			return r.name
		}
	}
	return meta.network
}

func maskBits(mask string) int32 {
	ip := net.ParseIP(mask)
	if ip == nil {
		return 24
	}
	if ip4 := ip.To4(); ip4 != nil {
		ones, _ := net.IPMask(ip4).Size()
		return int32(ones)
	}
	ones, _ := net.IPMask(ip).Size()
	return int32(ones)
}

// CustomizeVM_Task queues a guest customization (identity, per-NIC IP settings) that the guest
// applies at its next boot. The VM must be powered off, have no customization pending, and the
// spec must have one NIC setting per NIC.
func (o *vmOverride) CustomizeVMTask(ctx *simulator.Context, req *types.CustomizeVM_Task) soap.HasFault {
	v := o.v
	_, _, name, f := v.vmFor(ctx, req.This)
	if f != nil {
		return &methods.CustomizeVM_TaskBody{Fault_: f}
	}
	spec := req.Spec
	ref := v.startTask(ctx, taskSpec{
		method: "CustomizeVM_Task", descID: "VirtualMachine.customize", entity: req.This, entityName: name,
		run: func(tctx *simulator.Context) (types.AnyType, types.BaseMethodFault) {
			return nil, v.customize(tctx, req.This, &spec)
		},
	})
	return &methods.CustomizeVM_TaskBody{Res: &types.CustomizeVM_TaskResponse{Returnval: ref}}
}

func (v *VCenter) customize(ctx *simulator.Context, ref types.ManagedObjectReference, spec *types.CustomizationSpec) types.BaseMethodFault {
	v.opMu.Lock()
	defer v.opMu.Unlock()
	vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
	st := v.vmState(ref)
	if !ok || st == nil {
		return &types.ManagedObjectNotFound{Obj: ref}
	}
	var state types.VirtualMachinePowerState
	var nics int
	var vmDir string
	ctx.WithLock(vm, func() {
		state = vm.Runtime.PowerState
		nics = len(object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil)))
		var p object.DatastorePath
		p.FromString(vm.Config.Files.VmPathName)
		p.Path = strings.TrimSuffix(p.Path, "/"+path0(p.Path))
		vmDir = p.String()
	})
	if state != types.VirtualMachinePowerStatePoweredOff {
		return &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOff, ExistingState: state}
	}
	v.mu.Lock()
	pending := st.pendingCust != nil
	v.mu.Unlock()
	if pending {
		return &types.CustomizationPending{}
	}
	switch spec.Identity.(type) {
	case *types.CustomizationLinuxPrep, *types.CustomizationSysprep, *types.CustomizationSysprepText, *types.CustomizationCloudinitPrep:
	case nil:
		return &types.InvalidArgument{InvalidProperty: "spec.identity"}
	default:
		return &types.InvalidArgument{InvalidProperty: "spec.identity"}
	}
	if len(spec.NicSettingMap) != nics {
		return &types.NicSettingMismatch{NumberOfNicsInSpec: int32(len(spec.NicSettingMap)), NumberOfNicsInVM: int32(nics)}
	}
	for i, m := range spec.NicSettingMap {
		switch ip := m.Adapter.Ip.(type) {
		case *types.CustomizationFixedIp:
			if net.ParseIP(ip.IpAddress) == nil {
				return &types.InvalidArgument{InvalidProperty: fmt.Sprintf("spec.nicSettingMap[%d].adapter.ip.ipAddress", i)}
			}
			if m.Adapter.SubnetMask != "" && net.ParseIP(m.Adapter.SubnetMask) == nil {
				return &types.InvalidArgument{InvalidProperty: fmt.Sprintf("spec.nicSettingMap[%d].adapter.subnetMask", i)}
			}
		case *types.CustomizationDhcpIpGenerator, *types.CustomizationUnknownIpGenerator, nil:
		default:
			return &types.InvalidArgument{InvalidProperty: fmt.Sprintf("spec.nicSettingMap[%d].adapter.ip", i)}
		}
		for _, gw := range m.Adapter.Gateway {
			if net.ParseIP(gw) == nil {
				return &types.InvalidArgument{InvalidProperty: fmt.Sprintf("spec.nicSettingMap[%d].adapter.gateway", i)}
			}
		}
	}
	cp := *spec
	custPath := fmt.Sprintf("%s/imcf-%d", vmDir, time.Now().UnixNano()%1e9)
	v.mu.Lock()
	st.pendingCust = &cp
	st.custPath = custPath
	v.mu.Unlock()
	ctx.WithLock(vm, func() {
		ctx.Update(vm, []types.PropertyChange{{Name: "config.tools.pendingCustomization", Val: custPath}})
	})
	v.mutated("CustomizeVM", ref.Value)
	return nil
}

// applyCustomization applies a pending customization at boot. The caller holds opMu.
func (v *VCenter) applyCustomization(ctx *simulator.Context, vm *simulator.VirtualMachine, st *vmState, spec *types.CustomizationSpec) {
	h := v.inv.hostByRef[st.host]
	var ev types.VmEvent
	var vmName string
	ctx.WithLock(vm, func() {
		vmName = vm.Name
		if h != nil {
			ev = v.vmEvent(vm, h)
		}
	})
	v.postEvent(ctx, &types.CustomizationStartedEvent{CustomizationEvent: types.CustomizationEvent{VmEvent: ev}})
	start := time.Now()

	var cards []types.BaseVirtualDevice
	ctx.WithLock(vm, func() {
		cards = object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil))
		sort.Slice(cards, func(i, j int) bool { return cards[i].GetVirtualDevice().Key < cards[j].GetVirtualDevice().Key })
	})
	v.mu.Lock()
	ident := guestIdentity{HostName: st.guest.HostName, NICs: map[int]guestNIC{}}
	for k, n := range st.guest.NICs {
		ident.NICs[k] = n
	}
	switch id := spec.Identity.(type) {
	case *types.CustomizationLinuxPrep:
		ident.HostName = customizedName(id.HostName, vmName, ident.HostName)
	case *types.CustomizationSysprep:
		ident.HostName = customizedName(id.UserData.ComputerName, vmName, ident.HostName)
	case *types.CustomizationCloudinitPrep:
	}
	for i, m := range spec.NicSettingMap {
		if i >= len(cards) {
			break
		}
		idx := st.nics[cards[i].GetVirtualDevice().Key].index
		if m.MacAddress != "" {
			for _, c := range cards {
				if strings.EqualFold(c.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard().MacAddress, m.MacAddress) {
					idx = st.nics[c.GetVirtualDevice().Key].index
				}
			}
		}
		g := guestNIC{}
		if ip, ok := m.Adapter.Ip.(*types.CustomizationFixedIp); ok {
			g.IP = ip.IpAddress
			g.Mask = m.Adapter.SubnetMask
			if len(m.Adapter.Gateway) > 0 {
				g.Gateway = m.Adapter.Gateway[0]
			}
			g.DNS = append([]string(nil), m.Adapter.DnsServerList...)
			if len(g.DNS) == 0 {
				g.DNS = append([]string(nil), spec.GlobalIPSettings.DnsServerList...)
			}
			ident.NICs[idx] = g
		} else {
			delete(ident.NICs, idx)
		}
	}
	st.guest = ident
	st.pendingCust = nil
	st.custPath = ""
	v.mu.Unlock()
	end := time.Now()
	ctx.WithLock(vm, func() {
		info := &types.GuestInfoCustomizationInfo{
			CustomizationStatus: string(types.GuestInfoCustomizationStatusTOOLSDEPLOYPKG_SUCCEEDED),
			StartTime:           &start, EndTime: &end,
		}
		ctx.Update(vm, []types.PropertyChange{
			{Name: "config.tools.pendingCustomization", Val: ""},
			{Name: "guest.customizationInfo", Val: info},
		})
	})
	v.persist(ctx, vm.Self)
	v.postEvent(ctx, &types.CustomizationSucceeded{CustomizationEvent: types.CustomizationEvent{VmEvent: ev}})
}

func customizedName(n types.BaseCustomizationName, vmName, current string) string {
	switch x := n.(type) {
	case *types.CustomizationFixedName:
		if x.Name != "" {
			return x.Name
		}
	case *types.CustomizationVirtualMachineName:
		return guestHostName(unescapeName(vmName))
	}
	return current
}

// ReipScriptKey is the guest variable the re-IP script reads.
const ReipScriptKey = "guestinfo.vmdr.reip"

// reipScript is what the variable holds: a JSON object with one entry per NIC to change, by its
// position in device order.
type reipScript struct {
	NICs []struct {
		Index   int      `json:"index"`
		IP      string   `json:"ip"`
		Mask    string   `json:"mask"`
		Gateway string   `json:"gateway"`
		DNS     []string `json:"dns"`
	} `json:"nics"`
}

// runReipScript runs the guest's power-on re-IP script (see the package comment above). The
// caller holds opMu.
func (v *VCenter) runReipScript(ctx *simulator.Context, vm *simulator.VirtualMachine, st *vmState) {
	var on bool
	var raw string
	ctx.WithLock(vm, func() {
		if vm.Config == nil {
			return
		}
		on = vm.Config.Tools != nil && isTrue(vm.Config.Tools.AfterPowerOn)
		for _, o := range vm.Config.ExtraConfig {
			if ov := o.GetOptionValue(); ov != nil && strings.EqualFold(ov.Key, ReipScriptKey) {
				raw = fmt.Sprint(ov.Value)
			}
		}
	})
	if !on || raw == "" {
		return
	}
	var sc reipScript
	if err := json.Unmarshal([]byte(raw), &sc); err != nil {
		return // the script finds nothing it understands and leaves the guest alone
	}
	v.mu.Lock()
	ident := guestIdentity{HostName: st.guest.HostName, NICs: map[int]guestNIC{}}
	for k, n := range st.guest.NICs {
		ident.NICs[k] = n
	}
	for _, n := range sc.NICs {
		if net.ParseIP(n.IP).To4() == nil {
			continue
		}
		ident.NICs[n.Index] = guestNIC{IP: n.IP, Mask: n.Mask, Gateway: n.Gateway, DNS: append([]string(nil), n.DNS...)}
	}
	st.guest = ident
	v.mu.Unlock()
	v.persist(ctx, vm.Self)
}
