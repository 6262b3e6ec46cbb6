// Command walk reads a classic pcap file as hangdiag reads it, in reads of
// 256 KiB into a 1 MiB buffer, and visits every packet record: it loads
// the record's header and the first bytes of the frame, which any decoder
// must load, and decodes nothing. It prints the packets it counted.
//
// bench/run.sh times it beside cat and hangdiag on the 1 GiB capture: the
// least any program that looks at every packet takes on the machine, and
// so how much of a target set against cat is left for decoding and
// analysing (bench/NOTES.md, "What a packet's visit costs").
//
// Usage: go run ./bench/walk FILE
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
)

const (
	bufSize  = 1 << 20   // hangdiag's chunk
	readSize = 256 << 10 // and its read calls
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: walk FILE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "walk:", err)
		os.Exit(1)
	}
	defer f.Close()
	packets, _, err := walk(f, bufSize, readSize)
	if err != nil {
		fmt.Fprintf(os.Stderr, "walk: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	fmt.Println(packets, "packets")
}

// walk visits the records of the classic pcap that r holds, read in calls
// of readSize bytes into a buffer of bufSize, and returns how many there
// are and a sum of a byte of each frame, which keeps the loads that read
// them.
func walk(r io.Reader, bufSize, readSize int) (packets, sum uint64, err error) {
	var head [24]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, 0, fmt.Errorf("no pcap file header: %w", err)
	}
	var big bool // the file's numbers are big-endian
	switch binary.LittleEndian.Uint32(head[:4]) {
	case 0xa1b2c3d4, 0xa1b23c4d: // microseconds, nanoseconds
	case 0xd4c3b2a1, 0x4d3cb2a1:
		big = true
	default:
		return 0, 0, errors.New("not a classic pcap file")
	}
	buf := make([]byte, bufSize)
	have, done := 0, false // bytes in buf; the file's end reached
	for !done {
		for have < len(buf) {
			n, err := r.Read(buf[have:min(len(buf), have+readSize)])
			have += n
			if err == io.EOF {
				done = true
				break
			}
			if err != nil {
				return packets, sum, err
			}
		}
		off := 0
		for off+16 <= have {
			n := binary.LittleEndian.Uint32(buf[off+8 : off+12])
			if big {
				n = bits.ReverseBytes32(n)
			}
			capLen := int(n)
			if capLen > bufSize-16 {
				return packets, sum, fmt.Errorf("record %d: %d bytes captured, more than %d", packets+1, capLen, bufSize-16)
			}
			end := off + 16 + capLen
			if end > have {
				break
			}
			if capLen > 12 {
				sum += uint64(buf[off+16+12])
			}
			packets++
			off = end
		}
		if done && off < have {
			return packets, sum, fmt.Errorf("the file ends inside record %d", packets+1)
		}
		have = copy(buf, buf[off:have])
	}
	return packets, sum, nil
}
