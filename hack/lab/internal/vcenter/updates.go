package vcenter

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The lab's WaitForUpdatesEx. The stock simulator re-collects every filter for every change, which
// makes a property collector watching thousands of VMs take seconds per change; it also echoes
// whatever version the client sends. This implementation keeps, per property collector, what each
// filter last reported, and on a change re-reads only the objects that changed (or, when a change
// can move objects in or out of a filter's scope, the filter's scope). Versions are "1", "2", ...;
// an unknown version is an InvalidCollectorVersion fault, as on vCenter; a truncated update set is
// continued by calling again with its version.

const defaultMaxObjectUpdates = 100

// watchHub receives every registry change and passes it to the watches that care.
type watchHub struct {
	mo.ExtensibleManagedObject
	mu      sync.Mutex
	watches map[string]*pcWatch // by session key + collector reference
}

func (h *watchHub) list() []*pcWatch {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*pcWatch, 0, len(h.watches))
	for _, w := range h.watches {
		out = append(out, w)
	}
	return out
}

// PutObject, UpdateObject and RemoveObject implement simulator.RegisterObject.
func (h *watchHub) PutObject(_ *simulator.Context, o mo.Reference) {
	for _, w := range h.list() {
		w.note(changePut, o.Reference(), nil)
	}
}

func (h *watchHub) UpdateObject(_ *simulator.Context, o mo.Reference, changes []types.PropertyChange) {
	for _, w := range h.list() {
		w.note(changeUpdate, o.Reference(), changes)
	}
}

func (h *watchHub) RemoveObject(_ *simulator.Context, ref types.ManagedObjectReference) {
	for _, w := range h.list() {
		w.note(changeRemove, ref, nil)
	}
}

type changeKind int

const (
	changePut changeKind = iota
	changeUpdate
	changeRemove
)

// pcWatch is the update state of one property collector.
type pcWatch struct {
	lastUsed time.Time // guarded by watchHub.mu
	waiting  int       // guarded by watchHub.mu

	mu        sync.Mutex
	version   int
	filters   map[types.ManagedObjectReference]*filterState
	pending   []types.PropertyFilterUpdate // rest of a truncated update set
	wake      chan struct{}
	cancel    chan struct{}
	computing sync.Mutex
}

// filterState is what a filter last reported and what can change its scope.
type filterState struct {
	spec     types.PropertyFilterSpec
	known    map[types.ManagedObjectReference]map[string]uint64
	types    map[string]bool // object types in the property specs
	roots    map[types.ManagedObjectReference]bool
	traverse map[string]map[string]bool // type -> traversed property paths
	dirty    map[types.ManagedObjectReference]bool
	rescope  bool
	// collecting is set while the filter's objects are being read: a change to any object of a
	// selected type is then remembered, even if the object is not known yet, so that a change
	// racing with the read is not lost.
	collecting bool
}

func newFilterState(spec types.PropertyFilterSpec) *filterState {
	fs := &filterState{spec: spec, types: map[string]bool{}, roots: map[types.ManagedObjectReference]bool{},
		traverse: map[string]map[string]bool{}, dirty: map[types.ManagedObjectReference]bool{}}
	for _, p := range spec.PropSet {
		fs.types[p.Type] = true
	}
	var walk func([]types.BaseSelectionSpec, int)
	walk = func(sel []types.BaseSelectionSpec, depth int) {
		if depth > 32 {
			return
		}
		for _, s := range sel {
			if ts, ok := s.(*types.TraversalSpec); ok {
				if fs.traverse[ts.Type] == nil {
					fs.traverse[ts.Type] = map[string]bool{}
				}
				fs.traverse[ts.Type][ts.Path] = true
				walk(ts.SelectSet, depth+1)
			}
		}
	}
	for _, o := range spec.ObjectSet {
		fs.roots[o.Obj] = true
		walk(o.SelectSet, 0)
	}
	return fs
}

func (w *pcWatch) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// note records a change for the filters it may affect.
func (w *pcWatch) note(kind changeKind, ref types.ManagedObjectReference, changes []types.PropertyChange) {
	w.mu.Lock()
	defer w.mu.Unlock()
	hit := false
	for _, fs := range w.filters {
		if fs.known == nil {
			continue
		}
		switch kind {
		case changePut:
			if fs.types[ref.Type] || fs.roots[ref] {
				fs.rescope, hit = true, true
			}
		case changeRemove:
			if _, ok := fs.known[ref]; ok || fs.roots[ref] {
				fs.rescope, hit = true, true
			}
		case changeUpdate:
			if fs.roots[ref] {
				fs.rescope, hit = true, true
			}
			if paths := fs.traverse[ref.Type]; paths != nil {
				for _, c := range changes {
					if paths[c.Name] {
						fs.rescope, hit = true, true
					}
				}
			}
			if _, ok := fs.known[ref]; ok || (fs.collecting && fs.types[ref.Type]) {
				fs.dirty[ref], hit = true, true
			}
		}
	}
	if hit {
		w.poke()
	}
}

// collectorOverride handles PropertyCollector methods.
type collectorOverride struct{ overrideBase }

// watchIdle is how long the update state of a collector nobody waits on is kept.
const watchIdle = 30 * time.Minute

func watchKey(ctx *simulator.Context, pc types.ManagedObjectReference) string {
	return ctx.Session.Key + "/" + pc.Value
}

func (v *VCenter) watchFor(ctx *simulator.Context, pc types.ManagedObjectReference) *pcWatch {
	key := watchKey(ctx, pc)
	now := time.Now()
	v.hub.mu.Lock()
	defer v.hub.mu.Unlock()
	for k, w := range v.hub.watches {
		if w.waiting == 0 && now.Sub(w.lastUsed) > watchIdle {
			delete(v.hub.watches, k)
		}
	}
	w := v.hub.watches[key]
	if w == nil {
		w = &pcWatch{filters: map[types.ManagedObjectReference]*filterState{}, wake: make(chan struct{}, 1), cancel: make(chan struct{}, 1)}
		v.hub.watches[key] = w
	}
	w.lastUsed = now
	return w
}

func (v *VCenter) waitStarted(w *pcWatch, delta int) {
	v.hub.mu.Lock()
	w.waiting += delta
	w.lastUsed = time.Now()
	v.hub.mu.Unlock()
}

// DestroyPropertyCollector destroys a collector created with CreatePropertyCollector, and the
// lab's update state for it.
func (o *collectorOverride) DestroyPropertyCollector(ctx *simulator.Context, req *types.DestroyPropertyCollector) soap.HasFault {
	pc, ok := ctx.Session.Get(req.This).(*simulator.PropertyCollector)
	if !ok {
		return &methods.DestroyPropertyCollectorBody{Fault_: soapFault(&types.ManagedObjectNotFound{Obj: req.This})}
	}
	o.v.hub.mu.Lock()
	if w := o.v.hub.watches[watchKey(ctx, req.This)]; w != nil {
		select {
		case w.cancel <- struct{}{}:
		default:
		}
		delete(o.v.hub.watches, watchKey(ctx, req.This))
	}
	o.v.hub.mu.Unlock()
	return pc.DestroyPropertyCollector(ctx, req)
}

// WaitForUpdatesEx returns the changes since version to the objects and properties the
// collector's filters select; see the comment at the top of this file.
func (o *collectorOverride) WaitForUpdatesEx(ctx *simulator.Context, req *types.WaitForUpdatesEx) soap.HasFault {
	body := &methods.WaitForUpdatesExBody{}
	set, fault := o.v.waitForUpdates(ctx, req.This, req.Version, req.Options)
	if fault != nil {
		body.Fault_ = soapFault(fault)
		return body
	}
	body.Res = &types.WaitForUpdatesExResponse{Returnval: set}
	return body
}

// WaitForUpdates is the deprecated form of WaitForUpdatesEx: it waits until something changes.
func (o *collectorOverride) WaitForUpdates(ctx *simulator.Context, req *types.WaitForUpdates) soap.HasFault {
	body := &methods.WaitForUpdatesBody{}
	set, fault := o.v.waitForUpdates(ctx, req.This, req.Version, &types.WaitOptions{MaxObjectUpdates: 1 << 30})
	if fault != nil {
		body.Fault_ = soapFault(fault)
		return body
	}
	if set == nil {
		set = &types.UpdateSet{Version: req.Version}
	}
	body.Res = &types.WaitForUpdatesResponse{Returnval: *set}
	return body
}

// CheckForUpdates is the deprecated non-blocking form.
func (o *collectorOverride) CheckForUpdates(ctx *simulator.Context, req *types.CheckForUpdates) soap.HasFault {
	body := &methods.CheckForUpdatesBody{}
	zero := int32(0)
	set, fault := o.v.waitForUpdates(ctx, req.This, req.Version, &types.WaitOptions{MaxWaitSeconds: &zero, MaxObjectUpdates: 1 << 30})
	if fault != nil {
		body.Fault_ = soapFault(fault)
		return body
	}
	body.Res = &types.CheckForUpdatesResponse{Returnval: set}
	return body
}

// CancelWaitForUpdates ends a WaitForUpdatesEx in progress with RequestCanceled.
func (o *collectorOverride) CancelWaitForUpdates(ctx *simulator.Context, req *types.CancelWaitForUpdates) soap.HasFault {
	w := o.v.watchFor(ctx, req.This)
	select {
	case w.cancel <- struct{}{}:
	default:
	}
	return &methods.CancelWaitForUpdatesBody{Res: new(types.CancelWaitForUpdatesResponse)}
}

func (v *VCenter) waitForUpdates(ctx *simulator.Context, this types.ManagedObjectReference, version string, opts *types.WaitOptions) (*types.UpdateSet, types.BaseMethodFault) {
	pc, ok := ctx.Session.Get(this).(*simulator.PropertyCollector)
	if !ok {
		return nil, &types.ManagedObjectNotFound{Obj: this}
	}
	w := v.watchFor(ctx, this)
	v.waitStarted(w, 1)
	defer v.waitStarted(w, -1)
	maxObjects := defaultMaxObjectUpdates
	var timeout <-chan time.Time
	once := false
	if opts != nil {
		if opts.MaxObjectUpdates > 0 {
			maxObjects = int(opts.MaxObjectUpdates)
		}
		if opts.MaxWaitSeconds != nil {
			if *opts.MaxWaitSeconds <= 0 {
				once = true
			} else {
				timeout = time.After(time.Duration(*opts.MaxWaitSeconds) * time.Second)
			}
		}
	}
	// A cancel left over from before this call does not count.
	select {
	case <-w.cancel:
	default:
	}

	w.computing.Lock()
	w.mu.Lock()
	current := strconv.Itoa(w.version)
	switch {
	case version == "":
		w.version = 0
		w.pending = nil
		for _, fs := range w.filters {
			fs.known = nil
		}
	case version != current:
		w.mu.Unlock()
		w.computing.Unlock()
		return nil, &types.InvalidCollectorVersion{}
	}
	if len(w.pending) > 0 {
		set := w.page(maxObjects)
		w.mu.Unlock()
		w.computing.Unlock()
		return set, nil
	}
	w.mu.Unlock()
	w.computing.Unlock()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		w.computing.Lock()
		updates := v.computeUpdates(ctx, pc, w)
		if len(updates) > 0 || version == "" {
			w.mu.Lock()
			w.pending = updates
			w.version++
			set := w.page(maxObjects)
			w.mu.Unlock()
			w.computing.Unlock()
			return set, nil
		}
		w.computing.Unlock()
		if once {
			return nil, nil
		}
		select {
		case <-w.wake:
			time.Sleep(5 * time.Millisecond) // let a burst of changes accumulate
		case <-tick.C:
		case <-timeout:
			return nil, nil
		case <-w.cancel:
			return nil, &types.RequestCanceled{}
		case <-v.closing:
			return nil, nil
		}
	}
}

// page returns up to max object updates of the pending set. The caller holds w.mu.
func (w *pcWatch) page(max int) *types.UpdateSet {
	set := &types.UpdateSet{Version: strconv.Itoa(w.version)}
	n := 0
	for len(w.pending) > 0 && n < max {
		fu := &w.pending[0]
		take := min(len(fu.ObjectSet), max-n)
		set.FilterSet = append(set.FilterSet, types.PropertyFilterUpdate{Filter: fu.Filter, ObjectSet: fu.ObjectSet[:take]})
		n += take
		fu.ObjectSet = fu.ObjectSet[take:]
		if len(fu.ObjectSet) == 0 {
			w.pending = w.pending[1:]
		}
	}
	if len(w.pending) > 0 {
		set.Truncated = types.NewBool(true)
	}
	return set
}

// computeUpdates brings every filter's reported state up to date and returns the differences.
// The caller holds w.computing.
func (v *VCenter) computeUpdates(ctx *simulator.Context, pc *simulator.PropertyCollector, w *pcWatch) []types.PropertyFilterUpdate {
	filters := append([]types.ManagedObjectReference(nil), pc.Filter...)
	var out []types.PropertyFilterUpdate
	live := map[types.ManagedObjectReference]bool{}
	for _, ref := range filters {
		f, ok := ctx.Session.Get(ref).(*simulator.PropertyFilter)
		if !ok {
			continue
		}
		live[ref] = true
		w.mu.Lock()
		fs := w.filters[ref]
		if fs == nil {
			fs = newFilterState(f.Spec)
			w.filters[ref] = fs
		}
		initial := fs.known == nil
		rescope := fs.rescope
		dirty := fs.dirty
		fs.rescope, fs.dirty, fs.collecting = false, map[types.ManagedObjectReference]bool{}, true
		if initial {
			fs.known = map[types.ManagedObjectReference]map[string]uint64{}
		}
		w.mu.Unlock()

		var objs []types.ObjectUpdate
		switch {
		case initial:
			for _, oc := range v.collect(ctx, pc, fs.spec, nil, true) {
				props := propMap(oc)
				w.setKnown(fs, oc.Obj, props)
				objs = append(objs, enterUpdate(oc.Obj, props))
			}
		default:
			if rescope {
				inScope := map[types.ManagedObjectReference]bool{}
				var fresh []types.ManagedObjectReference
				for _, oc := range v.collect(ctx, pc, fs.spec, nil, false) {
					inScope[oc.Obj] = true
					if !w.isKnown(fs, oc.Obj) {
						fresh = append(fresh, oc.Obj)
					}
				}
				for _, ref := range w.knownRefs(fs) {
					if !inScope[ref] {
						w.forget(fs, ref)
						delete(dirty, ref)
						objs = append(objs, types.ObjectUpdate{Kind: types.ObjectUpdateKindLeave, Obj: ref})
					}
				}
				if len(fresh) > 0 {
					for _, oc := range v.collect(ctx, pc, fs.spec, fresh, true) {
						props := propMap(oc)
						w.setKnown(fs, oc.Obj, props)
						delete(dirty, oc.Obj)
						objs = append(objs, enterUpdate(oc.Obj, props))
					}
				}
			}
			if len(dirty) > 0 {
				refs := make([]types.ManagedObjectReference, 0, len(dirty))
				for r := range dirty {
					if w.isKnown(fs, r) {
						refs = append(refs, r)
					}
				}
				refs = sortedRefs(refs)
				for _, oc := range v.collect(ctx, pc, fs.spec, refs, true) {
					if u, changed := w.diff(fs, oc); changed {
						objs = append(objs, u)
					}
				}
			}
		}
		w.mu.Lock()
		fs.collecting = false
		if len(fs.dirty) > 0 || fs.rescope {
			w.poke()
		}
		w.mu.Unlock()
		if len(objs) > 0 {
			out = append(out, types.PropertyFilterUpdate{Filter: ref, ObjectSet: objs})
		}
	}
	w.mu.Lock()
	for ref := range w.filters {
		if !live[ref] {
			delete(w.filters, ref)
		}
	}
	w.mu.Unlock()
	return out
}

// collect retrieves a filter's objects (only refs, when given) with or without their properties.
func (v *VCenter) collect(ctx *simulator.Context, pc *simulator.PropertyCollector, spec types.PropertyFilterSpec, refs []types.ManagedObjectReference, props bool) []types.ObjectContent {
	s := spec
	if refs != nil {
		s.ObjectSet = make([]types.ObjectSpec, len(refs))
		for i, r := range refs {
			s.ObjectSet[i] = types.ObjectSpec{Obj: r}
		}
	}
	if !props {
		s.PropSet = make([]types.PropertySpec, len(spec.PropSet))
		for i, p := range spec.PropSet {
			s.PropSet[i] = types.PropertySpec{Type: p.Type}
		}
	}
	res := pc.RetrievePropertiesEx(ctx, &types.RetrievePropertiesEx{This: pc.Self, SpecSet: []types.PropertyFilterSpec{s}})
	body, ok := res.(*methods.RetrievePropertiesExBody)
	if !ok || body.Res == nil || body.Res.Returnval == nil {
		return nil
	}
	v.present(body.Res.Returnval.Objects)
	return body.Res.Returnval.Objects
}

func propMap(oc types.ObjectContent) map[string]types.AnyType {
	m := make(map[string]types.AnyType, len(oc.PropSet))
	for _, p := range oc.PropSet {
		m[p.Name] = p.Val
	}
	return m
}

// fingerprints hashes property values: what a filter remembers of what it reported. Values read
// from the simulator can share memory with the live objects, so they are not kept themselves.
func fingerprints(props map[string]types.AnyType) map[string]uint64 {
	out := make(map[string]uint64, len(props))
	for n, v := range props {
		out[n] = fingerprint(v)
	}
	return out
}

func fingerprint(v types.AnyType) uint64 {
	h := fnv.New64a()
	switch x := v.(type) {
	case string:
		h.Write([]byte("s" + x))
	case bool:
		h.Write([]byte("b" + strconv.FormatBool(x)))
	default:
		h.Write([]byte(reflect.TypeOf(v).String()))
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte(fmt.Sprintf("%#v", v))
		}
		h.Write(b)
	}
	return h.Sum64()
}

func enterUpdate(ref types.ManagedObjectReference, props map[string]types.AnyType) types.ObjectUpdate {
	u := types.ObjectUpdate{Kind: types.ObjectUpdateKindEnter, Obj: ref}
	for _, name := range sortedKeys(props) {
		u.ChangeSet = append(u.ChangeSet, types.PropertyChange{Name: name, Op: types.PropertyChangeOpAssign, Val: props[name]})
	}
	return u
}

func (w *pcWatch) setKnown(fs *filterState, ref types.ManagedObjectReference, props map[string]types.AnyType) {
	fp := fingerprints(props)
	w.mu.Lock()
	fs.known[ref] = fp
	w.mu.Unlock()
}

func (w *pcWatch) isKnown(fs *filterState, ref types.ManagedObjectReference) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := fs.known[ref]
	return ok
}

func (w *pcWatch) forget(fs *filterState, ref types.ManagedObjectReference) {
	w.mu.Lock()
	delete(fs.known, ref)
	w.mu.Unlock()
}

func (w *pcWatch) knownRefs(fs *filterState) []types.ManagedObjectReference {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]types.ManagedObjectReference, 0, len(fs.known))
	for r := range fs.known {
		out = append(out, r)
	}
	return sortedRefs(out)
}

// diff compares an object's current properties with what was reported last.
func (w *pcWatch) diff(fs *filterState, oc types.ObjectContent) (types.ObjectUpdate, bool) {
	now := propMap(oc)
	fp := fingerprints(now)
	w.mu.Lock()
	before := fs.known[oc.Obj]
	fs.known[oc.Obj] = fp
	w.mu.Unlock()
	u := types.ObjectUpdate{Kind: types.ObjectUpdateKindModify, Obj: oc.Obj}
	names := map[string]bool{}
	for n := range now {
		names[n] = true
	}
	for n := range before {
		names[n] = true
	}
	for _, n := range sortedKeys(names) {
		nv, had := now[n]
		old, hadBefore := before[n]
		if had == hadBefore && fp[n] == old {
			continue
		}
		if !had {
			u.ChangeSet = append(u.ChangeSet, types.PropertyChange{Name: n, Op: types.PropertyChangeOpAssign})
			continue
		}
		u.ChangeSet = append(u.ChangeSet, types.PropertyChange{Name: n, Op: types.PropertyChangeOpAssign, Val: nv})
	}
	return u, len(u.ChangeSet) > 0
}
