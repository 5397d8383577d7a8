package ontap

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Directory copies behind snapshots, transfers and clones. None of them needs the Lab's lock; a
// tree that changes while it is copied yields some mix of old and new files, as a crash-consistent
// snapshot would. Files are compared by size and modification time (copies keep mtimes), so
// repeated copies only move what changed.

// copyStats counts what a copy saw and what it had to move.
type copyStats struct {
	total  int64 // bytes in the source tree
	copied int64 // bytes written (not linked or already identical)
}

// snapshotTree creates dst as a point-in-time copy of src. Files identical (size and mtime) to
// the same path in prev, an earlier immutable snapshot ("" for none), are hard-linked from it
// instead of copied. A missing src is an empty tree.
func snapshotTree(src, dst, prev string) (copyStats, error) {
	var st copyStats
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return st, err
	}
	err := walkTree(src, func(rel string, d fs.DirEntry, info fs.FileInfo) error {
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return mkdir(target)
		case info.Mode()&fs.ModeSymlink != 0:
			return copySymlink(filepath.Join(src, rel), target)
		case !info.Mode().IsRegular():
			return nil
		}
		st.total += info.Size()
		if prev != "" {
			p := filepath.Join(prev, rel)
			if pi, err := os.Lstat(p); err == nil && sameFile(pi, info) {
				if os.Link(p, target) == nil {
					return nil
				}
			}
		}
		st.copied += info.Size()
		return copyFile(filepath.Join(src, rel), target, info)
	})
	return st, err
}

// linkTree replicates the immutable tree src as dst with hard links (copying where linking
// fails, e.g. across file systems).
func linkTree(src, dst string) (copyStats, error) {
	var st copyStats
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return st, err
	}
	err := walkTree(src, func(rel string, d fs.DirEntry, info fs.FileInfo) error {
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return mkdir(target)
		case info.Mode()&fs.ModeSymlink != 0:
			return copySymlink(filepath.Join(src, rel), target)
		case !info.Mode().IsRegular():
			return nil
		}
		st.total += info.Size()
		if os.Link(filepath.Join(src, rel), target) == nil {
			return nil
		}
		st.copied += info.Size()
		return copyFile(filepath.Join(src, rel), target, info)
	})
	return st, err
}

// syncTree makes dst an independent (never linked) copy of src: it copies files that are new or
// differ and removes entries src does not have.
func syncTree(src, dst string) (copyStats, error) {
	var st copyStats
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return st, err
	}
	seen := map[string]bool{}
	err := walkTree(src, func(rel string, d fs.DirEntry, info fs.FileInfo) error {
		seen[rel] = true
		target := filepath.Join(dst, rel)
		ti, terr := os.Lstat(target)
		switch {
		case d.IsDir():
			if terr == nil && ti.IsDir() {
				return nil
			}
			if terr == nil {
				if err := os.RemoveAll(target); err != nil {
					return err
				}
			}
			return mkdir(target)
		case info.Mode()&fs.ModeSymlink != 0:
			if terr == nil {
				if err := os.RemoveAll(target); err != nil {
					return err
				}
			}
			return copySymlink(filepath.Join(src, rel), target)
		case !info.Mode().IsRegular():
			return nil
		}
		st.total += info.Size()
		if terr == nil && ti.Mode().IsRegular() && sameFile(ti, info) {
			return nil
		}
		if terr == nil {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		}
		st.copied += info.Size()
		return copyFile(filepath.Join(src, rel), target, info)
	})
	if err != nil {
		return st, err
	}
	// Remove what src does not have, deepest first so directories empty before they go.
	var extra []string
	_ = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dst {
			return nil
		}
		rel, _ := filepath.Rel(dst, p)
		if !seen[rel] {
			extra = append(extra, p)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	for _, p := range extra {
		if err := os.RemoveAll(p); err != nil {
			return st, err
		}
	}
	return st, nil
}

// walkTree calls fn for every entry below root (not root itself) with its path relative to root.
// Entries that vanish during the walk are skipped; a missing root is an empty tree.
func walkTree(root string, fn func(rel string, d fs.DirEntry, info fs.FileInfo) error) error {
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if p == root {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		return fn(rel, d, info)
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// mkdir creates a directory whose parent exists (walks visit parents first).
func mkdir(path string) error {
	if err := os.Mkdir(path, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

func sameFile(a, b fs.FileInfo) bool {
	return a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

func copyFile(src, dst string, info fs.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chtimes(dst, info.ModTime(), info.ModTime())
}

func copySymlink(src, dst string) error {
	t, err := os.Readlink(src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return os.Symlink(t, dst)
}
