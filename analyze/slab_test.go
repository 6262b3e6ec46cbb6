package analyze

import "testing"

func TestSlabReusesReleasedEntries(t *testing.T) {
	var s slab[int]
	var a, b int32
	*s.at(&a) = 7
	*s.at(&b) = 9
	if a != 1 || b != 2 || s.get(a) != 7 || s.get(b) != 9 || s.get(0) != 0 {
		t.Fatalf("refs %d %d, values %d %d", a, b, s.get(a), s.get(b))
	}
	s.release(&a)
	if a != 0 {
		t.Errorf("ref after release = %d, want 0", a)
	}
	var c int32
	if got := *s.at(&c); c != 1 || got != 0 {
		t.Errorf("new entry: ref %d value %d, want the released slot 1, cleared", c, got)
	}
	if len(s.items) != 2 {
		t.Errorf("slab grew to %d entries, want 2", len(s.items))
	}
}
