//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestEvidenceErrorKeepsPipe checks that a run that fails after opening
// its --write-flagged output leaves a named pipe given as that output in
// place: the run removes a part-written capture file, never a pipe or a
// device (run as root, it once removed /dev/full).
func TestEvidenceErrorKeepsPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "evidence.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipe here: %v", err)
	}
	read := make(chan error, 1)
	go func() {
		f, err := os.Open(fifo) // waits for the run to open the other end
		if err == nil {
			_, err = io.Copy(io.Discard, f)
			f.Close()
		}
		read <- err
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the run fails once its output is open
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"analyze", "--write-flagged", fifo, pcaps("long-request-nokeepalive.pcap")}, &stdout, &stderr)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run = %v, want context canceled", err)
	}
	select {
	case err := <-read:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run never opened or closed the pipe")
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the named pipe is gone or changed: %v", err)
	}
}
