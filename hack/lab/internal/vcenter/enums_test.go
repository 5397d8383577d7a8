package vcenter

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/topology"
)

// enumValues are the VIM enum types: string types with a Strings method listing their values.
var stringsMethod = "Strings"

// badEnums walks a served value and reports every enum-typed field whose value is not one of the
// enum's values: an empty value where the field is required (no omitempty), or a value the enum
// does not have. SDKs that map enums to types (pyVmomi) refuse such a document outright.
func badEnums(path string, v reflect.Value, seen map[uintptr]bool, out *[]string) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		if seen[v.Pointer()] {
			return
		}
		seen[v.Pointer()] = true
		badEnums(path, v.Elem(), seen, out)
	case reflect.Interface:
		if !v.IsNil() {
			badEnums(path, v.Elem(), seen, out)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			badEnums(fmt.Sprintf("%s[%d]", path, i), v.Index(i), seen, out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("xml")
			if tag == "-" {
				continue
			}
			name := strings.Split(tag, ",")[0]
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			p := path + "." + name
			if f.Anonymous {
				p = path
			}
			if fv.Kind() == reflect.String {
				if m := fv.MethodByName(stringsMethod); m.IsValid() && fv.Type() != reflect.TypeOf("") {
					vals := m.Call(nil)[0].Interface().([]string)
					s := fv.String()
					optional := strings.Contains(tag, "omitempty")
					if (s == "" && !optional) || (s != "" && !contains(vals, s)) {
						*out = append(*out, fmt.Sprintf("%s = %q (%s)", p, s, fv.Type().Name()))
					}
				}
				continue
			}
			badEnums(p, fv, seen, out)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Every object either vCenter serves carries enum values an SDK can map: pyVmomi, for one, fails
// the whole read of vm.runtime on an empty faultToleranceState.
func TestEveryServedEnumPropertyHasAValueOfItsEnum(t *testing.T) {
	l := newLab(t, topology.DefaultOptions(), Options{})
	for _, site := range []string{topology.Site1, topology.Site2} {
		v := l.vc[site]
		var bad []string
		for _, o := range v.reg.AllReference("") {
			ref := o.Reference()
			if ref.Type == overrideType {
				continue
			}
			var found []string
			v.reg.WithLock(v.ctx(), o, func() {
				badEnums(ref.Type, reflect.ValueOf(o), map[uintptr]bool{}, &found)
			})
			for _, f := range found {
				bad = append(bad, ref.Value+" "+f)
			}
		}
		sort.Strings(bad)
		if len(bad) > 0 {
			t.Errorf("%s serves %d enum properties without a value of their enum:\n%s", site, len(bad), strings.Join(bad, "\n"))
		}
	}
	_ = types.VirtualMachineFaultToleranceStateNotConfigured
}
