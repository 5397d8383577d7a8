package ontap

import "fmt"

// As on the vCenter side (vcenter/mutations.go), the cluster counts the changes it makes for
// clients by kind and object, so a test can assert an object was changed at most once; refused
// requests (a duplicate create, a delete of something gone) are not counted.

// mutated counts one change. The caller must not hold l.mu.
func (c *Cluster) mutated(kind, key string) {
	c.lab.mu.Lock()
	defer c.lab.mu.Unlock()
	if c.mutations == nil {
		c.mutations = map[string]int{}
	}
	c.mutations[fmt.Sprintf("%s %s", kind, key)]++
}
