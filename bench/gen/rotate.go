package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// rotator writes a capture into files of about limit bytes each, named as
// tcpdump -C names them: the first as given, the next ones with 1, 2, ...
// appended. It relies on how Generate writes: the file header in one
// Write, then each record in one Write. Every file starts with the header,
// and a file takes at least one record, so no record is split.
type rotator struct {
	name   string
	limit  int64
	header []byte
	f      *os.File
	w      *bufio.Writer
	n      int64 // bytes in the current file
	files  int
}

// newRotator removes the rotated files an earlier run left beside name
// (name followed by digits), so that only this run's remain.
func newRotator(name string, limit int64) (*rotator, error) {
	old, err := filepath.Glob(name + "[0-9]*")
	if err != nil {
		return nil, err
	}
	for _, p := range old {
		if strings.Trim(strings.TrimPrefix(p, name), "0123456789") == "" {
			if err := os.Remove(p); err != nil {
				return nil, err
			}
		}
	}
	return &rotator{name: name, limit: limit}, nil
}

func (r *rotator) Write(p []byte) (int, error) {
	if r.header == nil {
		r.header = bytes.Clone(p)
		return len(p), r.next()
	}
	if r.n+int64(len(p)) > r.limit && r.n > int64(len(r.header)) {
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	m, err := r.w.Write(p)
	r.n += int64(m)
	return m, err
}

// next closes the current file and starts the next one with the header.
func (r *rotator) next() error {
	if err := r.Close(); err != nil {
		return err
	}
	name := r.name
	if r.files > 0 {
		name += strconv.Itoa(r.files)
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	r.files++
	r.f, r.w = f, bufio.NewWriterSize(f, 1<<20)
	m, err := r.w.Write(r.header)
	r.n = int64(m)
	return err
}

// Close flushes and closes the current file.
func (r *rotator) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.w.Flush()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	r.f = nil
	return err
}
