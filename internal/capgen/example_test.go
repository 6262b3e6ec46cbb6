package capgen_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/hangdiag/hangdiag/internal/capgen"
)

// A request answered after 400 s, whose answer a middlebox resets in the
// client's name, as seen at the server.
func Example() {
	c := capgen.New(capgen.Config{
		Client:    netip.MustParseAddrPort("192.0.2.1:51000"),
		Server:    netip.MustParseAddrPort("198.51.100.1:80"),
		ClientISN: 1000, ServerISN: 2000,
		ClientTTL: 52, Timestamps: true, WindowScale: 7,
	})
	ms := time.Millisecond
	c.Handshake(0, 100*time.Microsecond, 20*ms)
	c.Send(capgen.Client, 21*ms, 180)
	c.Ack(capgen.Server, 61*ms)
	c.Send(capgen.Server, 400*time.Second, 1200)
	c.Rst(capgen.Client, 400*time.Second+300*time.Microsecond, capgen.Middlebox(63))

	recs := capgen.Link{Type: capgen.LinkEthernet}.Records(0, c.Packets())
	var buf bytes.Buffer
	if err := capgen.WritePcap(&buf, capgen.LinkEthernet, recs, nil); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(recs), "packets,", buf.Len(), "bytes")
	fmt.Println("last at", recs[len(recs)-1].Time.Format(time.RFC3339Nano))
	fmt.Println("client next seq", c.NextSeq(capgen.Client))
	// Output:
	// 7 packets, 1982 bytes
	// last at 2024-03-01T12:06:40.0003Z
	// client next seq 1181
}
