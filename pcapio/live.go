package pcapio

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"
)

// Live capture
//
// A Live source reads packets from a network interface as they cross it,
// through a Linux packet socket (AF_PACKET, no libpcap and no cgo), and
// decodes them with the same Decode as a file. The kernel keeps only TCP
// segments that match the filter expression (with none, also the tunnels
// over UDP, GRE and IP in IP that Decode walks: tunnelCarriers) and
// cuts each to the snap length. On other systems OpenLive returns
// ErrLiveUnsupported.

// DefaultSnaplen is the snap length of a live capture when
// LiveConfig.Snaplen is 0: room for a link header and the longest IPv4 or
// IPv6 and TCP headers with options; payload is not kept.
const DefaultSnaplen = 256

// MinSnaplen is the smallest snap length OpenLive accepts.
const MinSnaplen = 96

// DefaultLiveTimeout is how long Next waits for a packet when
// LiveConfig.Timeout is 0.
const DefaultLiveTimeout = 100 * time.Millisecond

// DefaultLiveBuffer is the kernel receive buffer of a live capture, in
// bytes, when LiveConfig.BufferSize is 0.
const DefaultLiveBuffer = 4 << 20

// Errors of OpenLive that callers may branch on. The errors of OpenLive
// wrap them with the interface's name. A missing privilege is reported
// with an error for which errors.Is(err, os.ErrPermission) holds, whose
// message names the capability needed (CAP_NET_RAW).
var (
	// ErrNoInterface: the named interface does not exist (in this
	// network namespace).
	ErrNoInterface = errors.New("no such interface")
	// ErrInterfaceDown: the named interface exists but is not up.
	ErrInterfaceDown = errors.New("interface is down")
	// ErrLiveUnsupported: live capture is not built for this system.
	ErrLiveUnsupported = errors.New("live capture needs Linux (AF_PACKET); on this system capture with tcpdump and run hangdiag analyze on the file")
)

// LiveConfig sets up a live capture. Nil or the zero value means the
// defaults: every TCP segment, DefaultSnaplen, DefaultLiveTimeout.
type LiveConfig struct {
	// Snaplen is how many bytes of each packet are kept, link header
	// included; 0 means DefaultSnaplen. Payload lengths come from the IP
	// header, so a short snap length still tracks sequence numbers.
	Snaplen int
	// Filter is a tcpdump-style filter expression (pcap-filter(7)), run
	// in the kernel; "" keeps every TCP segment, and the tunnels Decode
	// walks (VXLAN, Geneve, GTP-U, GRE, IP in IP) for the TCP inside. With
	// an expression only TCP segments are kept. The built-in compiler
	// knows a subset of the language; expressions outside it fail with
	// ErrFilterUnsupported.
	Filter string
	// Timeout bounds how long Next waits for a packet; 0 means
	// DefaultLiveTimeout.
	Timeout time.Duration
	// BufferSize is the kernel's receive buffer for the socket in bytes;
	// 0 means DefaultLiveBuffer. Above net.core.rmem_max it needs
	// CAP_NET_ADMIN, without which the buffer is rmem_max.
	BufferSize int
}

// KernelStats are the kernel's counts for a live capture's socket since it
// was opened.
type KernelStats struct {
	Received uint64 // packets the filter accepted, dropped ones included
	Dropped  uint64 // packets dropped because the socket's buffer was full
}

// Live reads TCP segments from a network interface. It is not safe for
// concurrent use, except that Close may be called to end a blocked Next.
type Live struct {
	name    string
	link    uint16
	snaplen int
	timeout time.Duration
	sock    *liveSocket
	buf     []byte
	raw     Raw
	hasRaw  bool
	stats   Stats
	prev    int64
}

// OpenLive starts capturing on the named interface, or on every interface
// with "any". A named Ethernet or loopback interface gives Ethernet frames
// (link type EN10MB); "any" and other interfaces give Linux cooked frames
// (LINUX_SLL2). It needs CAP_NET_RAW (root, or the capability on the
// binary); once it has returned, the privilege can be dropped.
func OpenLive(iface string, cfg *LiveConfig) (*Live, error) {
	var c LiveConfig
	if cfg != nil {
		c = *cfg
	}
	if c.Snaplen == 0 {
		c.Snaplen = DefaultSnaplen
	}
	if c.Snaplen < MinSnaplen || c.Snaplen > WriteSnaplen {
		return nil, fmt.Errorf("snap length %d out of range %d to %d", c.Snaplen, MinSnaplen, WriteSnaplen)
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultLiveTimeout
	}
	if c.BufferSize <= 0 {
		c.BufferSize = DefaultLiveBuffer
	}
	if iface == "" {
		return nil, errors.New("no interface given")
	}
	// Check the filter before the socket, so that a mistake in it is
	// reported first, also without the privilege to capture.
	if _, err := compileFilter(c.Filter, false, uint32(c.Snaplen)); err != nil {
		return nil, err
	}
	sock, link, err := openLiveSocket(iface, c)
	if err != nil {
		return nil, err
	}
	return &Live{name: iface, link: link, snaplen: c.Snaplen, timeout: c.Timeout, sock: sock, buf: make([]byte, c.Snaplen)}, nil
}

// Next waits up to the configured timeout for one packet. It reports true
// when the packet was a TCP segment, and then fills seg; false with a nil
// error when the timeout passed or the packet was not a segment it could
// decode (counted in Stats). Either way Raw then returns the packet, if
// one was read. It returns an error when the socket fails or was closed.
func (l *Live) Next(seg *Segment) (bool, error) {
	l.hasRaw = false
	n, wire, nanos, err := l.sock.read(l.buf, time.Now().Add(l.timeout))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("capture on %s: %w", l.name, err)
	}
	st := &l.stats
	st.Packets++
	if st.Packets == 1 || nanos < st.First {
		st.First = nanos
	}
	if st.Packets == 1 || nanos > st.Last {
		st.Last = nanos
	}
	if st.Packets > 1 && nanos < l.prev {
		st.Backwards++
	}
	l.prev = nanos
	if len(st.Links) == 0 {
		st.Links = []LinkCount{{LinkType: l.link}}
	}
	st.Links[0].Packets++
	l.raw = Raw{Nanos: nanos, LinkType: l.link, Data: l.buf[:n], WireLen: wire}
	l.hasRaw = true
	reason := Decode(l.link, l.buf[:n], wire, seg)
	st.Skipped[reason]++
	if reason != Decoded {
		return false, nil
	}
	seg.Nanos = nanos
	seg.File = 0
	seg.Frame = st.Packets
	return true, nil
}

// Raw returns the packet read by the last call to Next, whether or not it
// was a TCP segment, and false when that call read none. Data aliases the
// Live's buffer: it is valid until the next call to Next and must not be
// modified.
func (l *Live) Raw() (Raw, bool) { return l.raw, l.hasRaw }

// LinkType returns the link type of the frames: LinkEthernet or LinkSLL2.
func (l *Live) LinkType() uint16 { return l.link }

// Stats returns the counts of packets read so far, as a Source counts
// them. The Links slice is a copy.
func (l *Live) Stats() Stats {
	st := l.stats
	st.Links = slices.Clone(st.Links)
	return st
}

// KernelStats returns the kernel's counts of packets accepted and dropped
// since the capture began.
func (l *Live) KernelStats() (KernelStats, error) { return l.sock.kernelStats() }

// Info describes the capture as a FileInfo for reports: the interface as
// its name, the socket and link type as its format, and the packets read.
func (l *Live) Info() FileInfo {
	return FileInfo{
		Name:    l.name,
		Format:  fmt.Sprintf("live capture, %s, snap length %d", LinkName(l.link), l.snaplen),
		Packets: l.stats.Packets,
		First:   l.stats.First,
		Last:    l.stats.Last,
	}
}

// Close stops the capture. It is safe to call more than once.
func (l *Live) Close() error { return l.sock.close() }
