package analyze

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapHuge maps size zeroed bytes outside the Go heap, aligned to huge
// pages and marked for them (MADV_HUGEPAGE), and returns them, or nil
// when the mapping fails. The kernel gives huge pages where its setting
// allows ("always" or "madvise"), else 4 KiB pages.
func (m *mappings) mapHuge(size int) []byte {
	whole, b := mapAligned(size)
	if b != nil {
		m.maps = append(m.maps, whole)
	}
	return b
}

// mapPlain maps size zeroed bytes outside the Go heap, in pages of the
// kernel's choosing, and returns them, or nil when the mapping fails.
func (m *mappings) mapPlain(size int) []byte {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil
	}
	m.maps = append(m.maps, b)
	return b
}

// mapAligned maps size bytes and a huge page more, and returns the whole
// mapping and the size bytes in it that start on a huge page, marked for
// huge pages; or nil for both.
func mapAligned(size int) (whole, b []byte) {
	whole, err := unix.Mmap(-1, 0, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, nil
	}
	off := 0
	if r := uintptr(unsafe.Pointer(&whole[0])) % hugePage; r != 0 {
		off = int(hugePage - r)
	}
	b = whole[off : off+size : off+size]
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
	return whole, b
}

// prefault has the kernel populate b, memory of m not yet written, on a
// goroutine of its own (MADV_POPULATE_WRITE): the page faults, and the
// zeroing of each page, are taken on another core ahead of the writes
// that would take them. A virtual machine whose host backs its memory
// only as it is first touched can take milliseconds a megabyte to serve
// them. It leaves the contents alone, so the writes may start before it
// is done; on a kernel without it (before Linux 5.14) nothing happens,
// nor with one core, where there is nothing to overlap.
func (m *mappings) prefault(b []byte) {
	if len(b) == 0 || runtime.GOMAXPROCS(0) < 2 {
		return
	}
	m.filling.Add(1)
	go func() {
		defer m.filling.Done()
		_ = unix.Madvise(b, unix.MADV_POPULATE_WRITE)
	}()
}

// mapAhead is mapHuge for the chunks of frozen flows, of which a growing
// table asks for one after another: it returns the chunk mapped and
// populated at the last call, when there is one, and maps and starts
// populating the next (prefault). The chunk waiting is not in maps.
func (m *mappings) mapAhead() []byte {
	whole, b := m.spare, m.spareChunk
	if b == nil {
		whole, b = mapAligned(coldChunkBytes)
		if b == nil {
			return nil
		}
	}
	m.maps = append(m.maps, whole)
	m.spare, m.spareChunk = mapAligned(coldChunkBytes)
	m.prefault(m.spareChunk)
	return b
}

// unmap returns to the kernel the mapping that holds b, which mapHuge
// or mapAhead returned.
func (m *mappings) unmap(b []byte) {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	for i, mb := range m.maps {
		if start := uintptr(unsafe.Pointer(&mb[0])); p >= start && p < start+uintptr(len(mb)) {
			_ = unix.Munmap(mb)
			m.maps = append(m.maps[:i], m.maps[i+1:]...)
			return
		}
	}
}

// release returns every mapping to the kernel, once the goroutines
// populating them are done.
func (m *mappings) release() {
	m.filling.Wait()
	for _, b := range m.maps {
		_ = unix.Munmap(b)
	}
	if m.spare != nil {
		_ = unix.Munmap(m.spare)
	}
	m.maps, m.spare, m.spareChunk = nil, nil, nil
}
