package topology

import "testing"

func TestVMbookWorldIsConsistent(t *testing.T) {
	w := VMbook(Options{VMsPerGroup: 1000, DatastoresPerGroup: 4})
	for _, s := range w.Sites {
		datastores := map[string]bool{}
		for _, v := range s.Array.Volumes {
			datastores[v.Datastore] = true
		}
		seen := map[string]bool{}
		for _, vm := range s.VMs {
			if !datastores[vm.Datastore] {
				t.Errorf("%s: VM %q is on datastore %q that no volume carries", s.ID, vm.Name, vm.Datastore)
			}
			if seen[vm.Name] {
				t.Errorf("%s: duplicate VM name %q", s.ID, vm.Name)
			}
			seen[vm.Name] = true
		}
	}
	s1, _ := w.Site(Site1)
	if got := len(s1.VMs); got != 2*1000+3+4 {
		t.Errorf("site1 has %d VMs, want %d", got, 2*1000+7)
	}
	if got := len(w.Relationships); got != 2*4+1 {
		t.Errorf("%d relationships, want %d", got, 9)
	}
}

func TestUUIDsAreDeterministicAndDistinct(t *testing.T) {
	if UUIDFor("instance", "a") != UUIDFor("instance", "a") {
		t.Fatal("UUIDFor is not deterministic")
	}
	if UUIDFor("instance", "a") == UUIDFor("bios", "a") {
		t.Fatal("instance and BIOS UUIDs collide")
	}
}
