package vcenter

import (
	"context"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/fabric"
	"vmdr.local/lab/internal/topology"
)

func TestNFSMountAndRemove(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{})
	site2 := l.vc[topology.Site2]
	replicate(t, l.fabric, topology.Site1, "RG2FV3", topology.Site2, "RG2FV3_SM")
	s2, _ := l.world.Site(topology.Site2)
	l.fabric.update(t, topology.Site2, "RG2FV3_SM", func(d *fabric.Device) {
		d.ExportPath = "/RG2FV3_SM"
		d.ReadWrite = s2.Array.ExportPolicies[0].Clients
		d.Writable = true
	})
	c := l.client(t, topology.Site2)
	f := finder(t, c, topology.Site2Datacenter)
	dss := func(name string) *object.HostDatastoreSystem {
		h, err := f.HostSystem(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		d, err := h.ConfigManager().DatastoreSystem(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	b1, b2 := dss("bcdr1.site2.vmbook.lab"), dss("bcdr2.site2.vmbook.lab")
	spec := func(remote string) types.HostNasVolumeSpec {
		return types.HostNasVolumeSpec{RemoteHost: s2.Array.DataLIF, RemotePath: remote, LocalPath: "RP5", AccessMode: "readWrite", Type: "NFS"}
	}
	if _, err := b1.CreateNasDatastore(ctx, spec("/RG2FV3_Clone")); err == nil || !strings.Contains(err.Error(), "denied") {
		t.Fatalf("mount of a missing export: %v", err)
	}
	ds, err := b1.CreateNasDatastore(ctx, spec("/RG2FV3_SM"))
	if err != nil {
		t.Fatal(err)
	}
	var dsm mo.Datastore
	if err := ds.Properties(ctx, ds.Reference(), []string{"summary", "info", "host"}, &dsm); err != nil {
		t.Fatal(err)
	}
	nas, ok := dsm.Info.(*types.NasDatastoreInfo)
	if !ok || nas.Nas.RemoteHost != s2.Array.DataLIF || nas.Nas.RemotePath != "/RG2FV3_SM" || dsm.Summary.Name != "RP5" || dsm.Summary.Type != "NFS" {
		t.Fatalf("NFS datastore %+v %#v", dsm.Summary, dsm.Info)
	}
	if _, err := b1.CreateNasDatastore(ctx, spec("/RG2FV3_SM")); err == nil {
		t.Fatal("second mount of the same share accepted")
	}
	if _, err := b2.CreateNasDatastore(ctx, spec("/RG2FV3_SM")); err != nil {
		t.Fatal(err)
	}
	if err := ds.Properties(ctx, ds.Reference(), []string{"host"}, &dsm); err != nil {
		t.Fatal(err)
	}
	if len(dsm.Host) != 2 {
		t.Fatalf("%d host mounts", len(dsm.Host))
	}
	// The replicated Finance VMs on RP5 are there to register.
	rp5, err := f.Datastore(ctx, "RP5")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp5.Stat(ctx, "Finance-App1/Finance-App1.vmx"); err != nil {
		t.Fatalf("Finance-App1 on the NFS replica: %v", err)
	}

	// The export stops letting bcdr1 in: after its rescan its mount is inaccessible.
	l.fabric.update(t, topology.Site2, "RG2FV3_SM", func(d *fabric.Device) { d.ReadWrite = []string{"30.1.1.12"} })
	h1, _ := f.HostSystem(ctx, "bcdr1.site2.vmbook.lab")
	ss, _ := h1.ConfigManager().StorageSystem(ctx)
	if err := ss.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mountOf(site2, "RP5", "bcdr1.site2.vmbook.lab"); got == nil || got.Accessible {
		t.Fatalf("bcdr1 mount %+v", got)
	}
	if d := datastoreTruthOf(site2, "RP5"); !d.Accessible {
		t.Fatal("RP5 inaccessible although bcdr2 still reaches it")
	}
	l.fabric.update(t, topology.Site2, "RG2FV3_SM", func(d *fabric.Device) { d.ReadWrite = s2.Array.ExportPolicies[0].Clients })
	if err := ss.RescanVmfs(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mountOf(site2, "RP5", "bcdr1.site2.vmbook.lab"); got == nil || !got.Accessible {
		t.Fatalf("bcdr1 mount %+v after the export came back", got)
	}

	// RemoveDatastore unmounts from one host.
	if err := b1.Remove(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if d := datastoreTruthOf(site2, "RP5"); len(d.Mounts) != 1 || d.Mounts[0].Host != "bcdr2.site2.vmbook.lab" {
		t.Fatalf("after RemoveDatastore: %+v", d)
	}
	if err := b1.Remove(ctx, ds); err == nil {
		t.Fatal("removing an unmounted datastore succeeded")
	}

	// A read-only export cannot be mounted read-write.
	l.fabric.update(t, topology.Site2, "RG2FV3_SM", func(d *fabric.Device) { d.Writable = false })
	if _, err := b1.CreateNasDatastore(ctx, spec("/RG2FV3_SM")); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("read-write mount of a read-only export: %v", err)
	}
}

func TestHostAdvancedOptions(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, topology.DefaultOptions(), Options{})
	c := l.client(t, topology.Site2)
	f := finder(t, c, topology.Site2Datacenter)
	h, err := f.HostSystem(ctx, "bcdr1.site2.vmbook.lab")
	if err != nil {
		t.Fatal(err)
	}
	var hs mo.HostSystem
	if err := h.Properties(ctx, h.Reference(), []string{"configManager.advancedOption"}, &hs); err != nil {
		t.Fatal(err)
	}
	om := object.NewOptionManager(c.Client, *hs.ConfigManager.AdvancedOption)
	opts, err := om.Query(ctx, "LVM.")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, o := range opts {
		got[o.GetOptionValue().Key] = o.GetOptionValue().Value
	}
	// ESXi 7/8: copies are not mounted by label (unresolved until resolved).
	if got["LVM.DisallowSnapshotLun"] != int64(1) || got["LVM.EnableResignature"] != int64(0) {
		t.Fatalf("LVM options %v", got)
	}
	if err := om.Update(ctx, []types.BaseOptionValue{&types.OptionValue{Key: "LVM.EnableResignature", Value: int64(1)}}); err != nil {
		t.Fatal(err)
	}
	opts, err = om.Query(ctx, "LVM.EnableResignature")
	if err != nil || len(opts) != 1 || opts[0].GetOptionValue().Value != int64(1) {
		t.Fatalf("after update: %v %v", opts, err)
	}
	if err := om.Update(ctx, []types.BaseOptionValue{&types.OptionValue{Key: "LVM.EnableResignature", Value: "yes"}}); err == nil {
		t.Fatal("string value for an integer option accepted")
	}
	if err := om.Update(ctx, []types.BaseOptionValue{&types.OptionValue{Key: "LVM.NoSuchOption", Value: int64(1)}}); err == nil {
		t.Fatal("unknown option accepted")
	}
	if _, err := om.Query(ctx, "NoSuch."); err == nil {
		t.Fatal("query of unknown prefix succeeded")
	}
	// The other site's host is untouched.
	c1 := l.client(t, topology.Site1)
	h1, err := finder(t, c1, topology.Site1Datacenter).HostSystem(ctx, "esx1.site1.vmbook.lab")
	if err != nil {
		t.Fatal(err)
	}
	if err := h1.Properties(ctx, h1.Reference(), []string{"configManager.advancedOption"}, &hs); err != nil {
		t.Fatal(err)
	}
	opts, err = object.NewOptionManager(c1.Client, *hs.ConfigManager.AdvancedOption).Query(ctx, "LVM.EnableResignature")
	if err != nil || opts[0].GetOptionValue().Value != int64(0) {
		t.Fatalf("site 1 option changed too: %v %v", opts, err)
	}
}

func mountOf(v *VCenter, ds, host string) *MountTruth {
	for _, m := range datastoreTruthOf(v, ds).Mounts {
		if m.Host == host {
			m := m
			return &m
		}
	}
	return nil
}

func datastoreTruthOf(v *VCenter, name string) DatastoreTruth {
	for _, d := range v.Truth().Datastores {
		if d.Name == name {
			return d
		}
	}
	return DatastoreTruth{}
}
