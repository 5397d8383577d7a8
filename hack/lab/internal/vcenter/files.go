package vcenter

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// fileManagerOverride handles FileManager methods on the lab's datastores. The stock ones make the
// FileManager itself the tasks' entity (SDKs that type TaskInfo.entity as a ManagedEntity refuse
// the task's info), copy a folder as an empty file, and resolve paths outside the lab's model of
// datastores (which follows the fabric: a datastore that is inaccessible has no files to offer).
type fileManagerOverride struct{ overrideBase }

// dsFile is a resolved "[datastore] path".
type dsFile struct {
	path  string // as given, normalized: "[ds] dir/file"
	local string // on disk
	ds    *dsState
}

// resolveFile resolves a datastore path of this vCenter's datacenter (required, as on vCenter).
func (v *VCenter) resolveFile(dc *types.ManagedObjectReference, name string) (dsFile, types.BaseMethodFault) {
	if dc == nil {
		return dsFile{}, &types.InvalidArgument{InvalidProperty: "datacenter"}
	}
	if *dc != v.inv.dc {
		return dsFile{}, &types.ManagedObjectNotFound{Obj: *dc}
	}
	var p object.DatastorePath
	if !p.FromString(name) || p.Datastore == "" {
		return dsFile{}, &types.InvalidDatastorePath{DatastorePath: name}
	}
	s := v.datastoreByName(p.Datastore)
	if s == nil {
		return dsFile{}, &types.InvalidDatastore{Name: p.Datastore}
	}
	v.mu.Lock()
	dir, ok := s.dir, s.accessible()
	v.mu.Unlock()
	if !ok {
		return dsFile{}, &types.InvalidDatastore{Name: p.Datastore, Datastore: &s.ref}
	}
	// Cleaning a rooted path keeps it inside the datastore ("[ds] ../x" is "[ds] x").
	rel := filepath.Clean("/" + filepath.FromSlash(p.Path))
	return dsFile{path: joinDSPath(p.Datastore, strings.TrimPrefix(filepath.ToSlash(rel), "/")), local: filepath.Join(dir, rel), ds: s}, nil
}

// fileFault maps an OS error on f to the VIM file fault vCenter gives.
func fileFault(f dsFile, err error, other types.BaseFileFault) types.BaseMethodFault {
	var ff types.BaseFileFault = other
	switch {
	case errors.Is(err, fs.ErrNotExist):
		ff = &types.FileNotFound{}
	case errors.Is(err, fs.ErrExist):
		ff = &types.FileAlreadyExists{}
	}
	ff.GetFileFault().File = f.path
	return ff.(types.BaseMethodFault)
}

func (v *VCenter) fileTask(ctx *simulator.Context, method, desc string, entity *dsState, run func() types.BaseMethodFault) types.ManagedObjectReference {
	spec := taskSpec{method: method, descID: desc, run: func(*simulator.Context) (types.AnyType, types.BaseMethodFault) {
		return nil, run()
	}}
	if entity != nil {
		spec.entity, spec.entityName = entity.ref, entity.name
	} else {
		spec.entity, spec.entityName = v.inv.dc, v.inv.dcName
	}
	return v.startTask(ctx, spec)
}

// CopyDatastoreFile_Task copies a file or a folder (recursively). The destination must not exist
// unless force is set, in which case it is replaced.
func (o *fileManagerOverride) CopyDatastoreFileTask(ctx *simulator.Context, req *types.CopyDatastoreFile_Task) soap.HasFault {
	body := &methods.CopyDatastoreFile_TaskBody{}
	src, fault := o.v.resolveFile(req.SourceDatacenter, req.SourceName)
	if fault == nil {
		var dst dsFile
		dst, fault = o.v.resolveFile(req.DestinationDatacenter, req.DestinationName)
		if fault == nil {
			force := req.Force != nil && *req.Force
			ref := o.v.fileTask(ctx, "CopyDatastoreFile_Task", "FileManager.copy", src.ds, func() types.BaseMethodFault {
				return copyPath(src, dst, force)
			})
			body.Res = &types.CopyDatastoreFile_TaskResponse{Returnval: ref}
			return body
		}
	}
	body.Fault_ = soapFault(fault)
	return body
}

// MoveDatastoreFile_Task moves (renames) a file or folder, across datastores by copying.
func (o *fileManagerOverride) MoveDatastoreFileTask(ctx *simulator.Context, req *types.MoveDatastoreFile_Task) soap.HasFault {
	body := &methods.MoveDatastoreFile_TaskBody{}
	src, fault := o.v.resolveFile(req.SourceDatacenter, req.SourceName)
	if fault == nil {
		var dst dsFile
		dst, fault = o.v.resolveFile(req.DestinationDatacenter, req.DestinationName)
		if fault == nil {
			force := req.Force != nil && *req.Force
			ref := o.v.fileTask(ctx, "MoveDatastoreFile_Task", "FileManager.move", src.ds, func() types.BaseMethodFault {
				if f := copyPath(src, dst, force); f != nil {
					return f
				}
				if err := os.RemoveAll(src.local); err != nil {
					return fileFault(src, err, &types.CannotDeleteFile{})
				}
				return nil
			})
			body.Res = &types.MoveDatastoreFile_TaskResponse{Returnval: ref}
			return body
		}
	}
	body.Fault_ = soapFault(fault)
	return body
}

// DeleteDatastoreFile_Task deletes a file or a folder with its contents.
func (o *fileManagerOverride) DeleteDatastoreFileTask(ctx *simulator.Context, req *types.DeleteDatastoreFile_Task) soap.HasFault {
	body := &methods.DeleteDatastoreFile_TaskBody{}
	f, fault := o.v.resolveFile(req.Datacenter, req.Name)
	if fault != nil {
		body.Fault_ = soapFault(fault)
		return body
	}
	ref := o.v.fileTask(ctx, "DeleteDatastoreFile_Task", "FileManager.delete", f.ds, func() types.BaseMethodFault {
		if _, err := os.Lstat(f.local); err != nil {
			return fileFault(f, err, &types.CannotDeleteFile{})
		}
		if err := os.RemoveAll(f.local); err != nil {
			return fileFault(f, err, &types.CannotDeleteFile{})
		}
		return nil
	})
	body.Res = &types.DeleteDatastoreFile_TaskResponse{Returnval: ref}
	return body
}

// MakeDirectory creates a folder (and its parents with createParentDirectories).
func (o *fileManagerOverride) MakeDirectory(_ *simulator.Context, req *types.MakeDirectory) soap.HasFault {
	body := &methods.MakeDirectoryBody{}
	f, fault := o.v.resolveFile(req.Datacenter, req.Name)
	if fault != nil {
		body.Fault_ = soapFault(fault)
		return body
	}
	var err error
	if req.CreateParentDirectories != nil && *req.CreateParentDirectories {
		if fi, statErr := os.Stat(f.local); statErr == nil && fi.IsDir() {
			err = fs.ErrExist
		} else {
			err = os.MkdirAll(f.local, 0o755)
		}
	} else {
		err = os.Mkdir(f.local, 0o755)
	}
	if err != nil {
		body.Fault_ = soapFault(fileFault(f, err, &types.CannotCreateFile{}))
		return body
	}
	body.Res = new(types.MakeDirectoryResponse)
	return body
}

// copyPath copies a file or a folder tree from src to dst.
func copyPath(src, dst dsFile, force bool) types.BaseMethodFault {
	fi, err := os.Stat(src.local)
	if err != nil {
		return fileFault(src, err, &types.CannotAccessFile{})
	}
	if _, err := os.Lstat(dst.local); err == nil {
		if !force {
			return fileFault(dst, fs.ErrExist, &types.FileAlreadyExists{})
		}
		if err := os.RemoveAll(dst.local); err != nil {
			return fileFault(dst, err, &types.CannotDeleteFile{})
		}
	}
	if _, err := os.Stat(filepath.Dir(dst.local)); err != nil {
		return fileFault(dst, err, &types.CannotCreateFile{})
	}
	if fi.IsDir() {
		if strings.HasPrefix(dst.local+string(filepath.Separator), src.local+string(filepath.Separator)) {
			return &types.InvalidArgument{InvalidProperty: "destinationName"}
		}
		if err := os.CopyFS(dst.local, os.DirFS(src.local)); err != nil {
			return fileFault(dst, err, &types.CannotCreateFile{})
		}
		return nil
	}
	b, err := os.ReadFile(src.local)
	if err != nil {
		return fileFault(src, err, &types.CannotAccessFile{})
	}
	if err := os.WriteFile(dst.local, b, fi.Mode().Perm()); err != nil {
		return fileFault(dst, err, &types.CannotCreateFile{})
	}
	return nil
}
