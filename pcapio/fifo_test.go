//go:build unix

package pcapio

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestMergePipes checks that several captures read from named pipes (as
// `hangdiag analyze <(zcat a.gz) <(zcat b.gz)` passes them) are merged
// whole: a pipe is never parked, since it cannot be read a second time.
func TestMergePipes(t *testing.T) {
	le := binary.LittleEndian
	const per = 1500
	dir := t.TempDir()
	var paths []string
	for i := range 2 {
		recs := make([]pcapRec, per)
		for j := range recs {
			recs[j] = pcapRec{sec: base + uint32(i), frac: uint32(j), data: seqFrame(uint32(i*per + j))}
		}
		path := filepath.Join(dir, "pipe"+string(rune('a'+i)))
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Skip("no named pipes here: " + err.Error())
		}
		go func(b []byte) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				return
			}
			f.Write(b) // the test fails on the count if this does
			f.Close()
		}(pcapFile(le, magicMicro, LinkEthernet, recs...))
		paths = append(paths, path)
	}
	type result struct {
		n     int
		files []FileInfo
		err   error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Open(paths...)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer s.Close()
		var seg Segment
		n := 0
		for s.Next(&seg) {
			n++
		}
		done <- result{n: n, files: s.Files()}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		// A pipe opened again waits for a writer that will not come:
		// be one, so that the reading ends.
		for _, p := range paths {
			if f, err := os.OpenFile(p, os.O_RDWR, 0); err == nil {
				defer f.Close()
			}
		}
		t.Fatal("merging the pipes did not end within 10 s")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.n != 2*per || r.files[0].Packets != per || r.files[1].Packets != per || r.files[0].Damage+r.files[1].Damage != "" {
		t.Errorf("%d segments from the pipes, files %+v; want %d, %d each", r.n, r.files, 2*per, per)
	}
}
