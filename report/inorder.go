package report

import (
	"bufio"
	"runtime"

	"github.com/hangdiag/hangdiag/analyze"
)

// inOrderWindow is how many flows per goroutine inOrder encodes ahead of
// the one it writes next.
const inOrderWindow = 8

// flowEncoder appends a flow's text to dst. It must not keep the flow or
// dst.
type flowEncoder func(dst []byte, fl *analyze.Flow) ([]byte, error)

// inOrder encodes each flow of flows and hands the texts to write in the
// list's order. The flows are decoded on the calling goroutine and encoded
// on up to GOMAXPROCS others, each with an encoder of its own from
// newEncoder (which may so keep its buffers from flow to flow), so that a
// report of a million flows is written by every core, in little memory: a
// few flows per core are in flight at once. It stops at the first error
// of an encoder or of write and returns it.
func inOrder(flows analyze.Flows, newEncoder func() flowEncoder, write func(i int, text []byte) error) error {
	workers := min(runtime.GOMAXPROCS(0), flows.Len())
	if workers <= 1 {
		encode := newEncoder()
		var buf []byte
		for i, fl := range flows.All() {
			var err error
			if buf, err = encode(buf[:0], fl); err == nil {
				err = write(i, buf)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	type slot struct {
		flow *analyze.Flow
		text []byte
		err  error
		done chan struct{}
	}
	slots := make([]slot, workers*inOrderWindow)
	for i := range slots {
		slots[i].done = make(chan struct{}, 1)
	}
	jobs := make(chan int, len(slots)) // never full: at most len(slots) are in flight
	for range workers {
		go func() {
			encode := newEncoder()
			for i := range jobs {
				s := &slots[i%len(slots)]
				s.text, s.err = encode(s.text[:0], s.flow)
				s.flow = nil
				s.done <- struct{}{}
			}
		}()
	}
	var err error
	next := 0 // the flow to write next
	finish := func() {
		s := &slots[next%len(slots)]
		<-s.done
		if err == nil {
			err = s.err
		}
		if err == nil {
			err = write(next, s.text)
		}
		next++
	}
	n := 0 // flows handed out
	for i, fl := range flows.All() {
		if i >= len(slots) {
			finish() // the slot of flow i-len(slots), for flow i
		}
		if err != nil {
			break
		}
		slots[i%len(slots)].flow = fl
		jobs <- i
		n++
	}
	close(jobs)
	for next < n {
		finish()
	}
	return err
}

// writeInOrder writes the text of every flow of flows, encoded as by
// inOrder, to w, and flushes it.
func writeInOrder(w *bufio.Writer, flows analyze.Flows, newEncoder func() flowEncoder) error {
	err := inOrder(flows, newEncoder, func(_ int, text []byte) error {
		_, err := w.Write(text)
		return err
	})
	if err != nil {
		return err
	}
	return w.Flush()
}

// appendWriter appends what is written to it to b: an encoder that writes
// to an io.Writer writes through it into the buffer inOrder gives.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
