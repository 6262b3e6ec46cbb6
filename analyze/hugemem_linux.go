package analyze

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapHuge maps size zeroed bytes outside the Go heap, aligned to huge
// pages and marked for them (MADV_HUGEPAGE), and returns them, or nil
// when the mapping fails. The kernel gives huge pages where its setting
// allows ("always" or "madvise"), else 4 KiB pages.
func (m *mappings) mapHuge(size int) []byte {
	b, err := unix.Mmap(-1, 0, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil
	}
	m.maps = append(m.maps, b)
	off := 0
	if r := uintptr(unsafe.Pointer(&b[0])) % hugePage; r != 0 {
		off = int(hugePage - r)
	}
	c := b[off : off+size : off+size]
	_ = unix.Madvise(c, unix.MADV_HUGEPAGE)
	return c
}

// unmap returns to the kernel the mapping that holds b, which mapHuge
// returned.
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

// release returns every mapping to the kernel.
func (m *mappings) release() {
	for _, b := range m.maps {
		_ = unix.Munmap(b)
	}
	m.maps = nil
}
