package vcenter

import "fmt"

// The lab counts the changes it makes on behalf of clients, per kind and object, so tests can
// assert that a client (the operator, restarted at every step) changed each object at most once:
// a repeated call that is refused (a second registration of one .vmx, a power-on of a running VM)
// is not a change and is not counted. Counts are exposed in the ground truth (Truth.Mutations).

// mutated counts one change of kind ("RegisterVM", "PowerOn", …) to the object key.
func (v *VCenter) mutated(kind, key string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.mutations == nil {
		v.mutations = map[string]int{}
	}
	v.mutations[fmt.Sprintf("%s %s", kind, key)]++
}

// Mutations returns a copy of the change counts.
func (v *VCenter) Mutations() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]int, len(v.mutations))
	for k, n := range v.mutations {
		out[k] = n
	}
	return out
}
