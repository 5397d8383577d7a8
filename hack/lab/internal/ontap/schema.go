package ontap

// schema_gen.go is generated from NetApp's published ONTAP 9.8 REST API swagger (the
// "ONTAP 9.8 REST API reference", downloadable from a cluster at /docs/api or from
// docs.netapp.com); point ONTAP_SWAGGER at a local copy to regenerate it:
//
//go:generate sh -c "python3 gen/schema.py ${ONTAP_SWAGGER:?set ONTAP_SWAGGER to the ONTAP 9.8 swagger yaml} > schema_gen.go && gofmt -w schema_gen.go"

// Field schema per resource and version: the 9.8 definitions (schema_gen.go) plus the fields
// later versions add. A fields= or filter naming anything else is rejected as ONTAP does.

// laterFields are fields added after 9.8, by the version that brought them (docs/ontap-api.md
// §0). The "transfer-schedule" entry is resolved to Options.TransferScheduleVersion.
var laterFields = []struct {
	kind, since string
	paths       []string
}{
	{"relationship", "9.9.1", []string{"transfer.end_time", "transfer.total_duration", "unhealthy_reason.arguments", "consistency_group_failover"}},
	{"relationship", "transfer-schedule", []string{"transfer_schedule", "transfer_schedule.name", "transfer_schedule.uuid", "throttle", "last_transfer_type", "group_type", "identity_preservation"}},
}

// buildSchema returns, per resource kind, the set of field paths valid at the lab's version.
func (l *Lab) buildSchema() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for kind, paths := range schemaFields {
		m := make(map[string]bool, len(paths))
		for _, p := range paths {
			m[p] = true
		}
		out[kind] = m
	}
	for _, lf := range laterFields {
		since := l.tsVersion
		if lf.since != "transfer-schedule" {
			since = mustVersion(lf.since)
		}
		if !l.version.AtLeast(since) {
			continue
		}
		for _, p := range lf.paths {
			out[lf.kind][p] = true
		}
	}
	return out
}

// knownFields returns the valid field paths of a resource kind.
func (l *Lab) knownFields(kind string) map[string]bool {
	l.schemaOnce.Do(func() { l.schema = l.buildSchema() })
	if m, ok := l.schema[kind]; ok {
		return m
	}
	return map[string]bool{}
}

// expensiveFields returns the documented expensive fields of a resource kind (left out of "*").
func expensiveFields(kind string) []string { return schemaExpensive[kind] }
