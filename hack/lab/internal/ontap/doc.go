// Package ontap simulates the lab's NetApp ONTAP clusters, one per site, behind the ONTAP 9.8+
// REST API as docs/ontap-api.md describes it: cluster, SVM, volumes, snapshots, FlexClones,
// LUNs, igroups, lun-maps, NFS export policies, jobs, SnapMirror policies and relationships,
// with the relationships' transfers running between the two clusters over a replication link
// that tests can cut.
//
// # Entry points
//
//   - New builds one Cluster per topology site below a data root.
//   - Cluster.Handler serves that cluster's /api (basic auth; TLS is the caller's business).
//   - Lab.Seed creates the topology's relationships and baselines them synchronously; call it
//     once the protected volumes hold their data.
//   - Lab implements fabric.Fabric (Devices) for the vCenter side.
//   - Faults: Cluster.SetDown, Lab.CutLink / RestoreLink, Cluster.FailNextJob, FailNextRequest,
//     SetDelay. Ground truth: Lab.Truth, Cluster.Truth, Cluster.Relationship, Cluster.Volume.
//   - Time: everything runs on the lab clock passed to New; advance it to fire schedules, finish
//     transfers and jobs and expire jobs.
//
// # Data on disk
//
// As the fabric package describes: <root>/<site>/volumes/<volume>.<msid> is a volume's active
// file system (a SAN volume holds its LUN as the sub-directory <lun name>, which carries the
// VMFS header; a NAS volume's directory is the export's contents), and
// <root>/<site>/snapshots/<volume uuid>/<snapshot uuid> are its snapshots. Snapshots copy the
// active directory (hard-linking unchanged files from the previous snapshot), transfers
// hard-link the source snapshot on the destination and copy what changed into the destination's
// active directory, clones copy a snapshot. Active directories never share files with snapshots.
//
// # Concurrency
//
// One lock guards the objects of both clusters; directory copies run without it, in job
// operations and transfer goroutines that Lab.Close waits for.
package ontap
