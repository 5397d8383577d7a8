package vcenter

import (
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// devEdit applies the device changes of a VirtualMachineConfigSpec to a device list without
// touching the devices it was given: changed devices are replaced by new ones.
type devEdit struct {
	v         *VCenter
	vmx       object.DatastorePath // the VM's .vmx: new disks go next to it
	vmName    string
	devices   object.VirtualDeviceList
	nics      map[int32]nicMeta
	poweredOn bool
	created   []string // disk files created, removed again if the change fails
	destroy   []string // disk files to delete once the change succeeded
	tempKeys  map[int32]int32
}

func newDevEdit(v *VCenter, vmx object.DatastorePath, vmName string, devices object.VirtualDeviceList, nics map[int32]nicMeta, on bool) *devEdit {
	e := &devEdit{v: v, vmx: vmx, vmName: vmName, devices: append(object.VirtualDeviceList(nil), devices...),
		nics: map[int32]nicMeta{}, poweredOn: on, tempKeys: map[int32]int32{}}
	for k, m := range nics {
		e.nics[k] = m
	}
	return e
}

// rollback removes the files created by a failed change.
func (e *devEdit) rollback() {
	for _, f := range e.created {
		_ = os.Remove(f)
		_ = os.Remove(strings.TrimSuffix(f, ".vmdk") + "-flat.vmdk")
	}
	e.created = nil
}

func (e *devEdit) replace(key int32, d types.BaseVirtualDevice) {
	for i, x := range e.devices {
		if x.GetVirtualDevice().Key == key {
			e.devices[i] = d
			return
		}
	}
	e.devices = append(e.devices, d)
}

func (e *devEdit) remove(key int32) {
	out := e.devices[:0:0]
	for _, x := range e.devices {
		if x.GetVirtualDevice().Key != key {
			out = append(out, x)
		}
	}
	e.devices = out
	delete(e.nics, key)
}

func (e *devEdit) controllerKey(k int32) int32 {
	if n, ok := e.tempKeys[k]; ok {
		return n
	}
	return k
}

// apply applies the changes in order. On a fault the list is left half changed: callers discard
// it (and call rollback).
func (e *devEdit) apply(changes []types.BaseVirtualDeviceConfigSpec) types.BaseMethodFault {
	for i, c := range changes {
		if c == nil {
			return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
		}
		spec := c.GetVirtualDeviceConfigSpec()
		if spec.Device == nil {
			return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
		}
		var f types.BaseMethodFault
		switch d := spec.Device.(type) {
		case types.BaseVirtualEthernetCard:
			f = e.nic(i, spec, d)
		case *types.VirtualCdrom:
			f = e.cdrom(i, spec, d)
		case *types.VirtualFloppy:
			f = e.floppy(i, spec, d)
		case *types.VirtualDisk:
			f = e.disk(i, spec, d)
		case types.BaseVirtualSCSIController:
			f = e.scsi(i, spec, d)
		case *types.VirtualIDEController, *types.VirtualAHCIController, *types.VirtualSATAController, *types.VirtualPCIController,
			*types.VirtualPS2Controller, *types.VirtualSIOController, *types.VirtualKeyboard, *types.VirtualPointingDevice,
			*types.VirtualMachineVideoCard, *types.VirtualMachineVMCIDevice:
			f = e.builtin(i, spec)
		default:
			f = &types.NotSupported{}
		}
		if f != nil {
			return f
		}
	}
	relinkControllers(e.devices)
	sortDevices(e.devices)
	e.relabel()
	return nil
}

// builtin maps adds of the always-present controllers (as clients such as govc send them) onto
// the existing ones; edits of built-in devices are accepted and ignored.
func (e *devEdit) builtin(i int, spec *types.VirtualDeviceConfigSpec) types.BaseMethodFault {
	vd := spec.Device.GetVirtualDevice()
	switch spec.Operation {
	case types.VirtualDeviceConfigSpecOperationAdd:
		var key int32
		switch d := spec.Device.(type) {
		case *types.VirtualIDEController:
			key = keyIDE0 + d.BusNumber%2
		case *types.VirtualAHCIController, *types.VirtualSATAController:
			key = keySATA
		case *types.VirtualPCIController:
			key = keyPCI
		case *types.VirtualPS2Controller:
			key = keyPS2
		case *types.VirtualSIOController:
			key = keySIO
		default:
			return nil
		}
		e.tempKeys[vd.Key] = key
		return nil
	case types.VirtualDeviceConfigSpecOperationEdit:
		return nil
	}
	return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
}

func (e *devEdit) scsi(i int, spec *types.VirtualDeviceConfigSpec, d types.BaseVirtualSCSIController) types.BaseMethodFault {
	sc := d.GetVirtualSCSIController()
	switch spec.Operation {
	case types.VirtualDeviceConfigSpecOperationAdd:
		bus := -1
		for b := 0; b < 4; b++ {
			if e.devices.FindByKey(int32(keySCSI+b)) == nil && (bus < 0 || int32(b) == sc.BusNumber) {
				bus = b
				if int32(b) == sc.BusNumber {
					break
				}
			}
		}
		if bus < 0 {
			return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
		}
		nd := scsiController(bus, scsiKind(spec.Device))
		e.tempKeys[sc.Key] = nd.GetVirtualDevice().Key
		e.devices = append(e.devices, nd)
	case types.VirtualDeviceConfigSpecOperationEdit:
		if e.devices.FindByKey(sc.Key) == nil {
			return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
		}
	case types.VirtualDeviceConfigSpecOperationRemove:
		if e.devices.FindByKey(sc.Key) == nil {
			return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
		}
		for _, x := range e.devices {
			if x.GetVirtualDevice().ControllerKey == sc.Key {
				return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
			}
		}
		e.remove(sc.Key)
	default:
		return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
	}
	return nil
}

// resolveNIC resolves a NIC backing from a spec to this datacenter's networks.
func (e *devEdit) resolveNIC(i int, b types.BaseVirtualDeviceBackingInfo) (types.BaseVirtualDeviceBackingInfo, string, types.BaseMethodFault) {
	bad := &types.InvalidDeviceBacking{InvalidDeviceSpec: types.InvalidDeviceSpec{DeviceIndex: int32(i)}}
	switch x := b.(type) {
	case *types.VirtualEthernetCardNetworkBackingInfo:
		name := x.DeviceName
		if name == "" && x.Network != nil {
			if n, ok := e.v.reg.Get(*x.Network).(*mo.Network); ok {
				name = n.Name
			}
		}
		r := e.v.findNetwork(name)
		if r.ref.Value == "" || r.dvsUUID != "" {
			return nil, "", bad
		}
		ref := r.ref
		return &types.VirtualEthernetCardNetworkBackingInfo{
			VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: r.name, UseAutoDetect: types.NewBool(false)},
			Network:                        &ref,
		}, r.name, nil
	case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
		r := e.v.findPortgroupByKey(x.Port.SwitchUuid, x.Port.PortgroupKey)
		if r.ref.Value == "" {
			return nil, "", bad
		}
		return &types.VirtualEthernetCardDistributedVirtualPortBackingInfo{
			Port: types.DistributedVirtualSwitchPortConnection{SwitchUuid: r.dvsUUID, PortgroupKey: r.pgKey},
		}, r.name, nil
	}
	return nil, "", bad
}

func (e *devEdit) nic(i int, spec *types.VirtualDeviceConfigSpec, d types.BaseVirtualEthernetCard) types.BaseMethodFault {
	in := d.GetVirtualEthernetCard()
	switch spec.Operation {
	case types.VirtualDeviceConfigSpecOperationAdd:
		idx := -1
		if in.Key >= keyNIC && in.Key < keyNIC+10 && e.devices.FindByKey(in.Key) == nil {
			idx = int(in.Key - keyNIC)
		}
		for n := 0; n < 10 && idx < 0; n++ {
			if e.devices.FindByKey(int32(keyNIC+n)) == nil {
				idx = n
			}
		}
		if idx < 0 {
			return &types.TooManyDevices{}
		}
		backing, name, f := e.resolveNIC(i, in.Backing)
		if f != nil {
			return f
		}
		card := types.VirtualEthernetCard{
			AddressType: string(types.VirtualEthernetCardMacTypeAssigned), WakeOnLanEnabled: types.NewBool(true),
			UptCompatibilityEnabled: types.NewBool(nicKind(spec.Device) == "vmxnet3"),
		}
		if strings.EqualFold(in.AddressType, string(types.VirtualEthernetCardMacTypeManual)) {
			if _, err := net.ParseMAC(in.MacAddress); err != nil {
				return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
			}
			card.AddressType, card.MacAddress = string(types.VirtualEthernetCardMacTypeManual), strings.ToLower(in.MacAddress)
		} else {
			card.MacAddress = e.v.nextMAC()
		}
		start, guest := true, true
		if c := in.Connectable; c != nil {
			start, guest = c.StartConnected, c.AllowGuestControl
		}
		connected := e.poweredOn && (in.Connectable == nil || in.Connectable.Connected || in.Connectable.StartConnected)
		key := int32(keyNIC + idx)
		unit := int32(7 + idx)
		card.VirtualDevice = types.VirtualDevice{Key: key, ControllerKey: keyPCI, UnitNumber: &unit, Backing: backing,
			Connectable: connectable(start, guest, connected)}
		nd := newNIC(nicKind(spec.Device), card)
		nd.GetVirtualDevice().DeviceInfo = &types.Description{Summary: name}
		e.devices = append(e.devices, nd)
		e.nics[key] = nicMeta{index: idx, network: name}
	case types.VirtualDeviceConfigSpecOperationEdit:
		old, ok := e.devices.FindByKey(in.Key).(types.BaseVirtualEthernetCard)
		if !ok {
			return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
		}
		card := *old.GetVirtualEthernetCard()
		meta := e.nics[in.Key]
		if in.Backing != nil {
			backing, name, f := e.resolveNIC(i, in.Backing)
			if f != nil {
				return f
			}
			card.Backing = backing
			meta.network = name
			card.DeviceInfo = &types.Description{Label: deviceLabel(card.DeviceInfo), Summary: name}
		}
		if strings.EqualFold(in.AddressType, string(types.VirtualEthernetCardMacTypeManual)) && in.MacAddress != "" {
			if _, err := net.ParseMAC(in.MacAddress); err != nil {
				return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
			}
			card.AddressType, card.MacAddress = string(types.VirtualEthernetCardMacTypeManual), strings.ToLower(in.MacAddress)
		}
		if c := in.Connectable; c != nil {
			card.Connectable = connectable(c.StartConnected, c.AllowGuestControl, e.poweredOn && c.Connected)
		}
		e.replace(in.Key, newNIC(nicKind(old.(types.BaseVirtualDevice)), card))
		e.nics[in.Key] = meta
	case types.VirtualDeviceConfigSpecOperationRemove:
		if _, ok := e.devices.FindByKey(in.Key).(types.BaseVirtualEthernetCard); !ok {
			return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
		}
		e.remove(in.Key)
	default:
		return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
	}
	return nil
}

func deviceLabel(d types.BaseDescription) string {
	if d == nil {
		return ""
	}
	return d.GetDescription().Label
}

// dsFileOK checks that a datastore path names a mounted datastore.
func (e *devEdit) dsFileOK(p string) bool {
	var dp object.DatastorePath
	if !dp.FromString(p) || dp.Datastore == "" {
		return false
	}
	_, ok := e.v.datastoreDir(dp.Datastore, types.ManagedObjectReference{})
	return ok
}

func (e *devEdit) cdromBacking(i int, b types.BaseVirtualDeviceBackingInfo) (types.BaseVirtualDeviceBackingInfo, types.BaseMethodFault) {
	bad := &types.InvalidDeviceBacking{InvalidDeviceSpec: types.InvalidDeviceSpec{DeviceIndex: int32(i)}}
	switch x := b.(type) {
	case *types.VirtualCdromIsoBackingInfo:
		if !e.dsFileOK(x.FileName) {
			return nil, bad
		}
		return &types.VirtualCdromIsoBackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: x.FileName}}, nil
	case *types.VirtualCdromRemotePassthroughBackingInfo:
		return &types.VirtualCdromRemotePassthroughBackingInfo{VirtualDeviceRemoteDeviceBackingInfo: types.VirtualDeviceRemoteDeviceBackingInfo{
			DeviceName: x.DeviceName, UseAutoDetect: types.NewBool(false)}, Exclusive: x.Exclusive}, nil
	case *types.VirtualCdromRemoteAtapiBackingInfo:
		return &types.VirtualCdromRemoteAtapiBackingInfo{VirtualDeviceRemoteDeviceBackingInfo: types.VirtualDeviceRemoteDeviceBackingInfo{
			DeviceName: x.DeviceName, UseAutoDetect: types.NewBool(false)}}, nil
	case *types.VirtualCdromAtapiBackingInfo:
		return &types.VirtualCdromAtapiBackingInfo{VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: x.DeviceName, UseAutoDetect: types.NewBool(false)}}, nil
	case *types.VirtualCdromPassthroughBackingInfo:
		return &types.VirtualCdromPassthroughBackingInfo{VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: x.DeviceName, UseAutoDetect: types.NewBool(false)}, Exclusive: x.Exclusive}, nil
	}
	return nil, bad
}

func (e *devEdit) cdrom(i int, spec *types.VirtualDeviceConfigSpec, d *types.VirtualCdrom) types.BaseMethodFault {
	switch spec.Operation {
	case types.VirtualDeviceConfigSpecOperationAdd:
		ctrl := e.controllerKey(d.ControllerKey)
		if ctrl != keyIDE0 && ctrl != keyIDE1 && ctrl != keySATA {
			ctrl = keySATA
		}
		bus := cdromBusName(ctrl)
		unit := -1
		if d.UnitNumber != nil {
			unit = int(*d.UnitNumber)
		}
		for u := 0; u < 30 && unit < 0; u++ {
			if _, k, ok := cdromBusKey(bus, u); ok && e.devices.FindByKey(k) == nil {
				unit = u
			}
		}
		_, key, ok := cdromBusKey(bus, unit)
		if !ok || e.devices.FindByKey(key) != nil {
			return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
		}
		var backing types.BaseVirtualDeviceBackingInfo = &types.VirtualCdromRemotePassthroughBackingInfo{
			VirtualDeviceRemoteDeviceBackingInfo: types.VirtualDeviceRemoteDeviceBackingInfo{UseAutoDetect: types.NewBool(false)}}
		if d.Backing != nil {
			var f types.BaseMethodFault
			if backing, f = e.cdromBacking(i, d.Backing); f != nil {
				return f
			}
		}
		start := d.Connectable != nil && d.Connectable.StartConnected
		u := int32(unit)
		e.devices = append(e.devices, &types.VirtualCdrom{VirtualDevice: types.VirtualDevice{
			Key: key, ControllerKey: ctrl, UnitNumber: &u, Backing: backing,
			Connectable: connectable(start, true, e.poweredOn && d.Connectable != nil && d.Connectable.Connected),
		}})
	case types.VirtualDeviceConfigSpecOperationEdit:
		old, ok := e.devices.FindByKey(d.Key).(*types.VirtualCdrom)
		if !ok {
			return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
		}
		n := *old
		if d.Backing != nil {
			b, f := e.cdromBacking(i, d.Backing)
			if f != nil {
				return f
			}
			n.Backing = b
		}
		if c := d.Connectable; c != nil {
			n.Connectable = connectable(c.StartConnected, c.AllowGuestControl, e.poweredOn && c.Connected)
		}
		e.replace(d.Key, &n)
	case types.VirtualDeviceConfigSpecOperationRemove:
		if _, ok := e.devices.FindByKey(d.Key).(*types.VirtualCdrom); !ok {
			return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
		}
		e.remove(d.Key)
	default:
		return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
	}
	return nil
}

func (e *devEdit) floppyBacking(i int, b types.BaseVirtualDeviceBackingInfo) (types.BaseVirtualDeviceBackingInfo, types.BaseMethodFault) {
	bad := &types.InvalidDeviceBacking{InvalidDeviceSpec: types.InvalidDeviceSpec{DeviceIndex: int32(i)}}
	switch x := b.(type) {
	case *types.VirtualFloppyImageBackingInfo:
		if !e.dsFileOK(x.FileName) {
			return nil, bad
		}
		return &types.VirtualFloppyImageBackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: x.FileName}}, nil
	case *types.VirtualFloppyRemoteDeviceBackingInfo:
		return &types.VirtualFloppyRemoteDeviceBackingInfo{VirtualDeviceRemoteDeviceBackingInfo: types.VirtualDeviceRemoteDeviceBackingInfo{
			DeviceName: x.DeviceName, UseAutoDetect: types.NewBool(false)}}, nil
	case *types.VirtualFloppyDeviceBackingInfo:
		return &types.VirtualFloppyDeviceBackingInfo{VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: x.DeviceName, UseAutoDetect: types.NewBool(false)}}, nil
	}
	return nil, bad
}

func (e *devEdit) floppy(i int, spec *types.VirtualDeviceConfigSpec, d *types.VirtualFloppy) types.BaseMethodFault {
	switch spec.Operation {
	case types.VirtualDeviceConfigSpecOperationAdd:
		idx := -1
		for n := 0; n < 2 && idx < 0; n++ {
			if e.devices.FindByKey(int32(keyFloppy+n)) == nil {
				idx = n
			}
		}
		if idx < 0 {
			return &types.TooManyDevices{}
		}
		var backing types.BaseVirtualDeviceBackingInfo = &types.VirtualFloppyRemoteDeviceBackingInfo{
			VirtualDeviceRemoteDeviceBackingInfo: types.VirtualDeviceRemoteDeviceBackingInfo{UseAutoDetect: types.NewBool(false)}}
		if d.Backing != nil {
			var f types.BaseMethodFault
			if backing, f = e.floppyBacking(i, d.Backing); f != nil {
				return f
			}
		}
		start := d.Connectable != nil && d.Connectable.StartConnected
		u := int32(idx)
		e.devices = append(e.devices, &types.VirtualFloppy{VirtualDevice: types.VirtualDevice{
			Key: int32(keyFloppy + idx), ControllerKey: keySIO, UnitNumber: &u, Backing: backing,
			Connectable: connectable(start, true, e.poweredOn && d.Connectable != nil && d.Connectable.Connected),
		}})
	case types.VirtualDeviceConfigSpecOperationEdit:
		old, ok := e.devices.FindByKey(d.Key).(*types.VirtualFloppy)
		if !ok {
			return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
		}
		n := *old
		if d.Backing != nil {
			b, f := e.floppyBacking(i, d.Backing)
			if f != nil {
				return f
			}
			n.Backing = b
		}
		if c := d.Connectable; c != nil {
			n.Connectable = connectable(c.StartConnected, c.AllowGuestControl, e.poweredOn && c.Connected)
		}
		e.replace(d.Key, &n)
	case types.VirtualDeviceConfigSpecOperationRemove:
		if _, ok := e.devices.FindByKey(d.Key).(*types.VirtualFloppy); !ok {
			return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
		}
		e.remove(d.Key)
	default:
		return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
	}
	return nil
}

func (e *devEdit) disk(i int, spec *types.VirtualDeviceConfigSpec, d *types.VirtualDisk) types.BaseMethodFault {
	invalid := &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
	switch spec.Operation {
	case types.VirtualDeviceConfigSpecOperationAdd:
		ctrl := e.controllerKey(d.ControllerKey)
		c, ok := e.devices.FindByKey(ctrl).(types.BaseVirtualSCSIController)
		if !ok {
			return invalid
		}
		bus := int(c.GetVirtualSCSIController().BusNumber)
		unit := -1
		if d.UnitNumber != nil {
			unit = int(*d.UnitNumber)
		}
		for u := 0; u < 16 && unit < 0; u++ {
			if u != 7 && e.devices.FindByKey(int32(keyDisk+bus*16+u)) == nil {
				unit = u
			}
		}
		if unit < 0 || unit > 15 || unit == 7 || e.devices.FindByKey(int32(keyDisk+bus*16+unit)) != nil {
			return invalid
		}
		fb, ok := d.Backing.(types.BaseVirtualDeviceFileBackingInfo)
		if !ok {
			return &types.InvalidDeviceBacking{InvalidDeviceSpec: *invalid}
		}
		name := fb.GetVirtualDeviceFileBackingInfo().FileName
		var p object.DatastorePath
		p.FromString(name)
		if p.Datastore == "" {
			p.Datastore = e.vmx.Datastore
		}
		if p.Path == "" || path.Base(p.Path) == ".vmdk" || strings.HasSuffix(p.Path, "/") {
			p.Path = e.newDiskName(p.Datastore)
		}
		dir, ok := e.v.datastoreDir(p.Datastore, types.ManagedObjectReference{})
		if !ok {
			return &types.InvalidDatastore{Name: p.Datastore}
		}
		file := filepath.Join(dir, filepath.FromSlash(p.Path))
		capacity := d.CapacityInBytes
		if capacity == 0 {
			capacity = d.CapacityInKB * 1024
		}
		switch spec.FileOperation {
		case types.VirtualDeviceConfigSpecFileOperationCreate, types.VirtualDeviceConfigSpecFileOperationReplace:
			if spec.FileOperation == types.VirtualDeviceConfigSpecFileOperationCreate && fileExists(file) {
				return &types.FileAlreadyExists{FileFault: types.FileFault{File: p.String()}}
			}
			if capacity <= 0 {
				return invalid
			}
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				return &types.CannotCreateFile{FileFault: types.FileFault{File: p.String()}}
			}
			if err := writeDisk(file, capacity); err != nil {
				return &types.CannotCreateFile{FileFault: types.FileFault{File: p.String()}}
			}
			e.created = append(e.created, file)
		case "":
			if !fileExists(file) {
				return &types.FileNotFound{FileFault: types.FileFault{File: p.String()}}
			}
			capacity = diskCapacity(file)
		default:
			return invalid
		}
		u := int32(unit)
		s := e.v.datastoreByName(p.Datastore)
		backing := &types.VirtualDiskFlatVer2BackingInfo{
			VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: p.String()},
			DiskMode:                     string(types.VirtualDiskModePersistent), ThinProvisioned: types.NewBool(true),
			EagerlyScrub: types.NewBool(false), Split: types.NewBool(false), WriteThrough: types.NewBool(false),
			DigestEnabled: types.NewBool(false), Uuid: diskUUID(p.String()),
		}
		if s != nil {
			ref := s.ref
			backing.Datastore = &ref
		}
		e.devices = append(e.devices, &types.VirtualDisk{
			VirtualDevice: types.VirtualDevice{Key: int32(keyDisk + bus*16 + unit), ControllerKey: int32(keySCSI + bus), UnitNumber: &u, Backing: backing},
			CapacityInKB:  capacity / 1024, CapacityInBytes: capacity,
		})
	case types.VirtualDeviceConfigSpecOperationEdit:
		old, ok := e.devices.FindByKey(d.Key).(*types.VirtualDisk)
		if !ok {
			return invalid
		}
		n := *old
		capacity := d.CapacityInBytes
		if capacity == 0 {
			capacity = d.CapacityInKB * 1024
		}
		if capacity > 0 && capacity != old.CapacityInBytes {
			if capacity < old.CapacityInBytes {
				return &types.InvalidDeviceOperation{InvalidDeviceSpec: *invalid}
			}
			n.CapacityInBytes, n.CapacityInKB = capacity, capacity/1024
			if b, ok := old.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
				var p object.DatastorePath
				p.FromString(b.GetVirtualDeviceFileBackingInfo().FileName)
				if dir, ok := e.v.datastoreDir(p.Datastore, types.ManagedObjectReference{}); ok {
					_ = writeDisk(filepath.Join(dir, filepath.FromSlash(p.Path)), capacity)
				}
			}
		}
		e.replace(d.Key, &n)
	case types.VirtualDeviceConfigSpecOperationRemove:
		old, ok := e.devices.FindByKey(d.Key).(*types.VirtualDisk)
		if !ok {
			return invalid
		}
		if spec.FileOperation == types.VirtualDeviceConfigSpecFileOperationDestroy {
			if b, ok := old.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
				var p object.DatastorePath
				p.FromString(b.GetVirtualDeviceFileBackingInfo().FileName)
				if dir, ok := e.v.datastoreDir(p.Datastore, types.ManagedObjectReference{}); ok {
					e.destroy = append(e.destroy, filepath.Join(dir, filepath.FromSlash(p.Path)))
				}
			}
		}
		e.remove(d.Key)
	default:
		return invalid
	}
	return nil
}

// newDiskName picks "<vm dir>/<vm>.vmdk", "<vm>_1.vmdk", ... not yet used on the datastore.
func (e *devEdit) newDiskName(ds string) string {
	dir := path.Dir(e.vmx.Path)
	base := strings.TrimSuffix(path.Base(e.vmx.Path), ".vmx")
	root, _ := e.v.datastoreDir(ds, types.ManagedObjectReference{})
	for n := 0; ; n++ {
		name := base + ".vmdk"
		if n > 0 {
			name = fmt.Sprintf("%s_%d.vmdk", base, n)
		}
		p := path.Join(dir, name)
		taken := fileExists(filepath.Join(root, filepath.FromSlash(p)))
		for _, x := range e.devices.SelectByType((*types.VirtualDisk)(nil)) {
			if b, ok := x.GetVirtualDevice().Backing.(types.BaseVirtualDeviceFileBackingInfo); ok &&
				b.GetVirtualDeviceFileBackingInfo().FileName == joinDSPath(ds, p) {
				taken = true
			}
		}
		if !taken {
			return p
		}
	}
}

// relabel numbers device labels the way vCenter does.
func (e *devEdit) relabel() {
	var disk, nic, cd, fl int
	for _, d := range e.devices {
		vd := d.GetVirtualDevice()
		summary := ""
		if vd.DeviceInfo != nil {
			summary = vd.DeviceInfo.GetDescription().Summary
		}
		switch x := d.(type) {
		case *types.VirtualDisk:
			disk++
			vd.DeviceInfo = &types.Description{Label: fmt.Sprintf("Hard disk %d", disk), Summary: fmt.Sprintf("%s KB", groupDigits(x.CapacityInKB))}
		case types.BaseVirtualEthernetCard:
			nic++
			meta := e.nics[vd.Key]
			vd.DeviceInfo = &types.Description{Label: fmt.Sprintf("Network adapter %d", meta.index+1), Summary: orDefault(meta.network, summary)}
		case *types.VirtualCdrom:
			cd++
			vd.DeviceInfo = &types.Description{Label: fmt.Sprintf("CD/DVD drive %d", cd), Summary: orDefault(summary, "Remote device")}
		case *types.VirtualFloppy:
			fl++
			vd.DeviceInfo = &types.Description{Label: fmt.Sprintf("Floppy drive %d", fl), Summary: orDefault(summary, "Remote")}
		}
	}
}

// networks and datastores the devices use.
func (e *devEdit) usage(vmxDS types.ManagedObjectReference) (nets, dss []types.ManagedObjectReference) {
	if vmxDS.Value != "" {
		dss = append(dss, vmxDS)
	}
	for _, d := range e.devices {
		switch b := d.GetVirtualDevice().Backing.(type) {
		case *types.VirtualEthernetCardNetworkBackingInfo:
			if b.Network != nil {
				nets = appendRef(nets, *b.Network)
			}
		case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
			if r := e.v.findPortgroupByKey(b.Port.SwitchUuid, b.Port.PortgroupKey); r.ref.Value != "" {
				nets = appendRef(nets, r.ref)
			}
		case *types.VirtualDiskFlatVer2BackingInfo:
			if b.Datastore != nil {
				dss = appendRef(dss, *b.Datastore)
			}
		}
	}
	return nets, dss
}

// ReconfigVM_Task changes a VM's configuration: name, annotation, CPU and memory (powered off),
// guest id, tools settings (merged), extra config, and its NICs (portgroup, MAC, connection),
// CD-ROMs, floppies and disks. The .vmx is rewritten afterwards.
func (o *vmOverride) ReconfigVMTask(ctx *simulator.Context, req *types.ReconfigVM_Task) soap.HasFault {
	v := o.v
	_, _, name, f := v.vmFor(ctx, req.This)
	if f != nil {
		return &methods.ReconfigVM_TaskBody{Fault_: f}
	}
	spec := req.Spec
	ref := v.startTask(ctx, taskSpec{
		method: "ReconfigVM_Task", descID: "VirtualMachine.reconfigure", entity: req.This, entityName: name,
		run: func(tctx *simulator.Context) (types.AnyType, types.BaseMethodFault) {
			if f := v.reconfigure(tctx, req.This, &spec); f != nil {
				return nil, f
			}
			v.mutated("ReconfigVM", req.This.Value)
			return nil, nil
		},
	})
	return &methods.ReconfigVM_TaskBody{Res: &types.ReconfigVM_TaskResponse{Returnval: ref}}
}

// Rename_Task renames a VM; the .vmx displayName follows.
func (o *vmOverride) RenameTask(ctx *simulator.Context, req *types.Rename_Task) soap.HasFault {
	v := o.v
	_, _, name, f := v.vmFor(ctx, req.This)
	if f != nil {
		return &methods.Rename_TaskBody{Fault_: f}
	}
	ref := v.startTask(ctx, taskSpec{
		method: "Rename_Task", descID: "VirtualMachine.rename", entity: req.This, entityName: name,
		run: func(tctx *simulator.Context) (types.AnyType, types.BaseMethodFault) {
			return nil, v.reconfigure(tctx, req.This, &types.VirtualMachineConfigSpec{Name: req.NewName})
		},
	})
	return &methods.Rename_TaskBody{Res: &types.Rename_TaskResponse{Returnval: ref}}
}

func (v *VCenter) reconfigure(ctx *simulator.Context, ref types.ManagedObjectReference, spec *types.VirtualMachineConfigSpec) types.BaseMethodFault {
	v.opMu.Lock()
	defer v.opMu.Unlock()
	vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
	st := v.vmState(ref)
	if !ok || st == nil {
		return &types.ManagedObjectNotFound{Obj: ref}
	}
	var (
		on, template bool
		devices      object.VirtualDeviceList
		vmx          object.DatastorePath
		parent       types.ManagedObjectReference
		curName      string
		tools        types.ToolsConfigInfo
		extra        []types.BaseOptionValue
		oldDSs       []types.ManagedObjectReference
	)
	ctx.WithLock(vm, func() {
		on = vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
		template = vm.Config.Template
		devices = append(devices, vm.Config.Hardware.Device...)
		vmx.FromString(vm.Config.Files.VmPathName)
		if vm.Parent != nil {
			parent = *vm.Parent
		}
		curName = vm.Name
		if vm.Config.Tools != nil {
			tools = *vm.Config.Tools
		}
		extra = append(extra, vm.Config.ExtraConfig...)
		oldDSs = append(oldDSs, vm.Datastore...)
	})
	if template && (len(spec.DeviceChange) > 0 || spec.NumCPUs != 0 || spec.MemoryMB != 0 || spec.GuestId != "" || spec.Tools != nil || len(spec.ExtraConfig) > 0) {
		return &types.NotSupported{}
	}
	var changes []types.PropertyChange
	if spec.Name != "" && escapeName(spec.Name) != curName {
		name := escapeName(spec.Name)
		if !validName(spec.Name) {
			return &types.InvalidName{Name: spec.Name}
		}
		if f, ok := v.reg.Get(parent).(*simulator.Folder); ok {
			if e := v.reg.FindByName(name, f.ChildEntity); e != nil && e.Reference() != ref {
				return &types.DuplicateName{Name: spec.Name, Object: e.Reference()}
			}
		}
		changes = append(changes, types.PropertyChange{Name: "name", Val: name},
			types.PropertyChange{Name: "config.name", Val: name}, types.PropertyChange{Name: "summary.config.name", Val: name})
	}
	if spec.NumCPUs != 0 || spec.MemoryMB != 0 || (spec.GuestId != "") {
		if on {
			return &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOff, ExistingState: types.VirtualMachinePowerStatePoweredOn}
		}
	}
	if spec.NumCPUs < 0 || spec.NumCPUs > 768 {
		return &types.InvalidArgument{InvalidProperty: "spec.numCPUs"}
	}
	if spec.NumCPUs > 0 {
		changes = append(changes, types.PropertyChange{Name: "config.hardware.numCPU", Val: spec.NumCPUs},
			types.PropertyChange{Name: "summary.config.numCpu", Val: spec.NumCPUs})
	}
	if spec.MemoryMB < 0 || spec.MemoryMB > 24*1024*1024 {
		return &types.InvalidArgument{InvalidProperty: "spec.memoryMB"}
	}
	if spec.MemoryMB > 0 {
		changes = append(changes, types.PropertyChange{Name: "config.hardware.memoryMB", Val: int32(spec.MemoryMB)},
			types.PropertyChange{Name: "summary.config.memorySizeMB", Val: int32(spec.MemoryMB)})
	}
	if spec.GuestId != "" {
		if !validGuestID(spec.GuestId) {
			return &types.InvalidArgument{InvalidProperty: "spec.guestId"}
		}
		changes = append(changes, types.PropertyChange{Name: "config.guestId", Val: spec.GuestId},
			types.PropertyChange{Name: "config.guestFullName", Val: guestFullName(spec.GuestId)},
			types.PropertyChange{Name: "summary.config.guestId", Val: spec.GuestId},
			types.PropertyChange{Name: "summary.config.guestFullName", Val: guestFullName(spec.GuestId)})
	}
	if spec.Annotation != "" {
		changes = append(changes, types.PropertyChange{Name: "config.annotation", Val: spec.Annotation},
			types.PropertyChange{Name: "summary.config.annotation", Val: spec.Annotation})
	}
	if spec.Uuid != "" {
		if _, err := uuid.Parse(spec.Uuid); err != nil {
			return &types.InvalidArgument{InvalidProperty: "spec.uuid"}
		}
		changes = append(changes, types.PropertyChange{Name: "config.uuid", Val: strings.ToLower(spec.Uuid)},
			types.PropertyChange{Name: "summary.config.uuid", Val: strings.ToLower(spec.Uuid)})
	}
	if spec.InstanceUuid != "" {
		if _, err := uuid.Parse(spec.InstanceUuid); err != nil {
			return &types.InvalidArgument{InvalidProperty: "spec.instanceUuid"}
		}
		changes = append(changes, types.PropertyChange{Name: "config.instanceUuid", Val: strings.ToLower(spec.InstanceUuid)},
			types.PropertyChange{Name: "summary.config.instanceUuid", Val: strings.ToLower(spec.InstanceUuid)})
	}
	if t := spec.Tools; t != nil {
		merged := tools
		for _, f := range []struct{ src, dst **bool }{
			{&t.AfterPowerOn, &merged.AfterPowerOn}, {&t.AfterResume, &merged.AfterResume},
			{&t.BeforeGuestStandby, &merged.BeforeGuestStandby}, {&t.BeforeGuestShutdown, &merged.BeforeGuestShutdown},
			{&t.BeforeGuestReboot, &merged.BeforeGuestReboot}, {&t.SyncTimeWithHost, &merged.SyncTimeWithHost},
		} {
			if *f.src != nil {
				b := **f.src
				*f.dst = &b
			}
		}
		if t.ToolsUpgradePolicy != "" {
			merged.ToolsUpgradePolicy = t.ToolsUpgradePolicy
		}
		changes = append(changes, types.PropertyChange{Name: "config.tools", Val: &merged})
	}
	if len(spec.ExtraConfig) > 0 {
		ec := append([]types.BaseOptionValue(nil), extra...)
		for _, o := range spec.ExtraConfig {
			ov := o.GetOptionValue()
			if ov == nil || ov.Key == "" || isStructuralKey(strings.ToLower(ov.Key)) {
				return &types.InvalidArgument{InvalidProperty: "spec.extraConfig"}
			}
			val := fmt.Sprint(ov.Value)
			idx := -1
			for i, cur := range ec {
				if strings.EqualFold(cur.GetOptionValue().Key, ov.Key) {
					idx = i
				}
			}
			switch {
			case val == "" && idx >= 0:
				ec = append(ec[:idx], ec[idx+1:]...)
			case val == "":
			case idx >= 0:
				ec[idx] = &types.OptionValue{Key: ov.Key, Value: val}
			default:
				ec = append(ec, &types.OptionValue{Key: ov.Key, Value: val})
			}
		}
		changes = append(changes, types.PropertyChange{Name: "config.extraConfig", Val: ec})
	}

	var edit *devEdit
	if len(spec.DeviceChange) > 0 {
		v.mu.Lock()
		nics := st.nics
		v.mu.Unlock()
		edit = newDevEdit(v, vmx, curName, devices, nics, on)
		if f := edit.apply(spec.DeviceChange); f != nil {
			edit.rollback()
			return f
		}
		var vmxDS types.ManagedObjectReference
		if s := v.datastoreByName(vmx.Datastore); s != nil {
			vmxDS = s.ref
		}
		nets, dss := edit.usage(vmxDS)
		changes = append(changes,
			types.PropertyChange{Name: "config.hardware.device", Val: []types.BaseVirtualDevice(edit.devices)},
			types.PropertyChange{Name: "network", Val: nets},
			types.PropertyChange{Name: "datastore", Val: dss},
			types.PropertyChange{Name: "summary.config.numEthernetCards", Val: int32(len(edit.devices.SelectByType((*types.VirtualEthernetCard)(nil))))},
			types.PropertyChange{Name: "summary.config.numVirtualDisks", Val: int32(len(edit.devices.SelectByType((*types.VirtualDisk)(nil))))},
		)
		for _, d := range oldDSs {
			if simulator.FindReference(dss, d) == nil {
				v.removeRef(ctx, d, "vm", ref)
			}
		}
		for _, d := range dss {
			v.addRef(ctx, d, "vm", ref)
		}
		v.mu.Lock()
		st.nics = edit.nics
		v.mu.Unlock()
	}
	now := time.Now()
	changes = append(changes, types.PropertyChange{Name: "config.changeVersion", Val: now.UTC().Format(time.RFC3339Nano)},
		types.PropertyChange{Name: "config.modified", Val: now})
	ctx.WithLock(vm, func() {
		ctx.Update(vm, changes)
		v.layout(vm)
		v.reindex(vm, st)
	})
	if edit != nil {
		for _, f := range edit.destroy {
			_ = os.Remove(f)
			_ = os.Remove(strings.TrimSuffix(f, ".vmdk") + "-flat.vmdk")
		}
		v.mu.Lock()
		up := st.toolsUp
		v.mu.Unlock()
		if on {
			v.setGuest(ctx, vm, st, up)
		}
	}
	if h := v.inv.hostByRef[st.host]; h != nil {
		var ev types.VmEvent
		ctx.WithLock(vm, func() { ev = v.vmEvent(vm, h) })
		s := *spec
		v.postEvent(ctx, &types.VmReconfiguredEvent{VmEvent: ev, ConfigSpec: s})
	}
	v.persist(ctx, ref)
	return nil
}

// sortedKeys returns the keys of a map in order (helper for deterministic output).
func sortedKeys[M ~map[K]V, K ~int32 | ~int | ~string, V any](m M) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
