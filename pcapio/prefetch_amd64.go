package pcapio

import "unsafe"

// prefetchWrite asks for the two cache lines from p on, for writing
// (PREFETCHW): a store to them later finds them here, where an ordinary
// store would wait for each line to come from another core's cache.
//
//go:noescape
func prefetchWrite(p unsafe.Pointer)

// cpuHasPrefetchW reports whether the processor has PREFETCHW (CPUID
// 0x80000001, ECX bit 8).
func cpuHasPrefetchW() bool

var hasPrefetchW = cpuHasPrefetchW()

// prefetchSegment asks for *s's cache lines for writing, where the
// processor can.
func prefetchSegment(s *Segment) {
	if hasPrefetchW {
		prefetchWrite(unsafe.Pointer(s))
	}
}
