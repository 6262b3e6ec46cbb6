//go:build !linux

package analyze

// mapHuge returns nil: flow records and the index stay in the Go heap.
func (m *mappings) mapHuge(size int) []byte { return nil }

func (m *mappings) mapPlain(size int) []byte { return nil }

func (m *mappings) prefault(b []byte) {}

func (m *mappings) mapAhead() []byte { return nil }

func (m *mappings) unmap(b []byte) {}

func (m *mappings) release() {}
