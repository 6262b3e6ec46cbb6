package report

import (
	"bufio"
	"io"
	"runtime"
	"sync"

	"github.com/hangdiag/hangdiag/analyze"
)

// inOrderBatch is how many flows in a row a goroutine of inOrder encodes
// at a time, and inOrderWindow how many such batches per goroutine are in
// flight at once.
const (
	inOrderBatch  = 16
	inOrderWindow = 2
)

// flowEncoder appends a flow's text to dst. It must not keep the flow or
// dst.
type flowEncoder func(dst []byte, fl *analyze.Flow) ([]byte, error)

// inOrder encodes each flow of flows and hands the texts to write in the
// list's order. The flows are decoded on the calling goroutine and encoded
// in batches on up to GOMAXPROCS others (one for each batch at most),
// each with an encoder of its own from newEncoder (which may so keep its
// buffers from flow to flow), so that a report of a million flows is
// written by every core, in little memory: a few batches of flows per
// core are in flight at once. It stops at the
// first error of an encoder or of write and returns it, after writing
// every flow before the one that failed.
func inOrder(flows analyze.Flows, newEncoder func() flowEncoder, write func(i int, text []byte) error) error {
	workers := min(runtime.GOMAXPROCS(0), (flows.Len()+inOrderBatch-1)/inOrderBatch)
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
	// A batch's texts are written one after the other into text; ends
	// holds where each ends, and err the error of the flow after the
	// last that ends, when encoding it failed.
	type batch struct {
		flows []*analyze.Flow
		text  []byte
		ends  []int
		err   error
		done  chan struct{}
	}
	batches := make([]batch, workers*inOrderWindow)
	for i := range batches {
		batches[i].done = make(chan struct{}, 1)
	}
	jobs := make(chan *batch, len(batches)) // never full: at most len(batches) are in flight
	var running sync.WaitGroup
	for range workers {
		running.Go(func() {
			encode := newEncoder()
			for b := range jobs {
				b.text, b.ends, b.err = b.text[:0], b.ends[:0], nil
				for _, fl := range b.flows {
					text, err := encode(b.text, fl)
					if err != nil {
						b.err = err
						break
					}
					b.text, b.ends = text, append(b.ends, len(text))
				}
				clear(b.flows)
				b.flows = b.flows[:0]
				b.done <- struct{}{}
			}
		})
	}
	var err error
	next := 0 // the flow to write next
	finish := func(b *batch) {
		<-b.done
		start := 0
		for _, end := range b.ends {
			if err == nil {
				err = write(next, b.text[start:end])
			}
			start = end
			next++
		}
		if err == nil {
			err = b.err
		}
	}
	// Batch k goes in batches[k%len(batches)], once batch k-len(batches)
	// is finished.
	sent, finished, filling := 0, 0, &batches[0]
	for _, fl := range flows.All() {
		filling.flows = append(filling.flows, fl)
		if len(filling.flows) < inOrderBatch {
			continue
		}
		jobs <- filling
		sent++
		filling = &batches[sent%len(batches)]
		if sent-finished == len(batches) {
			finish(filling)
			finished++
		}
		if err != nil {
			break
		}
	}
	if err == nil && len(filling.flows) > 0 {
		jobs <- filling
		sent++
	}
	close(jobs)
	for ; finished < sent; finished++ {
		finish(&batches[finished%len(batches)])
	}
	running.Wait() // no encoder runs once inOrder has returned
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

// outputBuffer is the size of a report's output buffer. The reports of
// many flows run to hundreds of megabytes: written 4 KiB at a time, as
// bufio.Writer does by default, the JSON of 325,000 flagged flows took
// 217,000 write calls.
const outputBuffer = 256 << 10

// newOutput buffers a report's output.
func newOutput(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, outputBuffer) }

// appendWriter appends what is written to it to b: an encoder that writes
// to an io.Writer writes through it into the buffer inOrder gives.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
