package pcapio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// sll2HeaderLen is the length of the LINUX_SLL2 header built in front of a
// cooked packet.
const sll2HeaderLen = 20

// liveSocket is a packet socket, non-blocking and read through the Go
// runtime's poller, so that read deadlines and Close work.
type liveSocket struct {
	f      *os.File
	rc     syscall.RawConn
	cooked bool // SOCK_DGRAM: packets start at the network header
	oob    []byte
	total  KernelStats
}

// htons converts a 16-bit value to network byte order for the kernel.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// permissionError explains a missing privilege, keeping the errno for
// errors.Is(err, os.ErrPermission).
func permissionError(iface string, err error) error {
	return fmt.Errorf("capture on %s: %w: capturing packets needs the CAP_NET_RAW capability: run as root, or give the binary the capability with setcap cap_net_raw,cap_net_admin=eip", iface, err)
}

// openLiveSocket opens, filters and binds a packet socket on the named
// interface (or "any") and returns it with its frames' link type.
func openLiveSocket(name string, c LiveConfig) (*liveSocket, uint16, error) {
	ifindex := 0
	if name != "any" {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return nil, 0, fmt.Errorf("%w %s", ErrNoInterface, name)
		}
		if ifi.Flags&net.FlagUp == 0 {
			return nil, 0, fmt.Errorf("interface %s is down (ip link set %s up): %w", name, name, ErrInterfaceDown)
		}
		ifindex = ifi.Index
	}
	cooked := name == "any"
	fd, err := packetSocket(name, cooked)
	if err != nil {
		return nil, 0, err
	}
	if !cooked {
		// Bound with protocol 0 the socket receives nothing yet, but it
		// tells the interface's hardware type: Ethernet and loopback
		// frames are read whole, any other kind cooked.
		hatype, err := hardwareType(fd, ifindex)
		if err != nil {
			unix.Close(fd)
			return nil, 0, fmt.Errorf("capture on %s: %w", name, err)
		}
		if hatype != unix.ARPHRD_ETHER && hatype != unix.ARPHRD_LOOPBACK {
			unix.Close(fd)
			cooked = true
			if fd, err = packetSocket(name, true); err != nil {
				return nil, 0, err
			}
		}
	}
	s, link, err := setupSocket(fd, name, ifindex, cooked, c)
	if err != nil {
		unix.Close(fd)
		return nil, 0, err
	}
	return s, link, nil
}

// packetSocket opens a packet socket that receives nothing until bound.
func packetSocket(name string, cooked bool) (int, error) {
	typ := unix.SOCK_RAW
	if cooked {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_PACKET, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if errors.Is(err, os.ErrPermission) {
		return -1, permissionError(name, err)
	}
	if err != nil {
		return -1, fmt.Errorf("capture on %s: open packet socket: %w", name, err)
	}
	return fd, nil
}

// hardwareType returns the ARPHRD_ type of the interface.
func hardwareType(fd, ifindex int) (uint16, error) {
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifindex}); err != nil {
		return 0, fmt.Errorf("bind: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, fmt.Errorf("getsockname: %w", err)
	}
	ll, ok := sa.(*unix.SockaddrLinklayer)
	if !ok {
		return 0, fmt.Errorf("getsockname: unexpected address %T", sa)
	}
	return ll.Hatype, nil
}

// setupSocket sets timestamps, the buffer and the filter, then binds the
// socket to start the capture.
func setupSocket(fd int, name string, ifindex int, cooked bool, c LiveConfig) (*liveSocket, uint16, error) {
	link := uint16(LinkEthernet)
	keep := c.Snaplen
	if cooked {
		link = LinkSLL2
		keep -= sll2HeaderLen
	}
	prog, err := compileFilter(c.Filter, cooked, uint32(keep))
	if err != nil {
		return nil, 0, err
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, 0, fmt.Errorf("filter %q: %w", c.Filter, err)
	}
	insns := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		insns[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return nil, 0, fmt.Errorf("capture on %s: attach filter: %w", name, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return nil, 0, fmt.Errorf("capture on %s: enable timestamps: %w", name, err)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, c.BufferSize) != nil {
		// without CAP_NET_ADMIN the kernel caps this at rmem_max
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, c.BufferSize)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(uint16(unix.ETH_P_ALL)), Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		if errors.Is(err, unix.ENETDOWN) {
			return nil, 0, fmt.Errorf("interface %s is down (ip link set %s up): %w", name, name, ErrInterfaceDown)
		}
		if errors.Is(err, unix.ENODEV) {
			return nil, 0, fmt.Errorf("%w %s", ErrNoInterface, name)
		}
		return nil, 0, fmt.Errorf("capture on %s: bind: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), "packet socket on "+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	oob := make([]byte, unix.CmsgSpace(binary.Size(unix.Timespec{})))
	return &liveSocket{f: f, rc: rc, cooked: cooked, oob: oob}, link, nil
}

// read receives one packet into buf, waiting until deadline, and returns
// the bytes captured, the packet's length on the wire and its kernel
// timestamp. A cooked packet gets a LINUX_SLL2 header in front. Outgoing
// loopback packets are passed over, as libpcap does: each comes back as an
// incoming one.
func (s *liveSocket) read(buf []byte, deadline time.Time) (n int, wire uint32, nanos int64, err error) {
	if err := s.f.SetReadDeadline(deadline); err != nil {
		return 0, 0, 0, err
	}
	off := 0
	if s.cooked {
		off = sll2HeaderLen
	}
	var (
		got, oobn int
		from      unix.Sockaddr
		rerr      error
	)
	err = s.rc.Read(func(fd uintptr) bool {
		for {
			got, oobn, _, from, rerr = unix.Recvmsg(int(fd), buf[off:], s.oob, unix.MSG_TRUNC)
			if rerr == unix.EAGAIN {
				return false
			}
			if rerr == unix.EINTR {
				continue
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && rerr == nil &&
				ll.Pkttype == unix.PACKET_OUTGOING && ll.Hatype == unix.ARPHRD_LOOPBACK {
				continue
			}
			return true
		}
	})
	if err != nil {
		return 0, 0, 0, err
	}
	if rerr != nil {
		return 0, 0, 0, rerr
	}
	n = min(got, len(buf)-off)
	wire = uint32(got)
	if s.cooked {
		ll, _ := from.(*unix.SockaddrLinklayer)
		if ll == nil {
			ll = &unix.SockaddrLinklayer{}
		}
		putSLL2(buf[:sll2HeaderLen], ll)
		n += sll2HeaderLen
		wire += sll2HeaderLen
	}
	return n, wire, timestamp(s.oob[:oobn]), nil
}

// putSLL2 writes a LINUX_SLL2 header from the packet's address.
func putSLL2(h []byte, ll *unix.SockaddrLinklayer) {
	clear(h)
	binary.NativeEndian.PutUint16(h[0:2], ll.Protocol) // already in network order
	binary.BigEndian.PutUint32(h[4:8], uint32(ll.Ifindex))
	binary.BigEndian.PutUint16(h[8:10], ll.Hatype)
	h[10] = ll.Pkttype
	h[11] = min(ll.Halen, 8)
	copy(h[12:20], ll.Addr[:h[11]])
}

// timestamp returns the SCM_TIMESTAMPNS time of a packet, or now when the
// kernel sent none.
func timestamp(oob []byte) int64 {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= binary.Size(unix.Timespec{}) {
				var ts unix.Timespec
				if _, err := binary.Decode(m.Data, binary.NativeEndian, &ts); err == nil {
					return ts.Nano()
				}
			}
		}
	}
	return time.Now().UnixNano()
}

// kernelStats adds the kernel's counts since the last call (reading them
// resets them) to the running totals.
func (s *liveSocket) kernelStats() (KernelStats, error) {
	var st *unix.TpacketStats
	var serr error
	err := s.rc.Control(func(fd uintptr) {
		st, serr = unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return s.total, fmt.Errorf("kernel statistics: %w", err)
	}
	s.total.Received += uint64(st.Packets)
	s.total.Dropped += uint64(st.Drops)
	return s.total, nil
}

func (s *liveSocket) close() error {
	err := s.f.Close()
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}
