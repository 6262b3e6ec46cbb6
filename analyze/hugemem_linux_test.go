package analyze

import (
	"net/netip"
	"os"
	"runtime"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hangdiag/hangdiag/pcapio"
)

// TestMapAhead checks the chunks of frozen flows that mapAhead hands out:
// zeroed, on a huge page, each a mapping of its own in maps, while the
// next waits outside maps, populated (resident) before it is asked for;
// and that release waits for the populating and unmaps them all.
func TestMapAhead(t *testing.T) {
	needPopulate(t)
	m := new(mappings)
	var got [][]byte
	for range 3 {
		b := m.mapAhead()
		if len(b) != coldChunkBytes || uintptr(unsafe.Pointer(&b[0]))%hugePage != 0 {
			t.Fatalf("a chunk of %d bytes at %p; want %d on a huge page", len(b), b, coldChunkBytes)
		}
		if i := slices.IndexFunc(b, func(c byte) bool { return c != 0 }); i >= 0 {
			t.Fatalf("byte %d of a new chunk is %d", i, b[i])
		}
		b[0], b[len(b)-1] = 1, 1
		got = append(got, b)
	}
	for i := range got {
		for j := range i {
			a, b := uintptr(unsafe.Pointer(&got[i][0])), uintptr(unsafe.Pointer(&got[j][0]))
			if a < b+coldChunkBytes && b < a+coldChunkBytes {
				t.Fatalf("chunks %d and %d overlap", j, i)
			}
		}
	}
	if len(m.maps) != 3 || m.spareChunk == nil {
		t.Fatalf("%d mappings, next chunk waiting: %v; want 3 and one waiting", len(m.maps), m.spareChunk != nil)
	}
	m.filling.Wait()
	if n, all := absent(t, m.spareChunk); n > 0 {
		t.Errorf("%d of the %d pages of the chunk waiting are not resident: it was not populated", n, all)
	}
	m.release()
	if m.maps != nil || m.spare != nil {
		t.Errorf("after release: %d mappings, one waiting: %v", len(m.maps), m.spare != nil)
	}
}

// TestSlabPrefault checks that a table that maps a slab of records has
// the kernel populate it past its first huge page, which the first record
// written takes, ahead of the records written there.
func TestSlabPrefault(t *testing.T) {
	needPopulate(t)
	table := flowTable{mem: new(mappings)}
	for i := range plainChunks<<flowChunkShift + 1 { // the first record of the first slab
		var s pcapio.Segment
		s.SetAddrs(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 40000), tableServer)
		table.add(&s.Flow, s.Hash)
	}
	if len(table.slab) != slabChunks-1 {
		t.Fatalf("%d chunks of the slab left; want all but one", len(table.slab))
	}
	table.mem.filling.Wait()
	beyond := hugePage/int(unsafe.Sizeof(flowChunk{})) + 1 // the first chunk wholly past the first huge page
	rest := unsafe.Slice((*byte)(unsafe.Pointer(&table.slab[beyond-1])), (slabChunks-beyond)*int(unsafe.Sizeof(flowChunk{})))
	if n, all := absent(t, rest); n > 0 {
		t.Errorf("%d of the %d pages of the slab past its first huge page are not resident: it was not populated", n, all)
	}
	table.release()
}

// absent returns how many of the pages of b are not resident, and how many
// there are; b must start on a page.
func absent(t *testing.T, b []byte) (n, all int) {
	t.Helper()
	pages := make([]byte, (len(b)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&pages[0]))); errno != 0 {
		t.Fatal(errno)
	}
	for _, p := range pages {
		if p&1 == 0 {
			n++
		}
	}
	return n, len(pages)
}

// needPopulate skips a test on a kernel without MADV_POPULATE_WRITE
// (before Linux 5.14), or with one core, where prefault does nothing.
func needPopulate(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one core: memory is not populated ahead")
	}
	b, err := unix.Mmap(-1, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	if err := unix.Madvise(b, unix.MADV_POPULATE_WRITE); err != nil {
		t.Skipf("the kernel cannot populate memory ahead (MADV_POPULATE_WRITE, Linux 5.14): %v", err)
	}
}
