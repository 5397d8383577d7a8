package ontap

import (
	"path/filepath"

	"vmdr.local/lab/internal/fabric"
)

var _ fabric.Fabric = (*Lab)(nil)

// Devices implements fabric.Fabric: every LUN of the site's cluster (NAA from its serial, online
// when enabled and its volume online, the initiators of every igroup it is mapped to, writable
// when its volume is RW) and every mounted NFS volume (the SVM's data LIF, the junction path, the
// clients of its export policy's rules, writable when RW). While the cluster is down its LUNs are
// reported offline and its exports are absent. Volumes still being created are left out.
func (l *Lab) Devices(site string) []fabric.Device {
	c := l.bySite[site]
	if c == nil {
		return nil
	}
	down := c.down.Load()
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []fabric.Device
	for _, v := range c.sortedVolumes() {
		if c.creating(v) {
			continue
		}
		for _, leaf := range sortedKeys(v.luns) {
			ln := v.luns[leaf]
			out = append(out, fabric.Device{
				Site:       site,
				Protocol:   fabric.VMFS,
				Volume:     v.name,
				Dir:        filepath.Join(v.dir, leaf),
				Writable:   v.typ == "rw",
				LunPath:    ln.name(),
				Serial:     ln.serial,
				NAA:        fabric.NAAFromSerial(ln.serial),
				Online:     !down && lunState(ln) == "online",
				Initiators: c.sortedInitiators(ln),
			})
		}
		if v.san || v.junction == "" || v.state != "online" || down {
			continue
		}
		d := fabric.Device{
			Site: site, Protocol: fabric.NFS, Volume: v.name, Dir: v.dir, Writable: v.typ == "rw",
			Server: c.svm.dataLIF, ExportPath: v.junction,
		}
		if v.policy != nil {
			d.ReadWrite, d.ReadOnly = ruleClients(v.policy)
		}
		out = append(out, d)
	}
	return out
}

// ruleClients splits a policy's client matches into read-write and read-only ones.
func ruleClients(p *exportPolicy) (rw, ro []string) {
	grants := func(flavors []string) bool {
		for _, f := range flavors {
			if f != "never" && f != "none" {
				return true
			}
		}
		return false
	}
	for _, r := range p.rules {
		switch {
		case grants(r.rw):
			rw = append(rw, r.clients...)
		case grants(r.ro):
			ro = append(ro, r.clients...)
		}
	}
	return rw, ro
}
