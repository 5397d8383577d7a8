package vcenter

import (
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// browserOverride handles HostDatastoreBrowser methods.
type browserOverride struct{ overrideBase }

// SearchDatastore_Task lists the files of one datastore folder that match the search spec.
func (o *browserOverride) SearchDatastoreTask(ctx *simulator.Context, req *types.SearchDatastore_Task) soap.HasFault {
	ref := o.v.startSearch(ctx, "SearchDatastore_Task", req.DatastorePath, req.SearchSpec, false)
	return &methods.SearchDatastore_TaskBody{Res: &types.SearchDatastore_TaskResponse{Returnval: ref}}
}

// SearchDatastoreSubFolders_Task lists, for a datastore folder and every folder below it, the
// files that match the search spec: one result per folder, folderPath "[ds] dir/".
func (o *browserOverride) SearchDatastoreSubFoldersTask(ctx *simulator.Context, req *types.SearchDatastoreSubFolders_Task) soap.HasFault {
	ref := o.v.startSearch(ctx, "SearchDatastoreSubFolders_Task", req.DatastorePath, req.SearchSpec, true)
	return &methods.SearchDatastoreSubFolders_TaskBody{Res: &types.SearchDatastoreSubFolders_TaskResponse{Returnval: ref}}
}

func (v *VCenter) startSearch(ctx *simulator.Context, method, dsPath string, spec *types.HostDatastoreBrowserSearchSpec, recurse bool) types.ManagedObjectReference {
	var p object.DatastorePath
	ok := p.FromString(dsPath)
	var entity types.ManagedObjectReference
	name := p.Datastore
	if s := v.datastoreByName(p.Datastore); s != nil {
		entity = s.ref
	} else {
		entity = v.inv.dc
	}
	return v.startTask(ctx, taskSpec{
		method: method, descID: "HostDatastoreBrowser.search", entity: entity, entityName: name,
		run: func(*simulator.Context) (types.AnyType, types.BaseMethodFault) {
			if !ok || p.Datastore == "" || strings.Contains(p.Path, "..") {
				return nil, &types.InvalidDatastorePath{DatastorePath: dsPath}
			}
			s := v.datastoreByName(p.Datastore)
			if s == nil {
				return nil, &types.InvalidDatastore{Name: p.Datastore}
			}
			dir, reachable := v.datastoreDir(p.Datastore, types.ManagedObjectReference{})
			if !reachable {
				return nil, &types.InvalidDatastore{Datastore: &s.ref, Name: s.name}
			}
			clean := strings.Trim(path.Clean("/"+p.Path), "/")
			root := filepath.Join(dir, filepath.FromSlash(clean))
			if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
				return nil, &types.FileNotFound{FileFault: types.FileFault{File: dsPath}}
			}
			var res []types.HostDatastoreBrowserSearchResults
			search(s, spec, root, clean, recurse, &res)
			if recurse {
				return types.ArrayOfHostDatastoreBrowserSearchResults{HostDatastoreBrowserSearchResults: res}, nil
			}
			return res[0], nil
		},
	})
}

func folderPath(ds, rel string) string {
	if rel == "" {
		return "[" + ds + "]"
	}
	return "[" + ds + "] " + rel + "/"
}

// search lists one folder (and its subfolders when recurse) into res.
func search(s *dsState, spec *types.HostDatastoreBrowserSearchSpec, dir, rel string, recurse bool, res *[]types.HostDatastoreBrowserSearchResults) {
	entries, _ := os.ReadDir(dir)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	r := types.HostDatastoreBrowserSearchResults{Datastore: &s.ref, FolderPath: folderPath(s.name, rel)}
	var subdirs []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if e.IsDir() {
			subdirs = append(subdirs, name)
		}
		if matches(spec, fi) {
			r.File = append(r.File, fileInfo(spec, fi))
		}
	}
	*res = append(*res, r)
	if !recurse {
		return
	}
	for _, d := range subdirs {
		search(s, spec, filepath.Join(dir, d), path.Join(rel, d), true, res)
	}
}

func matches(spec *types.HostDatastoreBrowserSearchSpec, fi os.FileInfo) bool {
	if spec == nil {
		return true
	}
	name := fi.Name()
	if len(spec.MatchPattern) > 0 {
		ok := false
		for _, pat := range spec.MatchPattern {
			n, pt := name, pat
			if spec.SearchCaseInsensitive != nil && *spec.SearchCaseInsensitive {
				n, pt = strings.ToLower(n), strings.ToLower(pt)
			}
			if m, err := path.Match(pt, n); err == nil && m {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(spec.Query) == 0 {
		return true
	}
	ext := strings.ToLower(path.Ext(name))
	for _, q := range spec.Query {
		switch q.(type) {
		case *types.FileQuery:
			return true
		case *types.FolderFileQuery:
			if fi.IsDir() {
				return true
			}
		case *types.VmConfigFileQuery, *types.TemplateConfigFileQuery:
			if !fi.IsDir() && (ext == ".vmx" || ext == ".vmtx") {
				return true
			}
		case *types.VmDiskFileQuery:
			if !fi.IsDir() && ext == ".vmdk" && !strings.HasSuffix(name, "-flat.vmdk") {
				return true
			}
		case *types.VmLogFileQuery:
			if !fi.IsDir() && ext == ".log" {
				return true
			}
		case *types.VmNvramFileQuery:
			if !fi.IsDir() && ext == ".nvram" {
				return true
			}
		case *types.IsoImageFileQuery:
			if !fi.IsDir() && ext == ".iso" {
				return true
			}
		case *types.FloppyImageFileQuery:
			if !fi.IsDir() && (ext == ".flp" || ext == ".img") {
				return true
			}
		}
	}
	return false
}

func fileInfo(spec *types.HostDatastoreBrowserSearchSpec, fi os.FileInfo) types.BaseFileInfo {
	var flags types.FileQueryFlags
	if spec != nil && spec.Details != nil {
		flags = *spec.Details
	}
	info := types.FileInfo{Path: fi.Name()}
	if flags.FileSize {
		info.FileSize = fi.Size()
	}
	if flags.Modification {
		t := fi.ModTime()
		info.Modification = &t
	}
	if flags.FileOwner {
		info.Owner = "root"
	}
	if fi.IsDir() {
		return &types.FolderFileInfo{FileInfo: info}
	}
	if !flags.FileType {
		return &info
	}
	switch strings.ToLower(path.Ext(fi.Name())) {
	case ".vmx":
		return &types.VmConfigFileInfo{FileInfo: info}
	case ".vmtx":
		return &types.TemplateConfigFileInfo{VmConfigFileInfo: types.VmConfigFileInfo{FileInfo: info}}
	case ".vmdk":
		return &types.VmDiskFileInfo{FileInfo: info}
	case ".log":
		return &types.VmLogFileInfo{FileInfo: info}
	case ".nvram":
		return &types.VmNvramFileInfo{FileInfo: info}
	case ".iso":
		return &types.IsoImageFileInfo{FileInfo: info}
	case ".flp", ".img":
		return &types.FloppyImageFileInfo{FileInfo: info}
	}
	return &info
}
