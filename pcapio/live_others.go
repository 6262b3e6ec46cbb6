//go:build !linux

package pcapio

import "time"

// liveSocket stands in for the Linux packet socket; it cannot be opened.
type liveSocket struct{}

// openLiveSocket fails: live capture needs Linux.
func openLiveSocket(name string, c LiveConfig) (*liveSocket, uint16, error) {
	return nil, 0, ErrLiveUnsupported
}

func (s *liveSocket) read(buf []byte, deadline time.Time) (int, uint32, int64, error) {
	return 0, 0, 0, ErrLiveUnsupported
}

func (s *liveSocket) kernelStats() (KernelStats, error) { return KernelStats{}, ErrLiveUnsupported }

func (s *liveSocket) close() error { return nil }
