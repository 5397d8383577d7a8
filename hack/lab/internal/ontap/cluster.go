package ontap

// /api/cluster, /api/svm/svms and /api/snapmirror/policies.

func (c *Cluster) renderCluster() record {
	v := c.lab.version
	return record{
		"name": c.name,
		"uuid": c.uuid,
		"version": record{
			"full":       "NetApp Release " + v.String() + ": Mon Jan 04 12:00:00 UTC 2021",
			"generation": v.Generation,
			"major":      v.Major,
			"minor":      v.Minor,
		},
		"san_optimized": false,
		"_links":        selfLink("/api/cluster"),
	}
}

func (c *Cluster) getCluster(rc *reqCtx, _ []string) *apiError {
	return rc.instance(clusterResource, c.renderCluster())
}

func (c *Cluster) renderSVM() record {
	s := c.svm
	return record{
		"uuid":     s.uuid,
		"name":     s.name,
		"state":    "running",
		"subtype":  "default",
		"language": "c.utf_8",
		"nfs":      record{"enabled": true},
		"fcp":      record{"enabled": true},
		"iscsi":    record{"enabled": false},
		"ip_interfaces": []any{record{
			"name": s.name + "_data1",
			"ip":   record{"address": s.dataLIF},
		}},
		"snapmirror": record{"is_protected": false, "protected_volumes_count": 0},
		"_links":     selfLink("/api/svm/svms/" + s.uuid),
	}
}

func (c *Cluster) getSVMs(rc *reqCtx, _ []string) *apiError {
	return rc.list(svmResource, []record{c.renderSVM()})
}

func (c *Cluster) getSVM(rc *reqCtx, args []string) *apiError {
	if args[0] != c.svm.uuid {
		return errNotFound("uuid")
	}
	return rc.instance(svmResource, c.renderSVM())
}

func (c *Cluster) svmRef() record {
	return ref(c.svm.name, c.svm.uuid, "/api/svm/svms/"+c.svm.uuid)
}

func (c *Cluster) renderSMPolicy(p *smPolicy) record {
	r := record{
		"uuid":                        p.uuid,
		"name":                        p.name,
		"type":                        p.typ,
		"scope":                       "cluster",
		"comment":                     p.comment,
		"network_compression_enabled": false,
		"throttle":                    0,
		"_links":                      selfLink("/api/snapmirror/policies/" + p.uuid),
	}
	if p.syncType != "" {
		r["sync_type"] = p.syncType
	}
	return r
}

func (c *Cluster) getSMPolicies(rc *reqCtx, _ []string) *apiError {
	c.lab.mu.RLock()
	recs := make([]record, 0, len(c.smPolicies))
	for _, p := range c.smPolicies {
		recs = append(recs, c.renderSMPolicy(p))
	}
	c.lab.mu.RUnlock()
	return rc.list(smPolicyResource, recs)
}

func (c *Cluster) getSMPolicy(rc *reqCtx, args []string) *apiError {
	c.lab.mu.RLock()
	var rec record
	for _, p := range c.smPolicies {
		if p.uuid == args[0] {
			rec = c.renderSMPolicy(p)
		}
	}
	c.lab.mu.RUnlock()
	if rec == nil {
		return errNotFound("uuid")
	}
	return rc.instance(smPolicyResource, rec)
}

// smPolicyByRef finds a SnapMirror policy by name or uuid. Callers hold l.mu.
func (c *Cluster) smPolicyByRef(name, uuid string) *smPolicy {
	for _, p := range c.smPolicies {
		if (name == "" || p.name == name) && (uuid == "" || p.uuid == uuid) {
			return p
		}
	}
	return nil
}
