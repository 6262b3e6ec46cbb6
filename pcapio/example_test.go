package pcapio_test

import (
	"fmt"
	"log"
	"time"

	"github.com/hangdiag/hangdiag/pcapio"
)

// flags writes the TCP flags as tcpdump does: S, F, R, P, then . for ACK.
func flags(seg *pcapio.Segment) string {
	s := ""
	for _, f := range []struct {
		bit  uint8
		name string
	}{{pcapio.SYN, "S"}, {pcapio.FIN, "F"}, {pcapio.RST, "R"}, {pcapio.PSH, "P"}, {pcapio.ACK, "."}} {
		if seg.Has(f.bit) {
			s += f.name
		}
	}
	return s
}

func ExampleOpen() {
	src, err := pcapio.Open("testdata/pcaps/handshake.pcap")
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	var seg pcapio.Segment // reused: Next fills it in place
	for src.Next(&seg) {
		at := time.Unix(0, seg.Nanos).UTC().Format("15:04:05.000000")
		fmt.Printf("%s #%d %v > %v [%s] seq %d ack %d len %d\n",
			at, seg.Frame, seg.Src(), seg.Dst(), flags(&seg), seg.Seq, seg.Ack, seg.PayloadLen)
	}

	st := src.Stats()
	fmt.Printf("%d packets, %d TCP segments\n", st.Packets, st.TCP())
	for _, r := range st.SkipReasons() {
		fmt.Printf("skipped %d: %v\n", st.Skipped[r], r)
	}
	for _, f := range src.Files() {
		if f.Damage != "" {
			fmt.Printf("%s: damaged: %s\n", f.Name, f.Damage)
		}
	}
	// Output:
	// 22:13:20.000000 #1 192.0.2.1:40000 > 192.0.2.2:80 [S] seq 1000 ack 0 len 0
	// 22:13:20.000250 #2 192.0.2.2:80 > 192.0.2.1:40000 [S.] seq 5000 ack 1001 len 0
	// 22:13:20.000300 #3 192.0.2.1:40000 > 192.0.2.2:80 [.] seq 1001 ack 5001 len 0
	// 22:13:20.001000 #4 192.0.2.1:40000 > 192.0.2.2:80 [P.] seq 1001 ack 5001 len 40
	// 22:13:20.020000 #5 192.0.2.2:80 > 192.0.2.1:40000 [P.] seq 5001 ack 1041 len 1400
	// 22:13:20.040000 #7 192.0.2.1:40000 > 192.0.2.2:80 [F.] seq 1041 ack 6401 len 0
	// 22:13:20.040200 #8 192.0.2.2:80 > 192.0.2.1:40000 [F.] seq 6401 ack 1042 len 0
	// 22:13:20.040300 #9 192.0.2.1:40000 > 192.0.2.2:80 [.] seq 1042 ack 6402 len 0
	// 9 packets, 8 TCP segments
	// skipped 1: not IP
}

func ExampleDecode() {
	// An IPv4 SYN from 192.0.2.1:40000 to 192.0.2.2:80 on raw IP, with the
	// window scale option.
	frame := []byte{
		0x45, 0, 0, 44, 0, 0, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
		0x9c, 0x40, 0, 80, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x60, pcapio.SYN, 0xfa, 0xf0, 0, 0, 0, 0,
		1, 3, 3, 7,
	}
	var seg pcapio.Segment
	if r := pcapio.Decode(pcapio.LinkRaw, frame, uint32(len(frame)), &seg); r != pcapio.Decoded {
		fmt.Println("skipped:", r)
		return
	}
	fmt.Println(seg.Src(), seg.Dst(), seg.Seq, seg.Window, seg.WScale)
	// Output: 192.0.2.1:40000 192.0.2.2:80 1000 64240 7
}
