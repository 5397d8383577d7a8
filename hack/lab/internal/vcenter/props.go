package vcenter

import (
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Property reads as vCenter answers them.
//
// Paths are checked against the VIM schema before anything is read: a path the type does not
// have is an InvalidProperty fault for the whole call (the stock simulator answers it inside the
// object's missingSet), so a client that asks for a property its server version lacks learns it
// here. A path that crosses a polymorphic value (Datastore.info is a DatastoreInfo or one of its
// subtypes) is accepted from there on, since the lab cannot tell which subtype a client means.
//
// Values are then presented as vCenter shows them where the lab's own model differs: a
// datastore's url is ds:///vmfs/volumes/<uuid>/, while the simulator keeps the directory behind
// the datastore there (its own code resolves datastore paths through it).

var (
	morefType = reflect.TypeOf(types.ManagedObjectReference{})
	timeType  = reflect.TypeOf(time.Time{})
)

var moTypes sync.Map // type name -> reflect.Type

// managedType returns the Go type of a managed object type name (ManagedEntity, Task, ...).
func managedType(name string) (reflect.Type, bool) {
	if t, ok := moTypes.Load(name); ok {
		return t.(reflect.Type), true
	}
	if !mo.IsManagedObjectType(name) {
		return nil, false
	}
	v, err := mo.ObjectContentToType(types.ObjectContent{Obj: types.ManagedObjectReference{Type: name}})
	if err != nil || v == nil {
		return nil, false
	}
	t := reflect.TypeOf(v)
	moTypes.Store(name, t)
	return t, true
}

// validPropertyPath reports whether path names a property of the managed object type moType.
func validPropertyPath(moType, path string) bool {
	mt, ok := managedType(moType)
	if !ok {
		return false
	}
	var f mo.Field
	if !f.FromString(path) || f.Path == "" {
		return false
	}
	t, ok := walkPath(mt, strings.Split(f.Path, "."), f.Key != nil)
	if !ok {
		return false
	}
	if f.Key == nil {
		return true
	}
	if t == nil { // past a polymorphic value
		return true
	}
	if t.Kind() != reflect.Slice {
		return false
	}
	if f.Item == "" {
		return true
	}
	_, ok = walkPath(t.Elem(), strings.Split(f.Item, "."), false)
	return ok
}

// walkPath follows segments through struct types. It returns the type of the last segment (nil
// when a polymorphic value was crossed: the rest is not checked). keyed says the last segment is
// indexed, so it may be a list.
func walkPath(t reflect.Type, segs []string, keyed bool) (reflect.Type, bool) {
	for i, seg := range segs {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() == reflect.Interface {
			return nil, true
		}
		if t.Kind() != reflect.Struct || t == morefType || t == timeType {
			return nil, false
		}
		ft, ok := fieldByWireName(t, seg)
		if !ok {
			return nil, false
		}
		last := i == len(segs)-1
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Slice && !last {
			return nil, false // vCenter does not read into the members of a list
		}
		if last {
			return ft, true
		}
		t = ft
	}
	return t, true
}

// fieldByWireName finds the field a property path segment names (its xml name, or the lower-case
// field name of a managed object), looking into embedded base types.
func fieldByWireName(t reflect.Type, name string) (reflect.Type, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Anonymous {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if got, ok := fieldByWireName(ft, name); ok {
					return got, true
				}
			}
			continue
		}
		if f.Name == "Self" && f.Type == morefType {
			continue
		}
		if wireName(f) == name {
			return f.Type, true
		}
	}
	return nil, false
}

func wireName(f reflect.StructField) string {
	for _, key := range []string{"xml", "json"} {
		if tag := f.Tag.Get(key); tag != "" && tag != "-" {
			if n := strings.Split(tag, ",")[0]; n != "" {
				return n
			}
		}
	}
	return strings.ToLower(f.Name[:1]) + f.Name[1:]
}

// checkSpecs validates the property paths of filter specs.
func checkSpecs(specs []types.PropertyFilterSpec) types.BaseMethodFault {
	for _, s := range specs {
		for _, p := range s.PropSet {
			if _, ok := managedType(p.Type); !ok {
				return &types.InvalidType{Argument: p.Type}
			}
			for _, path := range p.PathSet {
				if !validPropertyPath(p.Type, path) {
					return &types.InvalidProperty{Name: path}
				}
			}
		}
	}
	return nil
}

// present rewrites, in place, the property values whose lab representation differs from
// vCenter's. Values that share memory with live objects are copied before they change.
func (v *VCenter) present(objs []types.ObjectContent) {
	for i := range objs {
		if objs[i].Obj.Type != "Datastore" {
			continue
		}
		for j := range objs[i].PropSet {
			p := &objs[i].PropSet[j]
			p.Val = v.presentValue(objs[i].Obj, p.Name, p.Val)
		}
	}
}

// presentValue is present for one property of one object.
func (v *VCenter) presentValue(obj types.ManagedObjectReference, name string, val types.AnyType) types.AnyType {
	if obj.Type != "Datastore" {
		return val
	}
	switch name {
	case "summary", "summary.url", "info", "info.url":
	default:
		return val
	}
	s := v.storeByRef(obj)
	if s == nil {
		return val
	}
	return withURL(val, s.url())
}

// withURL returns a copy of a datastore summary or info (struct or pointer) with its Url set,
// or the URL itself for a url property.
func withURL(val types.AnyType, u string) types.AnyType {
	if _, ok := val.(string); ok {
		return u
	}
	rv := reflect.ValueOf(val)
	if !rv.IsValid() {
		return val
	}
	ptr := rv.Kind() == reflect.Pointer
	if ptr {
		if rv.IsNil() {
			return val
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return val
	}
	c := reflect.New(rv.Type()).Elem()
	c.Set(rv)
	if f := c.FieldByName("Url"); f.IsValid() && f.Kind() == reflect.String {
		f.SetString(u)
	}
	if ptr {
		return c.Addr().Interface()
	}
	return c.Interface()
}

// url is the datastore's URL as vCenter reports it (summary.url, info.url).
func (s *dsState) url() string { return "ds://" + s.mountPath() + "/" }

// RetrievePropertiesEx checks the paths, reads, and presents the first page.
func (o *collectorOverride) RetrievePropertiesEx(ctx *simulator.Context, req *types.RetrievePropertiesEx) soap.HasFault {
	if f := checkSpecs(req.SpecSet); f != nil {
		return &methods.RetrievePropertiesExBody{Fault_: soapFault(f)}
	}
	pc, ok := ctx.Session.Get(req.This).(*simulator.PropertyCollector)
	if !ok {
		return &methods.RetrievePropertiesExBody{Fault_: soapFault(&types.ManagedObjectNotFound{Obj: req.This})}
	}
	res := pc.RetrievePropertiesEx(ctx, req)
	if b, ok := res.(*methods.RetrievePropertiesExBody); ok && b.Res != nil && b.Res.Returnval != nil {
		o.v.present(b.Res.Returnval.Objects)
	}
	return res
}

// ContinueRetrievePropertiesEx presents the next page.
func (o *collectorOverride) ContinueRetrievePropertiesEx(ctx *simulator.Context, req *types.ContinueRetrievePropertiesEx) soap.HasFault {
	pc, ok := ctx.Session.Get(req.This).(*simulator.PropertyCollector)
	if !ok {
		return &methods.ContinueRetrievePropertiesExBody{Fault_: soapFault(&types.ManagedObjectNotFound{Obj: req.This})}
	}
	res := pc.ContinueRetrievePropertiesEx(ctx, req)
	if b, ok := res.(*methods.ContinueRetrievePropertiesExBody); ok && b.Res != nil {
		o.v.present(b.Res.Returnval.Objects)
	}
	return res
}

// RetrieveProperties is the deprecated form (pyVmomi's RetrieveContents).
func (o *collectorOverride) RetrieveProperties(ctx *simulator.Context, req *types.RetrieveProperties) soap.HasFault {
	if f := checkSpecs(req.SpecSet); f != nil {
		return &methods.RetrievePropertiesBody{Fault_: soapFault(f)}
	}
	pc, ok := ctx.Session.Get(req.This).(*simulator.PropertyCollector)
	if !ok {
		return &methods.RetrievePropertiesBody{Fault_: soapFault(&types.ManagedObjectNotFound{Obj: req.This})}
	}
	res := pc.RetrieveProperties(ctx, req)
	if b, ok := res.(*methods.RetrievePropertiesBody); ok && b.Res != nil {
		o.v.present(b.Res.Returnval)
	}
	return res
}

// CreateFilter checks the paths before the filter exists (vCenter refuses the filter).
func (o *collectorOverride) CreateFilter(ctx *simulator.Context, req *types.CreateFilter) soap.HasFault {
	if f := checkSpecs([]types.PropertyFilterSpec{req.Spec}); f != nil {
		return &methods.CreateFilterBody{Fault_: soapFault(f)}
	}
	pc, ok := ctx.Session.Get(req.This).(*simulator.PropertyCollector)
	if !ok {
		return &methods.CreateFilterBody{Fault_: soapFault(&types.ManagedObjectNotFound{Obj: req.This})}
	}
	return pc.CreateFilter(ctx, req)
}

// fetchOverride answers Fetch, the one-property read SDKs use for attribute access (pyVmomi's
// ds.summary). Its request type is internal to govmomi, so it is handled by reflection.
type fetchOverride struct{ overrideBase }

// Fetch checks the property path, reads it and presents the value.
func (o *fetchOverride) Fetch(ctx *simulator.Context, req any) soap.HasFault {
	rv := reflect.ValueOf(req).Elem()
	this, _ := rv.FieldByName("This").Interface().(types.ManagedObjectReference)
	prop, _ := rv.FieldByName("Prop").Interface().(string)
	if _, known := managedType(this.Type); known && !validPropertyPath(this.Type, prop) {
		return &methods.RetrievePropertiesBody{Fault_: soapFault(&types.InvalidProperty{Name: prop})}
	}
	pc := o.v.reg.Get(o.v.model.ServiceContent.PropertyCollector)
	out := reflect.ValueOf(pc).MethodByName("Fetch").Call([]reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(req)})
	res := out[0].Interface().(soap.HasFault)
	if res.Fault() != nil {
		return res
	}
	if r := reflect.ValueOf(res).Elem().FieldByName("Res"); r.IsValid() && !r.IsNil() {
		val := r.Elem().FieldByName("Returnval")
		if val.IsValid() && !val.IsNil() {
			val.Set(reflect.ValueOf(o.v.presentValue(this, prop, val.Interface())))
		}
	}
	return res
}
