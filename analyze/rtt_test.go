package analyze

import (
	"path/filepath"
	"testing"

	"github.com/hangdiag/hangdiag/pcapio"
)

// TestHandshakeRoundTrips checks, on the lab's real captures, the round
// trips a flow times from its handshake against the same intervals read
// straight off the segments: SYN to SYN-ACK toward the server, SYN-ACK to
// the client's ACK toward the client.
func TestHandshakeRoundTrips(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "lab", "*.client.pcap"))
	if len(paths) == 0 {
		t.Fatal("no client captures in testdata/pcaps/lab")
	}
	timed := 0
	for _, path := range paths {
		segs := readSegments(t, path)
		// Per flow, the first SYN, SYN-ACK and handshake ACK.
		type steps struct {
			syn, synAck, ack int64
			clientIsLo       bool
		}
		want := map[pcapio.FlowKey]*steps{}
		for i := range segs {
			s := &segs[i]
			st := want[s.Flow]
			if st == nil {
				st = &steps{}
				want[s.Flow] = st
			}
			switch {
			case s.Has(pcapio.SYN) && !s.Has(pcapio.ACK) && st.syn == 0:
				st.syn, st.clientIsLo = s.Nanos, s.SrcIsLo
			case s.Has(pcapio.SYN|pcapio.ACK) && st.synAck == 0 && st.syn != 0:
				st.synAck = s.Nanos
			case s.Flags&(pcapio.SYN|pcapio.FIN|pcapio.RST) == 0 && s.SrcIsLo == st.clientIsLo && st.synAck != 0 && st.ack == 0:
				st.ack = s.Nanos
			}
		}
		a := New(Config{})
		for i := range segs {
			a.Add(&segs[i])
		}
		for f := range a.flows.all() {
			st := want[f.key]
			if st == nil || st.ack == 0 {
				continue
			}
			if got, w := f.rttToward(Server), st.synAck-st.syn; got != w {
				t.Errorf("%s %v: round trip to the server %d ns, want %d", filepath.Base(path), f.addr(Client), got, w)
			}
			if got, w := f.rttToward(Client), st.ack-st.synAck; got != w {
				t.Errorf("%s %v: round trip to the client %d ns, want %d", filepath.Base(path), f.addr(Client), got, w)
			}
			timed++
		}
	}
	if timed < len(paths) {
		t.Errorf("timed %d handshakes in %d captures", timed, len(paths))
	}
}
