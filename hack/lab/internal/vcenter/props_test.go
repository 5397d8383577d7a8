package vcenter

import (
	"context"
	"strings"
	"testing"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/topology"
)

// A property path the type does not have fails the whole read with InvalidProperty, as on
// vCenter (the stock simulator answers it in the object's missingSet and the client never learns).
func TestAnUnknownPropertyPathIsAnInvalidPropertyFault(t *testing.T) {
	l := newLab(t, topology.DefaultOptions(), Options{})
	ctx := context.Background()
	c := l.client(t, topology.Site1)
	vm := mustVM(t, finder(t, c, topology.Site1Datacenter), "Protection Group 1/Database/HR Database")
	retrieve := func(typ string, obj types.ManagedObjectReference, paths ...string) error {
		_, err := methods.RetrievePropertiesEx(ctx, c.Client, &types.RetrievePropertiesEx{
			This: c.ServiceContent.PropertyCollector,
			SpecSet: []types.PropertyFilterSpec{{
				ObjectSet: []types.ObjectSpec{{Obj: obj}},
				PropSet:   []types.PropertySpec{{Type: typ, PathSet: paths}},
			}},
		})
		return err
	}
	for _, bad := range []string{"runtime.noSuchThing", "config.hardware.device.key", "runtime.host.name", "nosuch"} {
		err := retrieve("VirtualMachine", vm.Reference(), "name", bad)
		var ip *types.InvalidProperty
		if _, ok := fault.As(err, &ip); !ok || ip.Name != bad {
			t.Errorf("path %q: %v, want InvalidProperty naming it", bad, err)
		}
	}
	for _, good := range [][]string{
		{"name", "runtime.powerState", "summary.runtime.faultToleranceState", "config.hardware.device", "guest.net"},
		{"config.extraConfig[\"uuid.bios\"]"},
	} {
		if err := retrieve("VirtualMachine", vm.Reference(), good...); err != nil {
			t.Errorf("paths %v: %v", good, err)
		}
	}
	ds := l.vc[topology.Site1].datastoreByName("RP1")
	if err := retrieve("Datastore", ds.ref, "info.vmfs.uuid", "summary.url", "host"); err != nil {
		t.Errorf("a path through a polymorphic value: %v", err)
	}
	if err := retrieve("ManagedEntity", vm.Reference(), "summary"); !fault.Is(err, &types.InvalidProperty{}) {
		t.Errorf("a path of a subtype on the base type: %v", err)
	}
	// A filter with such a path is refused as it is created.
	pc := property.DefaultCollector(c.Client)
	_, err := pc.CreateFilter(ctx, types.CreateFilter{Spec: types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{Obj: vm.Reference()}},
		PropSet:   []types.PropertySpec{{Type: "VirtualMachine", PathSet: []string{"runtime.noSuchThing"}}},
	}})
	if !fault.Is(err, &types.InvalidProperty{}) {
		t.Errorf("CreateFilter with an unknown path: %v", err)
	}
}

// A datastore's URL is ds:///vmfs/volumes/<uuid>/ (VMFS and NFS), in every way it is read.
func TestDatastoreURLsAreDatastoreURLs(t *testing.T) {
	l := newLab(t, topology.DefaultOptions(), Options{})
	ctx := context.Background()
	c := l.client(t, topology.Site1)
	v := l.vc[topology.Site1]
	for _, name := range []string{"RP1", "RP5"} {
		s := v.datastoreByName(name)
		want := "ds:///vmfs/volumes/" + s.uuid + "/"
		var ds mo.Datastore
		if err := property.DefaultCollector(c.Client).RetrieveOne(ctx, s.ref, []string{"summary", "info"}, &ds); err != nil {
			t.Fatal(err)
		}
		if ds.Summary.Url != want || ds.Info.GetDatastoreInfo().Url != want {
			t.Errorf("%s: summary.url %q, info.url %q, want %q", name, ds.Summary.Url, ds.Info.GetDatastoreInfo().Url, want)
		}
		var one mo.Datastore
		if err := property.DefaultCollector(c.Client).RetrieveOne(ctx, s.ref, []string{"summary.url"}, &one); err != nil || one.Summary.Url != want {
			t.Errorf("%s: summary.url alone %q, %v", name, one.Summary.Url, err)
		}
		if strings.HasPrefix(s.dir, "ds:") {
			t.Fatalf("the lab's own directory became a URL: %s", s.dir)
		}
	}
}
