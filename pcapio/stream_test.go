package pcapio

import (
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// TestSegmentPlainData checks what streamSegment relies on: a Segment is
// whole 8-byte words and holds no pointer, which a store that bypasses the
// garbage collector's write barrier must not write.
func TestSegmentPlainData(t *testing.T) {
	if size := unsafe.Sizeof(Segment{}); size%8 != 0 && runtime.GOARCH == "amd64" {
		t.Errorf("a Segment is %d bytes, not whole 8-byte words", size)
	}
	var pointers func(reflect.Type) bool
	pointers = func(typ reflect.Type) bool {
		switch typ.Kind() {
		case reflect.Struct:
			for i := range typ.NumField() {
				if pointers(typ.Field(i).Type) {
					return true
				}
			}
			return false
		case reflect.Array:
			return pointers(typ.Elem())
		case reflect.Pointer, reflect.UnsafePointer, reflect.Slice, reflect.Map, reflect.Chan,
			reflect.Func, reflect.Interface, reflect.String:
			return true
		}
		return false
	}
	if pointers(reflect.TypeFor[Segment]()) {
		t.Error("a Segment holds a pointer, which streamSegment's stores would hide from the garbage collector")
	}
}

// TestStreamSegment copies segments of distinct bytes over segments of
// other bytes and checks that every byte arrived.
func TestStreamSegment(t *testing.T) {
	src, dst := make([]Segment, 3), make([]Segment, 3)
	srcBytes, dstBytes := segmentBytes(src), segmentBytes(dst)
	for i := range srcBytes {
		srcBytes[i], dstBytes[i] = byte(i*7+1), 0xa5
	}
	streamSegment(&dst[1], &src[1])
	streamFence()
	if dst[1] != src[1] {
		t.Errorf("copied segment differs:\n%s", cmp.Diff(src[1], dst[1]))
	}
	for _, i := range []int{0, 2} { // the neighbours are left alone
		for _, b := range segmentBytes(dst[i : i+1]) {
			if b != 0xa5 {
				t.Fatalf("segment %d, next to the one copied, was written", i)
			}
		}
	}
}

// segmentBytes is the memory of s, byte by byte.
func segmentBytes(s []Segment) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(Segment{})))
}

// TestProduceStreamed decodes each capture twice, batch by batch, into
// batches whose segments hold other bytes: once in place, as on one
// processor, and once through streamSegment, as the reading goroutine
// does; every batch must come out the same.
func TestProduceStreamed(t *testing.T) {
	pcap, ng := framesCaptures(manyFrames(3000))
	paths := []string{writeFile(t, "many.pcap", pcap), writeFile(t, "many.pcapng", ng)}
	paths = append(paths, globFiles(t, "../testdata/pcaps/*.pcap*")...)
	for _, path := range paths {
		var files [2]*sourceFile
		for i := range files {
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			files[i] = s.files[0]
		}
		for n := 0; ; n++ {
			var got [2]*batch
			for i, f := range files {
				b := &batch{segs: make([]Segment, batchLen)}
				for j := range b.segs {
					b.segs[j] = Segment{Seq: 0xdeadbeef, Frame: ^uint64(0), Nanos: -1, Hash: 0xa5a5a5a5a5a5a5a5}
				}
				f.produce(b, batchLen, i == 1)
				got[i] = b
			}
			if diff := cmp.Diff(got[0].segs, got[1].segs); diff != "" {
				t.Fatalf("%s, batch %d (-in place +streamed):\n%s", filepath.Base(path), n, diff)
			}
			if len(got[0].entries) != len(got[1].entries) || got[0].err != got[1].err {
				t.Fatalf("%s, batch %d: %d entries and error %v in place, %d and %v streamed",
					filepath.Base(path), n, len(got[0].entries), got[0].err, len(got[1].entries), got[1].err)
			}
			for i, f := range files {
				f.release(got[i])
			}
			if got[0].err != nil {
				break
			}
		}
	}
}
