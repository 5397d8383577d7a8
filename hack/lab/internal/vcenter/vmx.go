package vcenter

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// vmxFile is a parsed .vmx: an ordered list of key/value pairs. Keys are matched without regard to
// case (as ESXi does) but written back as they were read.
type vmxFile struct {
	keys []string          // original spelling, in order
	vals map[string]string // lower-cased key -> value
}

func newVMX() *vmxFile { return &vmxFile{vals: map[string]string{}} }

// get returns the value of key and whether it is present.
func (f *vmxFile) get(key string) (string, bool) {
	v, ok := f.vals[strings.ToLower(key)]
	return v, ok
}

// str returns the value of key or "".
func (f *vmxFile) str(key string) string {
	v, _ := f.get(key)
	return v
}

// boolean returns the value of key read as a vmx boolean, or def when absent.
func (f *vmxFile) boolean(key string, def bool) bool {
	v, ok := f.get(key)
	if !ok {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "1", "on":
		return true
	case "false", "no", "0", "off":
		return false
	}
	return def
}

// integer returns the value of key as an int, or def when absent or malformed.
func (f *vmxFile) integer(key string, def int) int {
	v, ok := f.get(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return def
	}
	return n
}

// set sets key to val, keeping the key's position when it exists.
func (f *vmxFile) set(key, val string) {
	lk := strings.ToLower(key)
	if _, ok := f.vals[lk]; !ok {
		f.keys = append(f.keys, key)
	}
	f.vals[lk] = val
}

// setBool sets key to a vmx boolean.
func (f *vmxFile) setBool(key string, b bool) {
	if b {
		f.set(key, "TRUE")
	} else {
		f.set(key, "FALSE")
	}
}

// each calls fn for every key in file order.
func (f *vmxFile) each(fn func(key, val string)) {
	for _, k := range f.keys {
		fn(k, f.vals[strings.ToLower(k)])
	}
}

// vmxEscape applies the .vmx value escaping: '"', '|' and control characters become "|XX".
func vmxEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '|' || c < 0x20 || c == 0x7f {
			fmt.Fprintf(&b, "|%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func vmxUnescape(s string) string {
	if !strings.Contains(s, "|") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '|' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseVMX reads a .vmx. Malformed lines are ignored, as ESXi ignores what it does not understand.
func parseVMX(r io.Reader) (*vmxFile, error) {
	f := newVMX()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		if k == "" {
			continue
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		f.set(k, vmxUnescape(v))
	}
	return f, sc.Err()
}

// write renders the file in .vmx syntax.
func (f *vmxFile) write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, k := range f.keys {
		if _, err := fmt.Fprintf(bw, "%s = \"%s\"\n", k, vmxEscape(f.vals[strings.ToLower(k)])); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// vmxUUID renders a UUID the way .vmx files store uuid.bios, uuid.location and vc.uuid:
// "42 1c 6f 3a 2b 5e 7d 4c-8e 9f 0a 1b 2c 3d 4e 5f".
func vmxUUID(u string) string {
	h := strings.ReplaceAll(strings.ToLower(u), "-", "")
	if len(h) != 32 {
		return u
	}
	var b strings.Builder
	for i := 0; i < 16; i++ {
		if i == 8 {
			b.WriteByte('-')
		} else if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[2*i : 2*i+2])
	}
	return b.String()
}

// parseVMXUUID reads a UUID in .vmx or canonical form and returns it canonical (8-4-4-4-12), or "".
func parseVMXUUID(s string) string {
	h := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'f':
			return r
		case r >= 'A' && r <= 'F':
			return r + ('a' - 'A')
		case r == ' ' || r == '-':
			return -1
		}
		return 'x'
	}, s)
	if len(h) != 32 {
		return ""
	}
	if _, err := hex.DecodeString(h); err != nil {
		return ""
	}
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// locationID is the lab's stand-in for ESXi's uuid.location: a hash of where a .vmx lives. It
// covers the vCenter (site) and the datastore path, so a .vmx replicated to the other site, or
// copied to another datastore or folder, no longer matches the location it records.
func locationID(site, vmxPath string) string {
	h := sha256.Sum256([]byte("uuid.location/" + site + "/" + vmxPath))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// Guest OS identifiers: the API's guestId and the .vmx guestOS spelling of the same OS.
var guestOSNames = map[string]string{
	"windows9Server64Guest":      "windows9srv-64",
	"windows2019srv_64Guest":     "windows2019srv-64",
	"windows2019srvNext_64Guest": "windows2019srvnext-64",
	"windows9_64Guest":           "windows9-64",
	"windows8Server64Guest":      "windows8srv-64",
	"windows7Server64Guest":      "windows7srv-64",
	"otherLinux64Guest":          "otherlinux-64",
	"otherLinuxGuest":            "otherlinux",
	"other3xLinux64Guest":        "other3xlinux-64",
	"other4xLinux64Guest":        "other4xlinux-64",
	"other5xLinux64Guest":        "other5xlinux-64",
	"rhel7_64Guest":              "rhel7-64",
	"rhel8_64Guest":              "rhel8-64",
	"rhel9_64Guest":              "rhel9-64",
	"centos7_64Guest":            "centos7-64",
	"centos8_64Guest":            "centos8-64",
	"ubuntu64Guest":              "ubuntu-64",
	"debian11_64Guest":           "debian11-64",
	"debian12_64Guest":           "debian12-64",
	"sles15_64Guest":             "sles15-64",
	"otherGuest":                 "other",
	"otherGuest64":               "other-64",
}

var guestIDByVMX = func() map[string]string {
	m := make(map[string]string, len(guestOSNames))
	for api, vmx := range guestOSNames {
		m[vmx] = api
	}
	return m
}()

// vmxGuestOS maps an API guest id to its .vmx spelling (the id itself when unknown).
func vmxGuestOS(guestID string) string {
	if s, ok := guestOSNames[guestID]; ok {
		return s
	}
	return guestID
}

// apiGuestID maps a .vmx guestOS value back to the API guest id ("otherGuest" when unknown).
func apiGuestID(vmx string) string {
	if id, ok := guestIDByVMX[strings.ToLower(vmx)]; ok {
		return id
	}
	if vmx != "" {
		for _, id := range knownGuestIDs() {
			if strings.EqualFold(id, vmx) {
				return id
			}
		}
	}
	return "otherGuest"
}

// machine is everything a .vmx says about a VM that the lab models. It is the common form between
// a .vmx on a datastore and a VM in a vCenter inventory: the lab writes it when a VM is created or
// reconfigured and reads it when a VM is registered.
type machine struct {
	Name         string
	GuestID      string // API guest id
	CPUs         int
	CoresPerSock int
	MemoryMB     int
	Firmware     string // "bios" | "efi"
	HWVersion    int    // virtualHW.version
	Annotation   string
	BIOSUUID     string // canonical form
	InstanceUUID string // canonical form, "" if the .vmx has no vc.uuid
	Location     string // canonical form, "" if the .vmx has no uuid.location
	UUIDAction   string // uuid.action: "keep" | "create" | ""
	NVRAM        string // nvram file name, relative to the VM directory

	SCSI     []scsiCtl
	Disks    []diskDev
	NICs     []nicDev
	CDROMs   []cdromDev
	Floppies []floppyDev
	Tools    toolsSettings
	Guest    guestIdentity
	Extra    [][2]string // every other key, in file order
}

type scsiCtl struct {
	Bus        int
	VirtualDev string // "pvscsi" | "lsilogic" | "lsisas1068" | "buslogic"
}

type diskDev struct {
	Bus, Unit int    // scsi<Bus>:<Unit>
	FileName  string // as in the .vmx: relative to the VM directory, or /vmfs/volumes/<ds>/<path>
}

type nicDev struct {
	Index          int    // ethernet<Index>
	VirtualDev     string // "vmxnet3" | "e1000" | "e1000e" | "vlance" | "vmxnet2"
	Network        string // ethernet<N>.networkName
	SwitchUUID     string // ethernet<N>.dvs.switchId, canonical; "" for a standard portgroup
	PortgroupKey   string // ethernet<N>.dvs.portgroupId
	AddressType    string // .vmx spelling: "vpx" | "generated" | "static"
	MAC            string
	StartConnected bool
	GuestControl   bool
}

type cdromDev struct {
	Bus            string // "ide0", "ide1", "sata0"
	Unit           int
	DeviceType     string // "cdrom-raw" | "atapi-cdrom" | "cdrom-image"
	FileName       string
	ClientDevice   bool
	StartConnected bool
}

type floppyDev struct {
	Index          int
	FileType       string // "device" | "file" | "remote"
	FileName       string
	ClientDevice   bool
	StartConnected bool
}

type toolsSettings struct {
	AfterPowerOn, AfterResume, BeforeSuspend, BeforePowerOff bool
	SyncTime                                                 bool
	UpgradePolicy                                            string
}

// guestIdentity is what the guest OS inside the VM has configured. On a real VM it lives in the
// guest's disk; the lab keeps it in the .vmx under "lab.guest." keys so that it replicates with the
// VM and survives re-registration, and so that a customization applied at one site persists.
type guestIdentity struct {
	HostName string
	NICs     map[int]guestNIC // by ethernet index
}

type guestNIC struct {
	IP, Mask, Gateway string
	DNS               []string
}

const labGuestPrefix = "lab.guest."

// keys the lab derives from other fields or that describe hardware it does not model; they are not
// copied into extraConfig.
func isStructuralKey(lk string) bool {
	if strings.HasPrefix(lk, labGuestPrefix) {
		return true
	}
	for _, p := range []string{"scsi", "ethernet", "ide", "sata", "floppy", "pcibridge", "vmci", "uuid.", "vc.uuid",
		"toolscripts.", "tools.", "svga", "hpet", "usb", "sound", "serial", "parallel", "nvme"} {
		if strings.HasPrefix(lk, p) {
			return true
		}
	}
	switch lk {
	case ".encoding", "config.version", "virtualhw.version", "displayname", "guestos", "numvcpus",
		"cpuid.corespersocket", "memsize", "firmware", "annotation", "nvram", "extendedconfigfile",
		"checkpoint.vmstate", "sched.swap.derivedname", "migrate.hostlog", "vmotion.checkpointfbsize":
		return true
	}
	return false
}

// toVMX renders m as a .vmx.
func (m *machine) toVMX() *vmxFile {
	f := newVMX()
	f.set(".encoding", "UTF-8")
	f.set("config.version", "8")
	hw := m.HWVersion
	if hw == 0 {
		hw = 19
	}
	f.set("virtualHW.version", strconv.Itoa(hw))
	f.set("displayName", m.Name)
	f.set("guestOS", vmxGuestOS(m.GuestID))
	f.set("numvcpus", strconv.Itoa(max(m.CPUs, 1)))
	if m.CoresPerSock > 0 {
		f.set("cpuid.coresPerSocket", strconv.Itoa(m.CoresPerSock))
	}
	f.set("memSize", strconv.Itoa(max(m.MemoryMB, 4)))
	if m.Firmware != "" {
		f.set("firmware", m.Firmware)
	}
	if m.Annotation != "" {
		f.set("annotation", m.Annotation)
	}
	f.set("nvram", m.NVRAM)
	f.set("pciBridge0.present", "TRUE")
	f.set("vmci0.present", "TRUE")
	f.set("uuid.bios", vmxUUID(m.BIOSUUID))
	if m.Location != "" {
		f.set("uuid.location", vmxUUID(m.Location))
	}
	if m.InstanceUUID != "" {
		f.set("vc.uuid", vmxUUID(m.InstanceUUID))
	}
	if m.UUIDAction != "" {
		f.set("uuid.action", m.UUIDAction)
	}
	for _, c := range m.SCSI {
		p := fmt.Sprintf("scsi%d", c.Bus)
		f.set(p+".present", "TRUE")
		f.set(p+".virtualDev", c.VirtualDev)
		f.set(p+".sharedBus", "none")
	}
	for _, d := range m.Disks {
		p := fmt.Sprintf("scsi%d:%d", d.Bus, d.Unit)
		f.set(p+".present", "TRUE")
		f.set(p+".fileName", d.FileName)
		f.set(p+".deviceType", "scsi-hardDisk")
	}
	for _, c := range m.CDROMs {
		p := fmt.Sprintf("%s:%d", c.Bus, c.Unit)
		f.set(p+".present", "TRUE")
		f.set(p+".deviceType", c.DeviceType)
		f.set(p+".fileName", c.FileName)
		if c.ClientDevice {
			f.set(p+".clientDevice", "TRUE")
		}
		f.setBool(p+".startConnected", c.StartConnected)
	}
	for _, fl := range m.Floppies {
		p := fmt.Sprintf("floppy%d", fl.Index)
		f.set(p+".present", "TRUE")
		f.set(p+".fileType", fl.FileType)
		f.set(p+".fileName", fl.FileName)
		if fl.ClientDevice {
			f.set(p+".clientDevice", "TRUE")
		}
		f.setBool(p+".startConnected", fl.StartConnected)
	}
	for _, n := range m.NICs {
		p := fmt.Sprintf("ethernet%d", n.Index)
		f.set(p+".present", "TRUE")
		f.set(p+".virtualDev", n.VirtualDev)
		f.set(p+".networkName", n.Network)
		if n.SwitchUUID != "" {
			f.set(p+".dvs.switchId", vmxUUID(n.SwitchUUID))
			f.set(p+".dvs.portgroupId", n.PortgroupKey)
		}
		f.set(p+".addressType", n.AddressType)
		if n.AddressType == "static" {
			f.set(p+".address", n.MAC)
		} else {
			f.set(p+".generatedAddress", n.MAC)
		}
		f.setBool(p+".startConnected", n.StartConnected)
		f.setBool(p+".allowGuestConnectionControl", n.GuestControl)
	}
	f.setBool("toolScripts.afterPowerOn", m.Tools.AfterPowerOn)
	f.setBool("toolScripts.afterResume", m.Tools.AfterResume)
	f.setBool("toolScripts.beforeSuspend", m.Tools.BeforeSuspend)
	f.setBool("toolScripts.beforePowerOff", m.Tools.BeforePowerOff)
	f.setBool("tools.syncTime", m.Tools.SyncTime)
	if m.Tools.UpgradePolicy != "" {
		f.set("tools.upgrade.policy", m.Tools.UpgradePolicy)
	}
	if m.Guest.HostName != "" {
		f.set(labGuestPrefix+"hostName", m.Guest.HostName)
	}
	idx := make([]int, 0, len(m.Guest.NICs))
	for i := range m.Guest.NICs {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		g := m.Guest.NICs[i]
		p := fmt.Sprintf("%sethernet%d.", labGuestPrefix, i)
		f.set(p+"ipAddress", g.IP)
		if g.Mask != "" {
			f.set(p+"subnetMask", g.Mask)
		}
		if g.Gateway != "" {
			f.set(p+"gateway", g.Gateway)
		}
		if len(g.DNS) > 0 {
			f.set(p+"dns", strings.Join(g.DNS, ","))
		}
	}
	for _, kv := range m.Extra {
		if !isStructuralKey(strings.ToLower(kv[0])) {
			f.set(kv[0], kv[1])
		}
	}
	return f
}

// machineFromVMX reads what the lab models out of a .vmx. vmName is the directory name, used when
// the file has no displayName.
func machineFromVMX(f *vmxFile, vmName string) *machine {
	m := &machine{
		Name:         f.str("displayName"),
		GuestID:      apiGuestID(f.str("guestOS")),
		CPUs:         f.integer("numvcpus", 1),
		CoresPerSock: f.integer("cpuid.coresPerSocket", 0),
		MemoryMB:     f.integer("memSize", 32),
		Firmware:     f.str("firmware"),
		HWVersion:    f.integer("virtualHW.version", 19),
		Annotation:   f.str("annotation"),
		BIOSUUID:     parseVMXUUID(f.str("uuid.bios")),
		InstanceUUID: parseVMXUUID(f.str("vc.uuid")),
		Location:     parseVMXUUID(f.str("uuid.location")),
		UUIDAction:   strings.ToLower(f.str("uuid.action")),
		NVRAM:        f.str("nvram"),
		Tools: toolsSettings{
			AfterPowerOn:   f.boolean("toolScripts.afterPowerOn", true),
			AfterResume:    f.boolean("toolScripts.afterResume", true),
			BeforeSuspend:  f.boolean("toolScripts.beforeSuspend", true),
			BeforePowerOff: f.boolean("toolScripts.beforePowerOff", true),
			SyncTime:       f.boolean("tools.syncTime", false),
			UpgradePolicy:  f.str("tools.upgrade.policy"),
		},
		Guest: guestIdentity{HostName: f.str(labGuestPrefix + "hostName"), NICs: map[int]guestNIC{}},
	}
	if m.Name == "" {
		m.Name = vmName
	}
	if m.Firmware == "" {
		m.Firmware = "bios"
	}
	for bus := 0; bus < 4; bus++ {
		p := fmt.Sprintf("scsi%d", bus)
		if f.boolean(p+".present", false) {
			m.SCSI = append(m.SCSI, scsiCtl{Bus: bus, VirtualDev: orDefault(f.str(p+".virtualDev"), "lsilogic")})
		}
		for unit := 0; unit < 16; unit++ {
			if unit == 7 {
				continue
			}
			q := fmt.Sprintf("scsi%d:%d", bus, unit)
			if !f.boolean(q+".present", false) {
				continue
			}
			dt := strings.ToLower(f.str(q + ".deviceType"))
			if dt != "" && dt != "scsi-harddisk" && dt != "disk" {
				continue
			}
			m.Disks = append(m.Disks, diskDev{Bus: bus, Unit: unit, FileName: f.str(q + ".fileName")})
		}
	}
	for _, bus := range []string{"ide0", "ide1", "sata0"} {
		for unit := 0; unit < 30; unit++ {
			if strings.HasPrefix(bus, "ide") && unit > 1 {
				break
			}
			q := fmt.Sprintf("%s:%d", bus, unit)
			if !f.boolean(q+".present", false) {
				continue
			}
			dt := strings.ToLower(f.str(q + ".deviceType"))
			if !strings.Contains(dt, "cdrom") {
				continue
			}
			m.CDROMs = append(m.CDROMs, cdromDev{
				Bus: bus, Unit: unit, DeviceType: dt, FileName: f.str(q + ".fileName"),
				ClientDevice:   f.boolean(q+".clientDevice", false),
				StartConnected: f.boolean(q+".startConnected", true),
			})
		}
	}
	for i := 0; i < 2; i++ {
		p := fmt.Sprintf("floppy%d", i)
		if !f.boolean(p+".present", false) {
			continue
		}
		m.Floppies = append(m.Floppies, floppyDev{
			Index: i, FileType: orDefault(strings.ToLower(f.str(p+".fileType")), "device"), FileName: f.str(p + ".fileName"),
			ClientDevice:   f.boolean(p+".clientDevice", false),
			StartConnected: f.boolean(p+".startConnected", true),
		})
	}
	for i := 0; i < 10; i++ {
		p := fmt.Sprintf("ethernet%d", i)
		if !f.boolean(p+".present", false) {
			continue
		}
		n := nicDev{
			Index:          i,
			VirtualDev:     orDefault(strings.ToLower(f.str(p+".virtualDev")), "e1000"),
			Network:        f.str(p + ".networkName"),
			SwitchUUID:     parseVMXUUID(f.str(p + ".dvs.switchId")),
			PortgroupKey:   f.str(p + ".dvs.portgroupId"),
			AddressType:    orDefault(strings.ToLower(f.str(p+".addressType")), "generated"),
			StartConnected: f.boolean(p+".startConnected", true),
			GuestControl:   f.boolean(p+".allowGuestConnectionControl", true),
		}
		if n.AddressType == "static" {
			n.MAC = strings.ToLower(f.str(p + ".address"))
		} else {
			n.MAC = strings.ToLower(f.str(p + ".generatedAddress"))
		}
		m.NICs = append(m.NICs, n)
		q := fmt.Sprintf("%sethernet%d.", labGuestPrefix, i)
		if ip := f.str(q + "ipAddress"); ip != "" {
			g := guestNIC{IP: ip, Mask: f.str(q + "subnetMask"), Gateway: f.str(q + "gateway")}
			if dns := f.str(q + "dns"); dns != "" {
				g.DNS = strings.Split(dns, ",")
			}
			m.Guest.NICs[i] = g
		}
	}
	f.each(func(k, v string) {
		if !isStructuralKey(strings.ToLower(k)) {
			m.Extra = append(m.Extra, [2]string{k, v})
		}
	})
	return m
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
