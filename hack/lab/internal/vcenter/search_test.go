package vcenter

import (
	"context"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"

	"vmdr.local/lab/internal/topology"
)

// Hosts carry their own DNS names (not the stock localhost.localdomain), and FindByDnsName finds
// hosts by name and VMs by the host name their guest reports.
func TestHostsHaveTheirDNSNamesAndFindByDnsNameFindsThem(t *testing.T) {
	l := newLab(t, topology.DefaultOptions(), Options{})
	ctx := context.Background()
	c := l.client(t, topology.Site1)
	f := finder(t, c, topology.Site1Datacenter)
	host, err := f.HostSystem(ctx, "esx2.site1.vmbook.lab")
	if err != nil {
		t.Fatal(err)
	}
	var hs mo.HostSystem
	if err := host.Properties(ctx, host.Reference(), []string{"config.network.dnsConfig", "configManager.networkSystem"}, &hs); err != nil {
		t.Fatal(err)
	}
	dns := hs.Config.Network.DnsConfig.GetHostDnsConfig()
	if dns.HostName != "esx2" || dns.DomainName != "site1.vmbook.lab" || len(dns.Address) == 0 || dns.Address[0] != "20.1.1.5" {
		t.Fatalf("dnsConfig %+v", dns)
	}
	var ns mo.HostNetworkSystem
	if err := host.Properties(ctx, *hs.ConfigManager.NetworkSystem, []string{"dnsConfig"}, &ns); err != nil {
		t.Fatal(err)
	}
	if ns.DnsConfig.GetHostDnsConfig().HostName != "esx2" {
		t.Fatalf("network system dnsConfig %+v", ns.DnsConfig)
	}

	si := object.NewSearchIndex(c.Client)
	dc, _ := f.Datacenter(ctx, topology.Site1Datacenter)
	for _, name := range []string{"esx2.site1.vmbook.lab", "ESX2.site1.vmbook.lab", "esx2"} {
		ref, err := si.FindByDnsName(ctx, dc, name, false)
		if err != nil {
			t.Fatal(err)
		}
		if ref == nil || ref.Reference() != host.Reference() {
			t.Fatalf("FindByDnsName(%q) = %v, want %v", name, ref, host.Reference())
		}
	}
	if ref, err := si.FindByDnsName(ctx, nil, "esx9.site1.vmbook.lab", false); err != nil || ref != nil {
		t.Fatalf("unknown host: %v, %v", ref, err)
	}
	vm := mustVM(t, f, "Protection Group 1/Database/HR Database")
	eventually(t, "guest host name", func() bool { return vmProps(t, vm, "guest.hostName").Guest.HostName != "" })
	ref, err := si.FindByDnsName(ctx, nil, vmProps(t, vm, "guest.hostName").Guest.HostName, true)
	if err != nil || ref == nil || ref.Reference() != vm.Reference() {
		t.Fatalf("FindByDnsName of the VM's guest = %v, %v", ref, err)
	}
}
