package vcenter

import (
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// optionOverride handles OptionManager methods: a host's advanced settings
// (host.configManager.advancedOption) and the vCenter settings (ServiceContent.setting).
type optionOverride struct{ overrideBase }

// QueryOptions returns the options whose key starts with name (all when name is empty);
// InvalidName when there are none.
func (o *optionOverride) QueryOptions(ctx *simulator.Context, req *types.QueryOptions) soap.HasFault {
	body := &methods.QueryOptionsBody{}
	om, ok := o.v.reg.Get(req.This).(*simulator.OptionManager)
	if !ok {
		body.Fault_ = soapFault(&types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	var out []types.BaseOptionValue
	ctx.WithLock(om, func() {
		for _, s := range om.Setting {
			ov := s.GetOptionValue()
			if strings.HasPrefix(ov.Key, req.Name) {
				cp := *ov
				out = append(out, &cp)
			}
		}
	})
	if len(out) == 0 {
		body.Fault_ = soapFault(&types.InvalidName{Name: req.Name})
		return body
	}
	body.Res = &types.QueryOptionsResponse{Returnval: out}
	return body
}

// UpdateOptions changes options. On a host, only existing advanced settings can be set, with a
// value of the setting's type (a long setting takes an xsd:long, an int one an xsd:int); vCenter settings are
// checked where the simulator relies on their format.
func (o *optionOverride) UpdateOptions(ctx *simulator.Context, req *types.UpdateOptions) soap.HasFault {
	body := &methods.UpdateOptionsBody{}
	om, ok := o.v.reg.Get(req.This).(*simulator.OptionManager)
	if !ok {
		body.Fault_ = soapFault(&types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	_, isHost := o.v.inv.optRef[req.This]
	var fault types.BaseMethodFault
	var changes []types.BaseOptionValue
	ctx.WithLock(om, func() {
		for _, c := range req.ChangedValue {
			if c == nil || c.GetOptionValue() == nil || c.GetOptionValue().Key == "" {
				fault = &types.InvalidArgument{InvalidProperty: "changedValue"}
				return
			}
			ov := c.GetOptionValue()
			var cur *types.OptionValue
			for _, s := range om.Setting {
				if s.GetOptionValue().Key == ov.Key {
					cur = s.GetOptionValue()
				}
			}
			val, ok := ov.Value, true
			if isHost {
				if cur == nil {
					fault = &types.InvalidName{Name: ov.Key}
					return
				}
				val, ok = convertOption(cur.Value, ov.Value)
			} else if ov.Key == "config.vmacore.soap.sessionTimeout" {
				s, isStr := ov.Value.(string)
				_, err := time.ParseDuration(s)
				ok = isStr && err == nil
			}
			if !ok {
				fault = &types.InvalidArgument{InvalidProperty: ov.Key}
				return
			}
			changes = append(changes, &types.OptionValue{Key: ov.Key, Value: val})
		}
		if res := om.UpdateOptions(&types.UpdateOptions{This: req.This, ChangedValue: changes}); res.Fault() != nil {
			fault = res.Fault().VimFault().(types.BaseMethodFault)
		}
	})
	if fault != nil {
		body.Fault_ = soapFault(fault)
		return body
	}
	body.Res = new(types.UpdateOptionsResponse)
	return body
}

// convertOption checks a new value against the type of the current one, as ESXi does: a long
// setting (LongOption) takes only an xsd:long, an int setting (IntOption) only an xsd:int.
func convertOption(cur, val any) (any, bool) {
	switch cur.(type) {
	case int64:
		return sameType[int64](val)
	case int32:
		return sameType[int32](val)
	case int:
		switch n := val.(type) {
		case int64:
			return n, true
		case int32:
			return int64(n), true
		}
		return nil, false
	case bool:
		return sameType[bool](val)
	case string:
		return sameType[string](val)
	}
	return val, val != nil
}

// sameType returns val when it is a T.
func sameType[T any](val any) (any, bool) {
	v, ok := val.(T)
	return v, ok
}
