package pcapio

import (
	"bytes"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// wiresharkOptions are the tshark options a frame of decodeTests needs for
// Wireshark to dissect it: a port or a layout it does not assume, which a
// user would set as these do.
var wiresharkOptions = map[string][]string{
	"VXLAN on flannel's port 8472, IPv6 inside":    {"-d", "udp.port==8472,vxlan"},
	"MPLS pseudowire: control word, then Ethernet": {"-d", "mpls.label==16,pwethcw"},
	"CAPWAP, 802.11": {"-o", "capwap.swap_fc:FALSE"},
}

// wiresharkDiffers are the frames of decodeTests in which tshark finds no
// TCP segment, or another, by design: why Decode reads them as it does.
var wiresharkDiffers = map[string]string{
	"NULL little-endian AF_INET6 Linux": "Wireshark knows the BSDs' numbers for IPv6 in a loopback header (24, 28, 30), not Linux's 10",
	"IPv6 payload length 0 takes the wire length": "Wireshark takes a payload length of 0 as an empty packet; " +
		"Decode takes the rest of the frame, as a packet captured before segmentation offload (TSO/GSO) gives it, and as both do for IPv4",
	"a tunnel's first fragment holds the inner headers": "Wireshark dissects a fragmented packet only once it has all the fragments",
	"802.11 first fragment":                             "Wireshark dissects a fragmented frame only once it has all the fragments",
	"802.11 whole frame numbered as a last fragment":    "Wireshark waits for fragments 0 to 5 of a frame numbered 6",
	"FDDI, synchronous LLC, IPv6":                       "Wireshark and tcpdump read LLC only in asynchronous frames",
	"NFLOG big-endian, IPv6": "Wireshark reads NFLOG in the file's byte order, the capturing host's, and this file is little-endian; " +
		"Decode tells the order from the record",
	"NFLOG payload cut by the snap length": "Wireshark stops at an attribute the snap length cut; tcpdump and Decode read the headers in it",
	"ARCNET, exception packet": "Wireshark and tcpdump take Linux ARCNET captures to hold no exception packet's padding; " +
		"Decode skips it should one come",
}

// wiresharkReadsMore are the frames of decodeTests that Decode turns into
// no segment and in which tshark still shows a TCP header: why Decode does
// not count them.
var wiresharkReadsMore = map[string]string{
	"TCP header cut before the window":            "the window is cut off, and Decode needs the header through it",
	"TCP header cut after IPv6":                   "the sequence numbers are cut off",
	"IPv4 total length too short for TCP":         "the IP header's length leaves no room for a TCP header; Wireshark reads on into the frame",
	"TCP data offset below 5":                     "a TCP header shorter than its 20 fixed bytes is malformed; Wireshark shows its fields anyway",
	"TCP data offset past the IP length":          "a TCP header longer than the IP packet is malformed; Wireshark shows its fields anyway",
	"IPv6 payload shorter than extension headers": "the extension headers run past the IPv6 payload; Wireshark reads on into the frame",
	"EtherType IPv4 carrying IPv6":                "Wireshark follows the IP version; tcpdump, as Decode, stops where the link header names the other IP",
	"IPv6 more than 8 extension headers":          "Decode walks 8 extension headers at most, a bound against crafted packets",
	"tunnels nested past the bound":               "Decode walks maxEncap encapsulations at most, a bound against crafted packets",
	"VXLAN without a network id":                  "its I flag is clear: the Linux kernel drops such a packet, as Decode does; tcpdump and Wireshark read on",
	"Geneve version 1":                            "Geneve has only version 0; Wireshark reads a later one as it",
	"VXLAN-GPE version 1":                         "VXLAN-GPE has only version 0; Wireshark reads a later one as it",
	"NSH version 1":                               "NSH has only version 0 (RFC 8300); Wireshark reads a later one as it",
	"NSH length below its fixed header":           "an NSH length shorter than the header's fixed 8 bytes is malformed; Wireshark reads on",
	"GRE version 1 not carrying PPP":              "GRE version 1 is PPTP's, which carries PPP alone; Wireshark reads the protocol field as in version 0",
	"GRE version 2":                               "GRE has versions 0 and 1 only; Wireshark reads a later one as version 0",
	"Cisco HDLC with another address":             "Cisco HDLC's address is 0x0f or 0x8f; Wireshark does not look at it",
	"radiotap version 1":                          "radiotap has only version 0; Wireshark reads a later one as it",
	"Prism length too short":                      "a Prism header shorter than its own fields is malformed; Wireshark reads the fields' fixed size",
	"PPI in PPI":                                  "a header that names its own kind as what follows loops; Wireshark reads one level",
	"PKTAP in PKTAP":                              "a header that names its own kind as what follows loops; Wireshark reads one level",
	"ARCNET, split packet":                        "a fragment of a larger packet, which Decode, as for IP fragments, does not reassemble",
}

// TestDecodeWireshark has tshark dissect every frame of decodeTests and
// checks, for each that Decode turns into a segment, that Wireshark finds
// the same TCP segment in it: the innermost addresses, the ports, sequence
// and acknowledgement numbers, payload length, window and flags. It checks
// the tests' frame builders, and so Decode, against a dissector written by
// others from the same specifications. A frame Decode turns into no
// segment must show no TCP header to tshark either, or be one of
// wiresharkReadsMore.
func TestDecodeWireshark(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tshark; skipped in -short mode")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	groups := map[string][]decodeTest{} // by the options tshark needs, joined
	for _, tt := range decodeTests {
		opts := strings.Join(wiresharkOptions[tt.name], " ")
		groups[opts] = append(groups[opts], tt)
	}
	seen := map[string]bool{}
	for _, opts := range slices.Sorted(maps.Keys(groups)) {
		cases := groups[opts]
		lines := tsharkSegments(t, tshark, strings.Fields(opts), cases)
		for i, tt := range cases {
			seen[tt.name] = true
			if tt.want != Decoded {
				tcp := strings.Split(lines[i], "\t")[slices.Index(wiresharkSegmentFields, "tcp.srcport")] != ""
				why, more := wiresharkReadsMore[tt.name]
				switch {
				case tcp && !more:
					t.Errorf("%s: Decode says %v, and tshark %s shows a TCP header: %s", tt.name, tt.want, opts, lines[i])
				case !tcp && more:
					t.Errorf("%s: tshark shows no TCP header now; remove its entry in wiresharkReadsMore (%s)", tt.name, why)
				}
				continue
			}
			var seg Segment
			Decode(tt.link, tt.frame, tt.wire(), &seg)
			diff := fieldDiff(wiresharkFields(&seg), strings.Split(lines[i], "\t")[1:])
			why, differs := wiresharkDiffers[tt.name]
			switch {
			case diff != "" && !differs:
				t.Errorf("%s: tshark %s sees otherwise:%s", tt.name, opts, diff)
			case diff == "" && differs:
				t.Errorf("%s: tshark agrees now; remove its entry in wiresharkDiffers (%s)", tt.name, why)
			}
		}
	}
	for name := range wiresharkDiffers {
		if !seen[name] {
			t.Errorf("wiresharkDiffers names %q, which is no frame of decodeTests", name)
		}
	}
	for name := range wiresharkReadsMore {
		if !seen[name] {
			t.Errorf("wiresharkReadsMore names %q, which is no frame of decodeTests", name)
		}
	}
	for name := range wiresharkOptions {
		if !seen[name] {
			t.Errorf("wiresharkOptions names %q, which is no frame of decodeTests", name)
		}
	}
}

// wiresharkSegmentFields are the fields TestDecodeWireshark has tshark
// print, the last occurrence of each: the innermost header's.
var wiresharkSegmentFields = []string{"frame.number", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
	"tcp.seq_raw", "tcp.ack_raw", "tcp.len", "tcp.window_size_value", "tcp.flags"}

// tsharkSegments writes the frames of cases to a pcapng file, an interface
// for each link type, and returns tshark's line of fields for each.
func tsharkSegments(t *testing.T, tshark string, opts []string, cases []decodeTest) []string {
	t.Helper()
	var links []uint16
	for _, tt := range cases {
		if !slices.Contains(links, tt.link) {
			links = append(links, tt.link)
		}
	}
	var file bytes.Buffer
	w, err := NewPcapngWriter(&file, links...)
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range cases {
		p := Raw{Nanos: int64(i+1) * 1e9, LinkType: tt.link, Interface: uint32(slices.Index(links, tt.link)), Data: tt.frame, WireLen: tt.wire()}
		if err := w.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "frames.pcapng")
	if err := os.WriteFile(path, file.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(slices.Clone(opts), "-r", path, "-T", "fields", "-E", "occurrence=l")
	for _, f := range wiresharkSegmentFields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", strings.Join(args, " "), err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("tshark printed %d lines for %d frames", len(lines), len(cases))
	}
	return lines
}

// wiresharkFields gives seg as tshark prints wiresharkSegmentFields, but
// for the frame number; the addresses of the other IP version are left
// empty.
func wiresharkFields(seg *Segment) []string {
	src, dst := seg.Flow.Lo, seg.Flow.Hi
	if !seg.SrcIsLo {
		src, dst = dst, src
	}
	addr := func(e Endpoint) string { return e.AddrPort().Addr().String() }
	f := make([]string, len(wiresharkSegmentFields)-1)
	if src.Is4 {
		f[0], f[1] = addr(src), addr(dst)
	} else {
		f[2], f[3] = addr(src), addr(dst)
	}
	f[4], f[5] = strconv.Itoa(int(src.Port)), strconv.Itoa(int(dst.Port))
	f[6], f[7] = strconv.FormatUint(uint64(seg.Seq), 10), strconv.FormatUint(uint64(seg.Ack), 10)
	f[8], f[9] = strconv.FormatUint(uint64(seg.PayloadLen), 10), strconv.Itoa(int(seg.Window))
	f[10] = fmt.Sprintf("0x%04x", seg.Flags)
	return f
}

// fieldDiff lists the fields in which tshark's got differ from want. The
// addresses of the IP version the segment is not in are not compared: they
// are an outer header's, or none.
func fieldDiff(want, got []string) string {
	var b strings.Builder
	for i, w := range want {
		name, g := wiresharkSegmentFields[i+1], ""
		if i < len(got) {
			g = got[i]
		}
		if w == "" {
			continue
		}
		if a, err := netip.ParseAddr(g); err == nil {
			g = a.String()
		}
		if g != w {
			fmt.Fprintf(&b, "\n\t%s: tshark %q, Decode %q", name, g, w)
		}
	}
	return b.String()
}
