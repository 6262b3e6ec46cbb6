//go:build !amd64

package pcapio

// streamSegment copies *src to *dst; only amd64 has non-temporal stores
// here.
func streamSegment(dst, src *Segment) { *dst = *src }

// streamFence does nothing where streamSegment is a plain copy.
func streamFence() {}
