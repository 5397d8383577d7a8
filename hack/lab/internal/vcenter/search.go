package vcenter

import (
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// configureHostDNS gives a host the DNS configuration of its name (esx1.site1.vmbook.lab is host
// name esx1 in domain site1.vmbook.lab, static, the site's DNS servers), where the stock model
// leaves every host "localhost.localdomain".
func (v *VCenter) configureHostDNS(hi *hostInfo, hs *simulator.HostSystem) {
	short, domain, _ := strings.Cut(hi.name, ".")
	var servers []string
	for _, pg := range v.site.Portgroups {
		if len(pg.DNS) > 0 {
			servers = append([]string(nil), pg.DNS...)
			break
		}
	}
	dns := func() *types.HostDnsConfig {
		return &types.HostDnsConfig{HostName: short, DomainName: domain, Address: servers, SearchDomain: []string{domain}}
	}
	if hs.Config != nil && hs.Config.Network != nil {
		hs.Config.Network.DnsConfig = dns()
		stacks := append([]types.HostNetStackInstance(nil), hs.Config.Network.NetStackInstance...)
		for i := range stacks {
			if stacks[i].Key == "defaultTcpipStack" {
				stacks[i].DnsConfig = dns()
			}
		}
		hs.Config.Network.NetStackInstance = stacks
	}
	if hs.ConfigManager.NetworkSystem != nil {
		if ns, ok := v.reg.Get(*hs.ConfigManager.NetworkSystem).(*simulator.HostNetworkSystem); ok {
			ns.DnsConfig = dns()
		}
	}
}

// searchOverride handles SearchIndex methods.
type searchOverride struct{ overrideBase }

// FindByDnsName finds a host by its DNS name (host name, or host name and domain) or a VM by the
// host name its guest reports, ignoring case, as vCenter does.
func (o *searchOverride) FindByDnsName(ctx *simulator.Context, req *types.FindByDnsName) soap.HasFault {
	body := &methods.FindByDnsNameBody{Res: new(types.FindByDnsNameResponse)}
	if found := o.v.findByDNSName(ctx, req.Datacenter, req.DnsName, req.VmSearch); len(found) > 0 {
		body.Res.Returnval = &found[0]
	}
	return body
}

// FindAllByDnsName is FindByDnsName returning every match.
func (o *searchOverride) FindAllByDnsName(ctx *simulator.Context, req *types.FindAllByDnsName) soap.HasFault {
	return &methods.FindAllByDnsNameBody{Res: &types.FindAllByDnsNameResponse{
		Returnval: o.v.findByDNSName(ctx, req.Datacenter, req.DnsName, req.VmSearch),
	}}
}

func (v *VCenter) findByDNSName(ctx *simulator.Context, dc *types.ManagedObjectReference, name string, vms bool) []types.ManagedObjectReference {
	name = strings.TrimSuffix(strings.TrimSpace(name), ".")
	if name == "" || (dc != nil && *dc != v.inv.dc) {
		return nil
	}
	var out []types.ManagedObjectReference
	if !vms {
		for _, h := range v.inv.hosts {
			short, _, _ := strings.Cut(h.name, ".")
			if strings.EqualFold(name, h.name) || strings.EqualFold(name, short) {
				out = append(out, h.ref)
			}
		}
		return out
	}
	v.mu.Lock()
	refs := make([]types.ManagedObjectReference, 0, len(v.vms))
	for ref := range v.vms {
		refs = append(refs, ref)
	}
	v.mu.Unlock()
	for _, ref := range sortedRefs(refs) {
		vm, ok := v.reg.Get(ref).(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		var hn string
		ctx.WithLock(vm, func() { hn = vm.Guest.HostName })
		if hn != "" && strings.EqualFold(strings.TrimSuffix(hn, "."), name) {
			out = append(out, ref)
		}
	}
	return out
}
