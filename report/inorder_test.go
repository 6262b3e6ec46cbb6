package report

import (
	"errors"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/hangdiag/hangdiag/analyze"
)

// TestInOrder checks that inOrder hands every flow's text to write in the
// list's order, on one core and on several, however long each encoding
// takes, and that it stops at the first error of encode or of write and
// returns it.
func TestInOrder(t *testing.T) {
	const n = 2013 // not a whole number of batches
	flows := make([]analyze.Flow, n)
	for i := range flows {
		flows[i].Index = i
		flows[i].Packets = uint64(i * i % 97) // work of a varying length
	}
	list := analyze.FlowsOf(flows...)
	encode := func(dst []byte, fl *analyze.Flow) ([]byte, error) {
		for range fl.Packets {
			runtime.Gosched() // let the other encoders overtake this one
		}
		return strconv.AppendInt(dst, int64(fl.Index), 10), nil
	}
	var made atomic.Int32 // encoders made
	encoders := func(encode flowEncoder) func() flowEncoder {
		return func() flowEncoder {
			made.Add(1)
			return encode
		}
	}
	errEncode, errWrite := errors.New("encode failed"), errors.New("write failed")
	for _, procs := range []int{1, 2, 4} {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		// Fewer flows than a batch, than the batches in flight, and many
		// batches and a part.
		for _, n := range []int{1, 5, 100, n} {
			var written []int
			made.Store(0)
			err := inOrder(analyze.FlowsOf(flows[:n]...), encoders(encode), func(i int, text []byte) error {
				if got := string(text); got != strconv.Itoa(i) {
					t.Fatalf("GOMAXPROCS %d, %d flows: flow %d written with the text %q", procs, n, i, got)
				}
				written = append(written, i)
				return nil
			})
			if err != nil || len(written) != n {
				t.Fatalf("GOMAXPROCS %d: %d flows written of %d, error %v", procs, len(written), n, err)
			}
			for i, w := range written {
				if w != i {
					t.Fatalf("GOMAXPROCS %d, %d flows: flow %d written %dth", procs, n, w, i)
				}
			}
			if made := int(made.Load()); made != min(procs, (n+inOrderBatch-1)/inOrderBatch) {
				t.Errorf("GOMAXPROCS %d, %d flows: %d encoders made, want one for each goroutine, one goroutine for each batch at most", procs, n, made)
			}
		}

		failAt := func(at int) flowEncoder {
			return func(dst []byte, fl *analyze.Flow) ([]byte, error) {
				if fl.Index == at {
					return dst, errEncode
				}
				return encode(dst, fl)
			}
		}
		last := -1
		err := inOrder(list, encoders(failAt(700)), func(i int, _ []byte) error { last = i; return nil })
		if !errors.Is(err, errEncode) || last != 699 {
			t.Errorf("GOMAXPROCS %d, encoding flow 700 fails: error %v, last flow written %d", procs, err, last)
		}
		calls := 0
		err = inOrder(list, encoders(encode), func(i int, _ []byte) error {
			calls++
			if i == 300 {
				return errWrite
			}
			return nil
		})
		if !errors.Is(err, errWrite) || calls != 301 {
			t.Errorf("GOMAXPROCS %d, writing flow 300 fails: error %v, %d writes", procs, err, calls)
		}
	}
}
