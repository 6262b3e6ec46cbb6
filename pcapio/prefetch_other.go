//go:build !amd64

package pcapio

// prefetchSegment does nothing: only amd64 asks for the lines ahead here.
func prefetchSegment(*Segment) {}
