package vcenter

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// Device keys, as vCenter numbers them.
const (
	keyPCI      = 100
	keyIDE0     = 200
	keyIDE1     = 201
	keyPS2      = 300
	keySIO      = 400
	keyVideo    = 500
	keyKeyboard = 600
	keyPointer  = 700
	keySCSI     = 1000 // + bus
	keyDisk     = 2000 // + bus*16 + unit
	keyIDECD    = 3000 // + bus*2 + unit
	keyNIC      = 4000 // + ethernet index
	keyFloppy   = 8000 // + index
	keyVMCI     = 12000
	keySATA     = 15000
	keySATACD   = 16000 // + unit
)

// nicMeta is what the lab remembers about a NIC beyond its device: its .vmx index and the
// portgroup name the .vmx recorded (which may not exist in this vCenter).
type nicMeta struct {
	index   int
	network string
}

// defaultDevices returns the devices every VM has: PCI, IDE, PS/2 and SIO controllers, keyboard,
// pointing device, video card and VMCI, plus a SATA controller for the CD-ROM.
func defaultDevices() object.VirtualDeviceList {
	desc := func(label, summary string) *types.Description {
		return &types.Description{Label: label, Summary: summary}
	}
	unit := func(n int32) *int32 { return &n }
	return object.VirtualDeviceList{
		&types.VirtualPCIController{VirtualController: types.VirtualController{
			VirtualDevice: types.VirtualDevice{Key: keyPCI, DeviceInfo: desc("PCI controller 0", "PCI controller 0")},
			Device:        []int32{keyVideo, keyVMCI, keySATA},
		}},
		&types.VirtualIDEController{VirtualController: types.VirtualController{
			VirtualDevice: types.VirtualDevice{Key: keyIDE0, DeviceInfo: desc("IDE 0", "IDE 0")}, BusNumber: 0,
		}},
		&types.VirtualIDEController{VirtualController: types.VirtualController{
			VirtualDevice: types.VirtualDevice{Key: keyIDE1, DeviceInfo: desc("IDE 1", "IDE 1")}, BusNumber: 1,
		}},
		&types.VirtualPS2Controller{VirtualController: types.VirtualController{
			VirtualDevice: types.VirtualDevice{Key: keyPS2, DeviceInfo: desc("PS2 controller 0", "PS2 controller 0")},
			Device:        []int32{keyKeyboard, keyPointer},
		}},
		&types.VirtualSIOController{VirtualController: types.VirtualController{
			VirtualDevice: types.VirtualDevice{Key: keySIO, DeviceInfo: desc("SIO controller 0", "SIO controller 0")},
		}},
		&types.VirtualKeyboard{VirtualDevice: types.VirtualDevice{
			Key: keyKeyboard, DeviceInfo: desc("Keyboard", "Keyboard"), ControllerKey: keyPS2, UnitNumber: unit(0),
		}},
		&types.VirtualPointingDevice{VirtualDevice: types.VirtualDevice{
			Key: keyPointer, DeviceInfo: desc("Pointing device", "Pointing device; Device"), ControllerKey: keyPS2, UnitNumber: unit(1),
			Backing: &types.VirtualPointingDeviceDeviceBackingInfo{HostPointingDevice: "autodetect",
				VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{UseAutoDetect: types.NewBool(false)}},
		}},
		&types.VirtualMachineVideoCard{
			VirtualDevice:    types.VirtualDevice{Key: keyVideo, DeviceInfo: desc("Video card ", "Video card"), ControllerKey: keyPCI, UnitNumber: unit(0)},
			VideoRamSizeInKB: 4096, NumDisplays: 1, UseAutoDetect: types.NewBool(false), Enable3DSupport: types.NewBool(false),
		},
		&types.VirtualMachineVMCIDevice{
			VirtualDevice: types.VirtualDevice{Key: keyVMCI, DeviceInfo: desc("VMCI device", "Device on the virtual machine PCI bus that provides support for the virtual machine communication interface"),
				ControllerKey: keyPCI, UnitNumber: unit(17)},
			Id: -1, AllowUnrestrictedCommunication: types.NewBool(false),
		},
		&types.VirtualAHCIController{VirtualSATAController: types.VirtualSATAController{VirtualController: types.VirtualController{
			VirtualDevice: types.VirtualDevice{Key: keySATA, DeviceInfo: desc("SATA controller 0", "AHCI"), ControllerKey: keyPCI, UnitNumber: unit(24)},
			BusNumber:     0,
		}}},
	}
}

// scsiController makes a SCSI controller of the .vmx virtualDev kind on a bus.
func scsiController(bus int, kind string) types.BaseVirtualDevice {
	unit := int32(160 + bus)
	base := types.VirtualSCSIController{
		VirtualController: types.VirtualController{
			VirtualDevice: types.VirtualDevice{Key: int32(keySCSI + bus), ControllerKey: keyPCI, UnitNumber: &unit,
				DeviceInfo: &types.Description{Label: fmt.Sprintf("SCSI controller %d", bus), Summary: scsiSummary(kind)}},
			BusNumber: int32(bus),
		},
		HotAddRemove:       types.NewBool(true),
		SharedBus:          types.VirtualSCSISharingNoSharing,
		ScsiCtlrUnitNumber: 7,
	}
	switch kind {
	case "pvscsi":
		return &types.ParaVirtualSCSIController{VirtualSCSIController: base}
	case "lsisas1068":
		return &types.VirtualLsiLogicSASController{VirtualSCSIController: base}
	case "buslogic":
		return &types.VirtualBusLogicController{VirtualSCSIController: base}
	default:
		return &types.VirtualLsiLogicController{VirtualSCSIController: base}
	}
}

func scsiSummary(kind string) string {
	switch kind {
	case "pvscsi":
		return "VMware paravirtual SCSI"
	case "lsisas1068":
		return "LSI Logic SAS"
	case "buslogic":
		return "BusLogic"
	}
	return "LSI Logic"
}

// scsiKind is the .vmx virtualDev of a SCSI controller device.
func scsiKind(d types.BaseVirtualDevice) string {
	switch d.(type) {
	case *types.ParaVirtualSCSIController:
		return "pvscsi"
	case *types.VirtualLsiLogicSASController:
		return "lsisas1068"
	case *types.VirtualBusLogicController:
		return "buslogic"
	}
	return "lsilogic"
}

// newNIC makes an Ethernet card of the .vmx virtualDev kind.
func newNIC(kind string, card types.VirtualEthernetCard) types.BaseVirtualDevice {
	switch kind {
	case "vmxnet3":
		return &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: card}}
	case "e1000e":
		return &types.VirtualE1000e{VirtualEthernetCard: card}
	case "vmxnet2":
		return &types.VirtualVmxnet2{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: card}}
	case "vlance":
		return &types.VirtualPCNet32{VirtualEthernetCard: card}
	default:
		return &types.VirtualE1000{VirtualEthernetCard: card}
	}
}

// nicKind is the .vmx virtualDev of an Ethernet card device.
func nicKind(d types.BaseVirtualDevice) string {
	switch d.(type) {
	case *types.VirtualVmxnet3, *types.VirtualVmxnet3Vrdma:
		return "vmxnet3"
	case *types.VirtualE1000e:
		return "e1000e"
	case *types.VirtualVmxnet2:
		return "vmxnet2"
	case *types.VirtualPCNet32:
		return "vlance"
	}
	return "e1000"
}

// vmxAddressType maps the API's MAC address type to the .vmx spelling and back.
func vmxAddressType(api string) string {
	switch strings.ToLower(api) {
	case "manual":
		return "static"
	case "generated":
		return "generated"
	}
	return "vpx"
}

func apiAddressType(vmx string) string {
	switch vmx {
	case "static":
		return string(types.VirtualEthernetCardMacTypeManual)
	case "generated":
		return string(types.VirtualEthernetCardMacTypeGenerated)
	}
	return string(types.VirtualEthernetCardMacTypeAssigned)
}

// dsPathOf turns a .vmx file name into a datastore path. Relative names live in the VM's
// directory; /vmfs/volumes/<ds>/<path> names another datastore by label (or VMFS UUID, resolved by
// the caller through dsNameOf).
func dsPathOf(vmDSPath object.DatastorePath, name string, dsNameOf func(string) string) string {
	if strings.HasPrefix(name, "/vmfs/volumes/") {
		rest := strings.TrimPrefix(name, "/vmfs/volumes/")
		ds, p, _ := strings.Cut(rest, "/")
		return joinDSPath(dsNameOf(ds), p)
	}
	if strings.HasPrefix(name, "[") {
		return name
	}
	return joinDSPath(vmDSPath.Datastore, path.Join(path.Dir(vmDSPath.Path), name))
}

// vmxFileName turns a datastore path back into the .vmx form, relative to the VM directory when
// the file lives there.
func vmxFileName(vmDSPath object.DatastorePath, dsPath string) string {
	var p object.DatastorePath
	if !p.FromString(dsPath) {
		return dsPath
	}
	if p.Datastore == vmDSPath.Datastore && path.Dir(p.Path) == path.Dir(vmDSPath.Path) {
		return path.Base(p.Path)
	}
	return "/vmfs/volumes/" + p.Datastore + "/" + p.Path
}

// connectable builds connect info; a powered-off VM's devices are never connected.
func connectable(start, guestControl, connected bool) *types.VirtualDeviceConnectInfo {
	status := "untried"
	if connected {
		status = "ok"
	}
	return &types.VirtualDeviceConnectInfo{StartConnected: start, AllowGuestControl: guestControl, Connected: connected, Status: status}
}

// sortDevices orders devices by key, as vCenter lists them.
func sortDevices(list object.VirtualDeviceList) {
	sort.SliceStable(list, func(i, j int) bool { return list[i].GetVirtualDevice().Key < list[j].GetVirtualDevice().Key })
}

// relinkControllers rebuilds every controller's list of attached device keys.
func relinkControllers(list object.VirtualDeviceList) {
	children := map[int32][]int32{}
	for _, d := range list {
		vd := d.GetVirtualDevice()
		if vd.ControllerKey != 0 {
			children[vd.ControllerKey] = append(children[vd.ControllerKey], vd.Key)
		}
	}
	for _, d := range list {
		if c, ok := d.(types.BaseVirtualController); ok {
			vc := c.GetVirtualController()
			keys := children[vc.Key]
			sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
			vc.Device = keys
		}
	}
}

// cdromBusKey gives the controller key and device key base of a .vmx CD-ROM bus name.
func cdromBusKey(bus string, unit int) (ctrl int32, key int32, ok bool) {
	switch bus {
	case "ide0":
		return keyIDE0, int32(keyIDECD + unit), unit <= 1
	case "ide1":
		return keyIDE1, int32(keyIDECD + 2 + unit), unit <= 1
	case "sata0":
		return keySATA, int32(keySATACD + unit), unit < 30
	}
	return 0, 0, false
}

// cdromBusName is the inverse of cdromBusKey for a CD-ROM device.
func cdromBusName(ctrl int32) string {
	switch ctrl {
	case keyIDE0:
		return "ide0"
	case keyIDE1:
		return "ide1"
	}
	return "sata0"
}
