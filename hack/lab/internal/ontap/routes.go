package ontap

import "strings"

// The resources and the route table of the REST API.

var (
	clusterResource  = &resource{kind: "cluster", keys: []string{"name", "uuid"}}
	svmResource      = &resource{kind: "svm", keys: []string{"uuid", "name"}}
	volumeResource   = &resource{kind: "volume", keys: []string{"uuid", "name"}, params: []string{"validate_only", "sizing_method", "restore_to.snapshot.name", "restore_to.snapshot.uuid", "force"}}
	snapshotResource = &resource{kind: "snapshot", keys: []string{"uuid", "name"}}
	relResource      = &resource{kind: "relationship", keys: []string{"uuid"}, params: []string{
		"list_destinations_only", "destination_only", "source_only", "source_info_only", "validate_only",
		"failover", "force-failover", "force_failover", "failback", "force", "delete_lun_maps_in_destination", "unmap_namespace"}}
	transferResource  = &resource{kind: "transfer", keys: []string{"uuid"}}
	smPolicyResource  = &resource{kind: "policy", keys: []string{"uuid", "name"}}
	lunResource       = &resource{kind: "lun", keys: []string{"uuid", "name"}, params: []string{"allow_delete_while_mapped"}}
	igroupResource    = &resource{kind: "igroup", keys: []string{"uuid", "name"}, params: []string{"allow_delete_while_mapped"}}
	initiatorResource = &resource{kind: "initiator", keys: []string{"name"}, params: []string{"allow_delete_while_mapped"}}
	lunMapResource    = &resource{kind: "lunmap", keys: []string{"lun.uuid", "igroup.uuid", "lun.name", "igroup.name"}}
	exportPolResource = &resource{kind: "exportpolicy", keys: []string{"id", "name"}}
	exportRuleRes     = &resource{kind: "exportrule", keys: []string{"index"}}
	jobActionResource = &resource{kind: "job", keys: []string{"uuid"}, params: []string{"action"}}
)

func (c *Cluster) routes() []route {
	r := func(method, pattern string, res *resource, h func(*reqCtx, []string) *apiError) route {
		return route{method: method, pattern: strings.Split(pattern, "/"), res: res, handle: h}
	}
	return []route{
		r("GET", "cluster", clusterResource, c.getCluster),
		r("GET", "cluster/jobs", jobResource, c.getJobs),
		r("GET", "cluster/jobs/{}", jobResource, c.getJob),
		r("PATCH", "cluster/jobs/{}", jobActionResource, c.patchJob),

		r("GET", "svm/svms", svmResource, c.getSVMs),
		r("GET", "svm/svms/{}", svmResource, c.getSVM),

		r("GET", "storage/volumes", volumeResource, c.getVolumes),
		r("POST", "storage/volumes", volumeResource, c.postVolume),
		r("PATCH", "storage/volumes", volumeResource, c.patchVolumesByQuery),
		r("DELETE", "storage/volumes", volumeResource, c.deleteVolumesByQuery),
		r("GET", "storage/volumes/{}", volumeResource, c.getVolume),
		r("PATCH", "storage/volumes/{}", volumeResource, c.patchVolume),
		r("DELETE", "storage/volumes/{}", volumeResource, c.deleteVolume),
		r("GET", "storage/volumes/{}/snapshots", snapshotResource, c.getSnapshots),
		r("POST", "storage/volumes/{}/snapshots", snapshotResource, c.postSnapshot),
		r("GET", "storage/volumes/{}/snapshots/{}", snapshotResource, c.getSnapshot),
		r("PATCH", "storage/volumes/{}/snapshots/{}", snapshotResource, c.patchSnapshot),
		r("DELETE", "storage/volumes/{}/snapshots/{}", snapshotResource, c.deleteSnapshot),

		r("GET", "snapmirror/relationships", relResource, c.getRelationships),
		r("POST", "snapmirror/relationships", relResource, c.postRelationship),
		r("PATCH", "snapmirror/relationships", relResource, c.patchRelationshipsByQuery),
		r("DELETE", "snapmirror/relationships", relResource, c.deleteRelationshipsByQuery),
		r("GET", "snapmirror/relationships/{}", relResource, c.getRelationship),
		r("PATCH", "snapmirror/relationships/{}", relResource, c.patchRelationship),
		r("DELETE", "snapmirror/relationships/{}", relResource, c.deleteRelationship),
		r("GET", "snapmirror/relationships/{}/transfers", transferResource, c.getTransfers),
		r("POST", "snapmirror/relationships/{}/transfers", transferResource, c.postTransfer),
		r("GET", "snapmirror/relationships/{}/transfers/{}", transferResource, c.getTransfer),
		r("PATCH", "snapmirror/relationships/{}/transfers/{}", transferResource, c.patchTransfer),
		r("GET", "snapmirror/policies", smPolicyResource, c.getSMPolicies),
		r("GET", "snapmirror/policies/{}", smPolicyResource, c.getSMPolicy),

		r("GET", "storage/luns", lunResource, c.getLUNs),
		r("POST", "storage/luns", lunResource, c.postLUN),
		r("GET", "storage/luns/{}", lunResource, c.getLUN),
		r("PATCH", "storage/luns/{}", lunResource, c.patchLUN),
		r("DELETE", "storage/luns/{}", lunResource, c.deleteLUN),

		r("GET", "protocols/san/igroups", igroupResource, c.getIgroups),
		r("POST", "protocols/san/igroups", igroupResource, c.postIgroup),
		r("GET", "protocols/san/igroups/{}", igroupResource, c.getIgroup),
		r("PATCH", "protocols/san/igroups/{}", igroupResource, c.patchIgroup),
		r("DELETE", "protocols/san/igroups/{}", igroupResource, c.deleteIgroup),
		r("GET", "protocols/san/igroups/{}/initiators", initiatorResource, c.getInitiators),
		r("POST", "protocols/san/igroups/{}/initiators", initiatorResource, c.postInitiators),
		r("GET", "protocols/san/igroups/{}/initiators/{}", initiatorResource, c.getInitiator),
		r("DELETE", "protocols/san/igroups/{}/initiators/{}", initiatorResource, c.deleteInitiator),

		r("GET", "protocols/san/lun-maps", lunMapResource, c.getLUNMaps),
		r("POST", "protocols/san/lun-maps", lunMapResource, c.postLUNMap),
		r("GET", "protocols/san/lun-maps/{}/{}", lunMapResource, c.getLUNMap),
		r("DELETE", "protocols/san/lun-maps/{}/{}", lunMapResource, c.deleteLUNMap),

		r("GET", "protocols/nfs/export-policies", exportPolResource, c.getExportPolicies),
		r("POST", "protocols/nfs/export-policies", exportPolResource, c.postExportPolicy),
		r("GET", "protocols/nfs/export-policies/{}", exportPolResource, c.getExportPolicy),
		r("PATCH", "protocols/nfs/export-policies/{}", exportPolResource, c.patchExportPolicy),
		r("DELETE", "protocols/nfs/export-policies/{}", exportPolResource, c.deleteExportPolicy),
		r("GET", "protocols/nfs/export-policies/{}/rules", exportRuleRes, c.getExportRules),
		r("POST", "protocols/nfs/export-policies/{}/rules", exportRuleRes, c.postExportRule),
		r("GET", "protocols/nfs/export-policies/{}/rules/{}", exportRuleRes, c.getExportRule),
		r("PATCH", "protocols/nfs/export-policies/{}/rules/{}", exportRuleRes, c.patchExportRule),
		r("DELETE", "protocols/nfs/export-policies/{}/rules/{}", exportRuleRes, c.deleteExportRule),
	}
}
