package vcenter

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/topology"
)

// FileManager tasks name the datastore they work on (not the FileManager, which is no managed
// entity), copy folders with their contents, and fail with the file faults vCenter gives.
func TestFileManagerTasksWorkOnDatastoresAndCopyFolders(t *testing.T) {
	l := newLab(t, topology.DefaultOptions(), Options{})
	ctx := context.Background()
	c := l.client(t, topology.Site1)
	f := finder(t, c, topology.Site1Datacenter)
	dc, err := f.Datacenter(ctx, topology.Site1Datacenter)
	if err != nil {
		t.Fatal(err)
	}
	fm := object.NewFileManager(c.Client)
	dir, _ := l.vc[topology.Site1].datastoreDir("RP1", types.ManagedObjectReference{})
	ds := l.vc[topology.Site1].datastoreByName("RP1")

	tk, err := fm.CopyDatastoreFile(ctx, "[RP1] HR Database", dc, "[RP1] HR Database copy", dc, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitTask(t, tk); err != nil {
		t.Fatal(err)
	}
	var tm mo.Task
	if err := tk.Properties(ctx, tk.Reference(), []string{"info"}, &tm); err != nil {
		t.Fatal(err)
	}
	if tm.Info.Entity == nil || *tm.Info.Entity != ds.ref || tm.Info.EntityName != "RP1" {
		t.Fatalf("task entity %v %q, want the datastore %v", tm.Info.Entity, tm.Info.EntityName, ds.ref)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "HR Database", "HR Database.vmx"))
	got, err := os.ReadFile(filepath.Join(dir, "HR Database copy", "HR Database.vmx"))
	if err != nil || len(got) == 0 || string(got) != string(want) {
		t.Fatalf("copied .vmx: %d bytes, %v", len(got), err)
	}

	// The destination exists: FileAlreadyExists unless forced.
	tk, _ = fm.CopyDatastoreFile(ctx, "[RP1] HR Database", dc, "[RP1] HR Database copy", dc, false)
	if _, err := waitTask(t, tk); !fault.Is(err, &types.FileAlreadyExists{}) {
		t.Fatalf("copy over an existing folder: %v", err)
	}
	tk, _ = fm.MoveDatastoreFile(ctx, "[RP1] HR Database copy", dc, "[RP2] moved", dc, false)
	if _, err := waitTask(t, tk); err != nil {
		t.Fatal(err)
	}
	dir2, _ := l.vc[topology.Site1].datastoreDir("RP2", types.ManagedObjectReference{})
	if _, err := os.Stat(filepath.Join(dir2, "moved", "HR Database.vmx")); err != nil {
		t.Fatalf("moved folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "HR Database copy")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("source of the move still there: %v", err)
	}
	if err := fm.MakeDirectory(ctx, "[RP2] a/b", dc, false); !fault.Is(err, &types.FileNotFound{}) {
		t.Fatalf("mkdir without parents: %v", err)
	}
	if err := fm.MakeDirectory(ctx, "[RP2] a/b", dc, true); err != nil {
		t.Fatal(err)
	}
	tk, _ = fm.DeleteDatastoreFile(ctx, "[RP2] moved", dc)
	if _, err := waitTask(t, tk); err != nil {
		t.Fatal(err)
	}
	tk, _ = fm.DeleteDatastoreFile(ctx, "[RP2] moved", dc)
	if _, err := waitTask(t, tk); !fault.Is(err, &types.FileNotFound{}) {
		t.Fatalf("delete of a missing folder: %v", err)
	}
	if _, err := fm.DeleteDatastoreFile(ctx, "[NoSuchDS] x", dc); !fault.Is(err, &types.InvalidDatastore{}) {
		t.Fatalf("unknown datastore: %v", err)
	}
}
