// Package vcenter is the lab's vCenter: one simulated vCenter Server per site, built on govmomi's
// simulator library (what vcsim is made of) and extended where vcsim is hollow, served over HTTPS
// with the real VIM SOAP API at /sdk. Several VCenter values coexist in one process: each has its
// own simulator model (registry, sessions, property collectors, tasks) and its own server.
//
// # Lifecycle
//
// New builds a site from its topology.Site: datacenter, clusters, hosts (each with a Fibre
// Channel HBA whose WWPN is the topology's initiator, and its vmkernel IP), VM folders, resource
// pools and portgroups (distributed by default, standard with Options.StandardPortgroups); then
// the datastores the fabric presents to each host; then the site's VMs, written to their
// datastores as ESXi would have left them (.vmx, .nvram, disk descriptors) and registered from
// there. Serve answers on a listener with a TLS configuration; URL is the SDK endpoint; Close
// stops everything.
//
// # What the lab adds to vcsim
//
//   - RegisterVM_Task reads the .vmx: NICs with portgroup and MAC, disks (capacity from the
//     descriptor), CD-ROM, floppy, guest id, BIOS UUID (uuid.bios) and instance UUID (vc.uuid, kept
//     unless another VM of this vCenter has it), tools settings. A NIC's network is resolved as
//     vCenter does: a distributed port by switch UUID and portgroup key, a standard one by name;
//     what does not resolve (a VM from the other site) keeps the .vmx's values, attached to
//     nothing. CreateVM_Task writes the .vmx first and registers it; ReconfigVM_Task, CustomizeVM,
//     the question's answer and Rename_Task rewrite it, so the .vmx always describes the VM.
//   - The "moved or copied" question. Each .vmx records where it was created or last answered for
//     (uuid.location: a hash of the vCenter's site and the .vmx's datastore path). Powering on a VM
//     whose .vmx is somewhere else raises runtime.question (message id msg.uuid.altered, choices
//     "0" button.uuid.cancel, "1" button.uuid.movedTheVM, "2" button.uuid.copiedTheVM) and the
//     PowerOnVM_Task stays running until AnswerVM (or CancelTask) answers: "moved" keeps the UUIDs,
//     "copied" gives the VM a new BIOS UUID, a new instance UUID and new host-generated MACs,
//     cancel fails the task. uuid.action = "keep"/"create" in the .vmx answers without asking.
//   - Storage as ESXi 7/8 handle it (vmfs.go): rescans refresh a host's SCSI devices from the
//     fabric and mount the VMFS volumes whose signature matches their device; replicas and clones
//     are unresolved copies until ResolveMultipleUnresolvedVmfsVolumes force-mounts them (keeping
//     their UUID) or a resignature gives them a new one (Options.MountCopiesByLabel mounts them by
//     label instead, LVM.DisallowSnapshotLun=0). UnmountVmfsVolume, MountVmfsVolume,
//     DetachScsiLun and AttachScsiLun are remembered by the host. A heartbeat notices storage lost
//     under a mounted volume (unmapped, offline, deleted, read-only) without a rescan: the mount,
//     the datastore and its VMs turn inaccessible and the fault is recorded. A datastore is
//     identified by its VMFS UUID and reported at ds:///vmfs/volumes/<uuid>/.
//     CreateNasDatastore mounts an NFS export the fabric presents to the host (spec.localPath is
//     the datastore name); RemoveDatastore unmounts; host advanced options round-trip with type
//     checks.
//   - A guest model. GuestBootTime after a power-on (lab clock) VMware Tools run, the heartbeat is
//     green and the guest reports the network settings it has: those its .vmx records under
//     lab.guest.* keys (standing for the guest OS's own configuration, so they travel with the VM),
//     or those of a customization spec applied with CustomizeVM_Task, which then persist.
//     ShutdownGuest, RebootGuest and StandbyGuest need tools.
//   - WaitForUpdatesEx that scales: only changed objects are re-read, versions advance ("1", "2",
//     ...), unknown versions are InvalidCollectorVersion, truncated sets continue with their version.
//   - Guarded handlers: a malformed request gets a SOAP fault with vCenter's message; inputs the
//     stock handlers mishandle are refused first (see dispatch.go), task goroutines run under a
//     recover, and wire details follow vCenter (xsi:type prefixes, the quoted session cookie,
//     NotAuthenticated for property reads without a session, CurrentTime on the lab clock).
//   - Fault injection (SetMethodDelay, SetTaskDuration, FailNextTask, FailNextCall, SetDown) and
//     ground truth (Truth, VM).
//
// # Simplifications
//
// The lab does not model hot-add limits, resource admission, vMotion of storage (RelocateVM_Task
// to another datastore is refused), snapshot files, or VMFS volumes of more than one extent. ReconfigVM_Task handles NICs, CD-ROMs, floppies, disks and SCSI controllers;
// other device classes are NotSupported. Power-on is refused while the VM's datastore is
// inaccessible; while the question is pending the VM is still powered off.
package vcenter
