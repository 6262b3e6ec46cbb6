//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
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
	// A reader, opened without waiting for a writer, lets the run open
	// the pipe at once; the run fails before it writes.
	fd, err := syscall.Open(fifo, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Skipf("cannot open the named pipe to read: %v", err)
	}
	defer syscall.Close(fd)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the run fails once its output is open
	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{"analyze", "--write-flagged", fifo, pcaps("long-request-nokeepalive.pcap")}, &stdout, &stderr)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run = %v, want context canceled", err)
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the named pipe is gone or changed: %v", err)
	}
}
