package pcapio

import "unsafe"

// streamWords copies words 8-byte words from src to dst with
// non-temporal stores: they go to memory without first fetching dst's
// cache lines, wherever those are cached. dst must be 8-byte aligned and
// hold no Go pointers (the stores bypass the garbage collector's write
// barrier).
//
//go:noescape
func streamWords(dst, src unsafe.Pointer, words int)

// streamFence orders the non-temporal stores before it ahead of every
// store after it, so that another core that sees a later store also sees
// them (SFENCE).
func streamFence()

// streamSegment copies *src to *dst with non-temporal stores.
func streamSegment(dst, src *Segment) {
	streamWords(unsafe.Pointer(dst), unsafe.Pointer(src), int(unsafe.Sizeof(*dst)/8))
}
