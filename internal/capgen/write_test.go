package capgen

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// testRecords returns a few Ethernet records with sub-microsecond times.
func testRecords(t *testing.T) []Record {
	t.Helper()
	c := New(Config{
		Client: ap("192.0.2.1:40000"), Server: ap("198.51.100.1:80"),
		Start: BaseTime.Add(123456789), Timestamps: true, WindowScale: 7,
	})
	c.Handshake(0, 1*MS+1, 2*MS+999)
	c.Send(Client, 3*MS, 300)
	c.Send(Server, 400*S, 1000)
	return Link{Type: LinkEthernet}.Records(0, c.Packets())
}

// TestWritePcapMatchesPcapgo checks WritePcap writes what gopacket's
// pcapgo.Writer writes, for microsecond and nanosecond files.
func TestWritePcapMatchesPcapgo(t *testing.T) {
	recs := testRecords(t)
	for _, nanos := range []bool{false, true} {
		var want bytes.Buffer
		w := pcapgo.NewWriter(&want)
		if nanos {
			w = pcapgo.NewWriterNanos(&want)
		}
		if err := w.WriteFileHeader(defaultSnaplen, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			ci := gopacket.CaptureInfo{Timestamp: r.Time, CaptureLength: len(r.Data), Length: len(r.Data)}
			if err := w.WritePacket(ci, r.Data); err != nil {
				t.Fatal(err)
			}
		}
		var got bytes.Buffer
		if err := WritePcap(&got, LinkEthernet, recs, &PcapConfig{Nanosecond: nanos}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("nanos=%v: WritePcap differs from pcapgo.Writer", nanos)
		}
	}
}

// TestWritePcapngMatchesPcapgo checks WritePcapng writes what gopacket's
// pcapgo.NgWriter writes for nanosecond interfaces.
func TestWritePcapngMatchesPcapgo(t *testing.T) {
	recs := testRecords(t)
	recs[1].Interface = 1
	var want bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&want,
		pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet},
		pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: Application}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddInterface(pcapgo.NgInterface{Name: "eth1", LinkType: layers.LinkTypeEthernet}); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		ci := gopacket.CaptureInfo{Timestamp: r.Time, CaptureLength: len(r.Data), Length: len(r.Data), InterfaceIndex: r.Interface}
		if err := w.WritePacket(ci, r.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	ifaces := []Interface{{Name: "eth0", LinkType: LinkEthernet, TSResol: 9}, {Name: "eth1", LinkType: LinkEthernet, TSResol: 9}}
	if err := WritePcapng(&got, ifaces, recs); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("WritePcapng differs from pcapgo.NgWriter")
	}
}

// TestWriteReadBack writes records in each format and reads them back with
// pcapgo: times truncated to the resolution, bytes cut to the snapshot
// length.
func TestWriteReadBack(t *testing.T) {
	recs := testRecords(t)
	type got struct {
		Time    time.Time
		Iface   int
		CapLen  int
		Len     int
		Prefix8 []byte
	}
	expect := func(resol []time.Duration, snap int) []got {
		var out []got
		for _, r := range recs {
			u := resol[r.Interface]
			n := min(len(r.Data), snap)
			out = append(out, got{r.Time.Truncate(u), r.Interface, n, len(r.Data), r.Data[:8]})
		}
		return out
	}
	read := func(next func() ([]byte, gopacket.CaptureInfo, error)) []got {
		var out []got
		for {
			data, ci, err := next()
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, got{ci.Timestamp.UTC(), ci.InterfaceIndex, ci.CaptureLength, ci.Length, data[:8]})
		}
	}
	tests := []struct {
		name  string
		cfg   *PcapConfig
		magic uint32
		order binary.ByteOrder
		resol time.Duration
		snap  int
	}{
		{"default", nil, 0xa1b2c3d4, binary.LittleEndian, time.Microsecond, defaultSnaplen},
		{"nanosecond", &PcapConfig{Nanosecond: true}, 0xa1b23c4d, binary.LittleEndian, time.Nanosecond, defaultSnaplen},
		{"big-endian", &PcapConfig{BigEndian: true}, 0xa1b2c3d4, binary.BigEndian, time.Microsecond, defaultSnaplen},
		{"big-endian nanosecond snaplen", &PcapConfig{BigEndian: true, Nanosecond: true, Snaplen: 96}, 0xa1b23c4d, binary.BigEndian, time.Nanosecond, 96},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range recs {
				recs[i].Interface = 0
			}
			var buf bytes.Buffer
			if err := WritePcap(&buf, LinkEthernet, recs, tt.cfg); err != nil {
				t.Fatal(err)
			}
			if m := tt.order.Uint32(buf.Bytes()); m != tt.magic {
				t.Errorf("magic %#x, want %#x", m, tt.magic)
			}
			r, err := pcapgo.NewReader(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(expect([]time.Duration{tt.resol}, tt.snap), read(r.ReadPacketData)); diff != "" {
				t.Errorf("packets (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("pcapng mixed", func(t *testing.T) {
		for i := range recs {
			recs[i].Interface = i % 2
		}
		ifaces := []Interface{
			{Name: "eth0", LinkType: LinkEthernet, TSResol: 6},
			{LinkType: LinkEthernet}, // no if_tsresol: microseconds
		}
		var buf bytes.Buffer
		if err := WritePcapng(&buf, ifaces, recs); err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewNgReader(&buf, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		want := expect([]time.Duration{time.Microsecond, time.Microsecond}, defaultSnaplen)
		if diff := cmp.Diff(want, read(r.ReadPacketData)); diff != "" {
			t.Errorf("packets (-want +got):\n%s", diff)
		}
	})
	t.Run("pcapng nanosecond snaplen", func(t *testing.T) {
		for i := range recs {
			recs[i].Interface = 0
		}
		var buf bytes.Buffer
		if err := WritePcapng(&buf, []Interface{{LinkType: LinkEthernet, TSResol: 9, Snaplen: 70}}, recs); err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewNgReader(&buf, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(expect([]time.Duration{time.Nanosecond}, 70), read(r.ReadPacketData)); diff != "" {
			t.Errorf("packets (-want +got):\n%s", diff)
		}
	})
}

func TestWritePcapngErrors(t *testing.T) {
	recs := []Record{{Time: BaseTime, Interface: 1, Data: []byte{0}}}
	if err := WritePcapng(io.Discard, []Interface{{LinkType: LinkRaw}}, recs); err == nil {
		t.Error("no error for a record on a missing interface")
	}
	if err := WritePcapng(io.Discard, []Interface{{LinkType: LinkRaw, TSResol: 12}}, nil); err == nil {
		t.Error("no error for if_tsresol 12")
	}
}

func TestGzipDeterministic(t *testing.T) {
	data := bytes.Repeat([]byte("capture "), 1000)
	a, err := Gzip(data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Gzip(data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two compressions differ")
	}
	if got := gunzip(t, a); !bytes.Equal(got, data) {
		t.Error("round trip differs")
	}
}
