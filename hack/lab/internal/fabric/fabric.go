// Package fabric is the contract between the lab's storage arrays and its vCenters: what each
// site's array presents to that site's ESXi hosts (LUNs through igroups and lun-maps, NFS exports
// through export policies) and where the presented file-system contents live on disk.
//
// The ONTAP side (package ontap) implements Fabric from its volumes, LUNs, igroups, lun-maps and
// export policies. The vCenter side (package vcenter) consumes it on rescans and on
// CreateNasDatastore and decides, per host, which datastores that host sees.
//
// Data model on disk. Every volume has a directory holding its active file system. A SAN volume
// holds its LUN(s) as sub-directories named after the LUN (for example "<volume dir>/RP1.lun");
// a LUN directory *is* the VMFS file system: the datastore's files (VM folders, .vmx, .vmdk) plus
// a VMFS header file (HeaderFile) that records the VMFS label and UUID written when the LUN was
// formatted. A NAS volume's directory is the NFS export's contents directly. Snapshots, SnapMirror
// transfers and FlexClones copy directories, so the VMFS header, and with it the datastore label,
// travels with the data exactly as it does on a real array.
package fabric

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Protocol is how a device reaches the hosts.
type Protocol string

const (
	// VMFS is a LUN reached over FC or iSCSI and formatted with VMFS.
	VMFS Protocol = "vmfs"
	// NFS is an exported volume mounted by the hosts with CreateNasDatastore.
	NFS Protocol = "nfs"
)

// Device is one piece of storage a site's array offers to its hosts, in its current state.
type Device struct {
	Site     string   // topology site ID, e.g. "site2"
	Protocol Protocol //
	Volume   string   // ONTAP volume name, e.g. "RG1FV1_SM"
	Dir      string   // directory holding the datastore's files (the LUN directory or the NFS volume)
	Writable bool     // false while the volume is a SnapMirror destination (type dp) or a snapshot

	// SAN only.
	LunPath    string   // ONTAP LUN name, e.g. "/vol/RG1FV1_SM/RP1.lun"
	Serial     string   // ONTAP LUN serial number (12 characters)
	NAA        string   // canonical ESXi device name derived from the serial (see NAAFromSerial)
	Online     bool     // LUN enabled and its volume online
	Initiators []string // initiators (WWPN or IQN) of every igroup the LUN is mapped to

	// NAS only.
	Server     string   // NFS server address (the SVM's data LIF), as passed to CreateNasDatastore
	ExportPath string   // junction path, e.g. "/RG2FV3_SM"; empty when the volume is not mounted
	ReadWrite  []string // client matches (IP, CIDR or "0.0.0.0/0") with rw access
	ReadOnly   []string // client matches with ro access only
}

// Fabric reports what a site's array presents right now. Implementations are safe for
// concurrent use and cheap enough to call on every rescan.
type Fabric interface {
	Devices(site string) []Device
}

// HeaderFile is the name of the file, at the root of a LUN directory, that stands for the VMFS
// header on the LUN.
const HeaderFile = ".vmfs-header.json"

// Header is what a VMFS header records: the label the datastore was created with, its UUID, and
// the device it was written on (its signature). On any other device (a replica, a clone) the
// volume is a copy: ESXi lists it as unresolved until it is force-mounted or resignatured. A
// header without a device matches any device.
type Header struct {
	Label  string `json:"label"`
	UUID   string `json:"uuid"`
	Device string `json:"device,omitempty"` // canonical name (naa.…) of the LUN it was formatted on
}

// WriteHeader formats a LUN directory: it creates dir and writes its VMFS header.
func WriteHeader(dir string, h Header) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, HeaderFile), b, 0o644)
}

// ReadHeader reads a LUN directory's VMFS header. It returns ErrNoHeader when the LUN was never
// formatted.
func ReadHeader(dir string) (Header, error) {
	b, err := os.ReadFile(filepath.Join(dir, HeaderFile))
	if errors.Is(err, os.ErrNotExist) {
		return Header{}, ErrNoHeader
	}
	if err != nil {
		return Header{}, err
	}
	var h Header
	if err := json.Unmarshal(b, &h); err != nil {
		return Header{}, fmt.Errorf("corrupt VMFS header in %s: %w", dir, err)
	}
	return h, nil
}

// ErrNoHeader means a LUN carries no VMFS file system.
var ErrNoHeader = errors.New("no VMFS header")

// NAAFromSerial is the ESXi canonical name of a NetApp LUN: the NetApp NAA prefix followed by the
// hex encoding of the 12-character serial number (ONTAP's own rule, "lun serial -x").
func NAAFromSerial(serial string) string {
	return fmt.Sprintf("naa.600a0980%x", serial)
}
