package pcapio

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testNetns creates a network namespace for the test, with lo up, and
// removes it at the end; it skips the test where that cannot be done. No
// packet of the live tests leaves it.
func testNetns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live capture tests need root (network namespaces, CAP_NET_RAW); run go test as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip not found (apt-get install iproute2)")
	}
	name := fmt.Sprintf("hdlive-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("ip netns add does not work here: %s", strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	ipCmd(t, "-n", name, "link", "set", "lo", "up")
	return name
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// inNetns runs f on an OS thread moved into the namespace ns; sockets f
// opens stay there. The thread is thrown away afterwards.
func inNetns(t *testing.T, ns string, f func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		if err == nil {
			f()
		}
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatalf("enter namespace %s: %v", ns, err)
	}
}

// tcpPair returns a connected pair of TCP connections on 127.0.0.1 of the
// current namespace, and the server's port.
func tcpPair(t *testing.T) (client, server net.Conn, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server, ln.Addr().(*net.TCPAddr).Port
}

// collect reads segments until want have been seen or 5 s have passed.
func collect(t *testing.T, l *Live, want int) []Segment {
	t.Helper()
	var segs []Segment
	deadline := time.Now().Add(5 * time.Second)
	for len(segs) < want && time.Now().Before(deadline) {
		var seg Segment
		ok, err := l.Next(&seg)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			segs = append(segs, seg)
		}
	}
	return segs
}

func TestLiveCapture(t *testing.T) {
	ns := testNetns(t)
	for _, tt := range []struct {
		iface string
		link  uint16
	}{
		{"lo", LinkEthernet},
		{"any", LinkSLL2},
	} {
		t.Run(tt.iface, func(t *testing.T) {
			var (
				l               *Live
				err             error
				c1, s1, c2, s2  net.Conn
				port, otherPort int
			)
			inNetns(t, ns, func() {
				c1, s1, port = tcpPair(t)
				c2, s2, otherPort = tcpPair(t)
				l, err = OpenLive(tt.iface, &LiveConfig{Filter: "tcp port " + strconv.Itoa(port), Timeout: 50 * time.Millisecond})
			})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if l.LinkType() != tt.link {
				t.Errorf("link type %d, want %d", l.LinkType(), tt.link)
			}
			start := time.Now()
			// 3 segments per message and answer at most (data, data, ACK)
			for range 5 {
				c2.Write([]byte("not captured"))
				c1.Write([]byte("hello"))
				io.ReadFull(s1, make([]byte, 5))
				s1.Write([]byte("world"))
				io.ReadFull(c1, make([]byte, 5))
				io.ReadFull(s2, make([]byte, 12))
			}
			segs := collect(t, l, 10)
			if len(segs) < 10 {
				t.Fatalf("captured %d segments, want at least 10", len(segs))
			}
			payload := 0
			for i, s := range segs {
				if s.Src().Port() != uint16(port) && s.Dst().Port() != uint16(port) {
					t.Errorf("segment %d %v > %v: the filter lets port %d through", i, s.Src(), s.Dst(), otherPort)
				}
				if ts := time.Unix(0, s.Nanos); ts.Before(start.Add(-time.Second)) || ts.After(time.Now()) {
					t.Errorf("segment %d: timestamp %v outside the test", i, ts)
				}
				if s.Frame != uint64(i+1) {
					t.Errorf("segment %d: frame %d", i, s.Frame)
				}
				payload += int(s.PayloadLen)
			}
			// loopback packets are seen once, not once out and once in
			if payload > 50 {
				t.Errorf("payload %d bytes in %d segments, want at most 50: packets counted twice?", payload, len(segs))
			}
			raw, ok := l.Raw()
			if !ok || raw.LinkType != tt.link || len(raw.Data) == 0 || raw.WireLen < uint32(len(raw.Data)) {
				t.Errorf("Raw() = %+v, %v", raw, ok)
			}
			ks, err := l.KernelStats()
			if err != nil {
				t.Fatal(err)
			}
			if ks.Received < uint64(len(segs)) || ks.Dropped != 0 {
				t.Errorf("kernel stats %+v after %d segments", ks, len(segs))
			}
			st := l.Stats()
			if st.TCP() != uint64(len(segs)) || st.Packets != st.TCP() {
				t.Errorf("stats: %d packets, %d TCP; want %d", st.Packets, st.TCP(), len(segs))
			}
		})
	}
}

// TestLiveTunnel checks that a live capture without a filter expression
// keeps the UDP tunnels Decode walks, and finds the TCP segment inside: a
// VXLAN datagram sent to port 4789, a VXLAN-GPE one to 4790 and an L2TP
// one to 1701 are each captured as their inner segment; a datagram to
// another port not at all.
func TestLiveTunnel(t *testing.T) {
	ns := testNetns(t)
	tunnels := []struct {
		port    int
		payload []byte
		point   uint32 // what the tunnel mixes into the segment's Point
	}{
		{4789, vxlan(0x08, 5, eth(0x0800, data4)), 5 << 8},
		{4790, gpe(0x0c, 1, 6, data4), 6 << 8},
		{1701, l2tp(0x0002, 7, 8, nil, ppp(0x0021, data4)), 7<<16 | 8},
	}
	var (
		l     *Live
		err   error
		conns []net.Conn
	)
	inNetns(t, ns, func() {
		if l, err = OpenLive("lo", &LiveConfig{Timeout: 50 * time.Millisecond}); err != nil {
			return
		}
		for _, port := range []int{4791, 4789, 4790, 1701} { // the first is no tunnel's
			var c net.Conn
			if c, err = net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
				return
			}
			conns = append(conns, c)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, c := range conns {
		defer c.Close()
	}
	conns[0].Write(tunnels[0].payload)
	for i, tt := range tunnels {
		conns[i+1].Write(tt.payload)
	}
	segs := collect(t, l, len(tunnels))
	if len(segs) != len(tunnels) {
		t.Fatalf("captured %d segments, want %d", len(segs), len(tunnels))
	}
	for i, tt := range tunnels {
		got := segs[i]
		if got.Flow != data4Seg.Flow || got.Seq != data4Seg.Seq {
			t.Errorf("UDP %d: captured %v seq %d, want the tunnel's segment %v seq %d", tt.port, got.Flow, got.Seq, data4Seg.Flow, data4Seg.Seq)
		}
		if want := mixPoint(0, tt.point); got.Point != want {
			t.Errorf("UDP %d: Point %#x, want the tunnel's %#x", tt.port, got.Point, want)
		}
	}
	expectNoMore(t, l, uint64(len(tunnels)))
}

// TestLiveKernelGPE captures what the Linux kernel itself sends through
// VXLAN-GPE: two namespaces joined by a veth pair, each with a GPE device
// (network id 42, UDP 4790) that routes the other's inner address, and a
// TCP connection between the inner addresses. Captured on the veth, with
// no filter expression, every segment of the connection comes out as its
// inner segment, from the tunnel's network id.
func TestLiveKernelGPE(t *testing.T) {
	a, b := testNetns(t), testNetns(t)
	if out, err := exec.Command("ip", "-n", a, "link", "add", "gpe0", "type", "vxlan", "gpe", "external", "dstport", "4790").CombinedOutput(); err != nil {
		t.Skipf("this kernel makes no VXLAN-GPE device: %s", strings.TrimSpace(string(out)))
	}
	ipCmd(t, "-n", a, "link", "add", "hdgpe", "type", "veth", "peer", "name", "hdgpe", "netns", b)
	for i, ns := range []string{a, b} {
		me, peer := i+1, 2-i
		ipCmd(t, "-n", ns, "addr", "add", fmt.Sprintf("10.99.0.%d/24", me), "dev", "hdgpe")
		ipCmd(t, "-n", ns, "link", "set", "hdgpe", "up")
		if ns == b {
			ipCmd(t, "-n", ns, "link", "add", "gpe0", "type", "vxlan", "gpe", "external", "dstport", "4790")
		}
		ipCmd(t, "-n", ns, "link", "set", "gpe0", "up")
		ipCmd(t, "-n", ns, "addr", "add", fmt.Sprintf("192.168.99.%d/32", me), "dev", "gpe0")
		ipCmd(t, "-n", ns, "route", "add", fmt.Sprintf("192.168.99.%d/32", peer), "encap", "ip", "id", "42",
			"dst", fmt.Sprintf("10.99.0.%d", peer), "dev", "gpe0")
	}
	var (
		l      *Live
		ln     net.Listener
		client net.Conn
		err    error
	)
	inNetns(t, b, func() { ln, err = net.Listen("tcp", "192.168.99.2:0") })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	inNetns(t, a, func() {
		if l, err = OpenLive("hdgpe", &LiveConfig{Timeout: 50 * time.Millisecond}); err != nil {
			return
		}
		client, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	client.Write([]byte("hello"))
	segs := collect(t, l, 4) // SYN, SYN-ACK, ACK, the data
	if len(segs) < 4 {
		t.Fatalf("captured %d segments of the tunnelled connection, want at least 4", len(segs))
	}
	cli, srv := client.LocalAddr().(*net.TCPAddr).AddrPort(), ln.Addr().(*net.TCPAddr).AddrPort()
	if got := segs[0]; got.Src() != cli || got.Dst() != srv || got.Flags != SYN {
		t.Errorf("first segment %v > %v flags %#x, want the client's SYN %v > %v", got.Src(), got.Dst(), got.Flags, cli, srv)
	}
	for i, s := range segs {
		if s.Flow != segs[0].Flow {
			t.Errorf("segment %d: %v > %v, not the tunnelled connection's", i, s.Src(), s.Dst())
		}
		if want := mixPoint(0, 42<<8); s.Point != want {
			t.Errorf("segment %d: Point %#x, want network id 42's %#x", i, s.Point, want)
		}
	}
}

// expectNoMore checks that nothing more comes through l for 300 ms, and
// that the kernel's filter let through the packets captured, no more.
func expectNoMore(t *testing.T, l *Live, packets uint64) {
	t.Helper()
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); {
		var seg Segment
		if ok, err := l.Next(&seg); err != nil || ok {
			t.Fatalf("Next = %v, %v: a packet the filter should have kept out came through", ok, err)
		}
	}
	if st := l.Stats(); st.Packets != packets {
		t.Errorf("%d packets captured, want %d: the kernel's filter let another through", st.Packets, packets)
	}
}

// TestLiveIPTunnels checks that the default filter keeps the tunnels
// carried in IP itself: a segment in GRE and one in IP in IP, sent as raw
// IP datagrams over loopback, are both captured, and a datagram of
// another protocol (ESP, 50) with the same payload is not.
func TestLiveIPTunnels(t *testing.T) {
	ns := testNetns(t)
	var (
		l   *Live
		err error
	)
	conns := map[string]net.PacketConn{}
	inNetns(t, ns, func() {
		if l, err = OpenLive("lo", &LiveConfig{Timeout: 50 * time.Millisecond}); err != nil {
			return
		}
		for _, proto := range []string{"ip4:50", "ip4:47", "ip4:4"} {
			var c net.PacketConn
			if c, err = net.ListenPacket(proto, "127.0.0.1"); err != nil {
				return
			}
			conns[proto] = c
		}
	})
	for _, c := range conns {
		defer c.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	to := &net.IPAddr{IP: net.IPv4(127, 0, 0, 1)}
	for _, send := range []struct {
		proto   string
		payload []byte
	}{
		{"ip4:50", gre(0, 0x0800, nil, data4)},
		{"ip4:47", gre(0, 0x0800, nil, data4)},
		{"ip4:4", data4},
	} {
		if _, err := conns[send.proto].WriteTo(send.payload, to); err != nil {
			t.Fatalf("%s: %v", send.proto, err)
		}
	}
	segs := collect(t, l, 2)
	if len(segs) != 2 {
		t.Fatalf("captured %d segments, want 2 (in GRE and in IP in IP)", len(segs))
	}
	for _, seg := range segs {
		if seg.Flow != data4Seg.Flow || seg.Seq != data4Seg.Seq {
			t.Errorf("captured %v seq %d, want the tunnel's segment %v seq %d", seg.Flow, seg.Seq, data4Seg.Flow, data4Seg.Seq)
		}
	}
	expectNoMore(t, l, 2) // not the ESP datagram
}

func TestLiveTimeout(t *testing.T) {
	ns := testNetns(t)
	var l *Live
	var err error
	inNetns(t, ns, func() { l, err = OpenLive("lo", &LiveConfig{Timeout: 50 * time.Millisecond}) })
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	start := time.Now()
	var seg Segment
	ok, err := l.Next(&seg)
	if ok || err != nil {
		t.Fatalf("Next = %v, %v with no traffic", ok, err)
	}
	if d := time.Since(start); d < 40*time.Millisecond || d > 2*time.Second {
		t.Errorf("Next returned after %v, want about 50 ms", d)
	}
	if _, ok := l.Raw(); ok {
		t.Error("Raw after a timeout reports a packet")
	}
	l.Close()
	if _, err := l.Next(&seg); err == nil {
		t.Error("Next after Close: no error")
	}
}

func TestLiveErrors(t *testing.T) {
	t.Run("no such interface", func(t *testing.T) {
		_, err := OpenLive("eth9nosuch", nil)
		if !errors.Is(err, ErrNoInterface) || err.Error() != "no such interface eth9nosuch" {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("filter", func(t *testing.T) {
		_, err := OpenLive("lo", &LiveConfig{Filter: "vlan and tcp"})
		if !errors.Is(err, ErrFilterUnsupported) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("snap length", func(t *testing.T) {
		if _, err := OpenLive("lo", &LiveConfig{Snaplen: 20}); err == nil {
			t.Error("snap length 20 accepted")
		}
	})
	t.Run("permission", func(t *testing.T) {
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			if os.Geteuid() == 0 {
				// As root, give up root on this thread only: its
				// effective capabilities go with the effective user.
				runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
				if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), 65534, ^uintptr(0)); e != 0 {
					err = e
					return
				}
			}
			_, err = OpenLive("lo", nil)
		}()
		<-done
		if errors.Is(err, unix.EPERM) && !strings.Contains(err.Error(), "CAP_NET_RAW") {
			t.Fatalf("setresuid: %v", err)
		}
		if err == nil {
			t.Skip("this process may capture without root (it has CAP_NET_RAW)")
		}
		if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "CAP_NET_RAW") {
			t.Errorf("err = %v, want a permission error naming CAP_NET_RAW", err)
		}
	})
	t.Run("down", func(t *testing.T) {
		ns := testNetns(t)
		ipCmd(t, "-n", ns, "link", "add", "hd0", "type", "veth", "peer", "name", "hd1")
		var err error
		inNetns(t, ns, func() { _, err = OpenLive("hd0", nil) })
		if !errors.Is(err, ErrInterfaceDown) || !strings.Contains(err.Error(), "interface hd0 is down") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestLiveRate measures how many packets per second the capture keeps up
// with: one connection on loopback sends small segments as fast as it can
// for a second while the capture reads them.
func TestLiveRate(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no rate measurement")
	}
	ns := testNetns(t)
	var l *Live
	var err error
	var c, s net.Conn
	inNetns(t, ns, func() {
		c, s, _ = tcpPair(t)
		l, err = OpenLive("lo", &LiveConfig{Timeout: 50 * time.Millisecond})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c.(*net.TCPConn).SetNoDelay(true)
	go io.Copy(io.Discard, s)
	stop := make(chan struct{})
	go func() {
		msg := make([]byte, 100)
		for {
			select {
			case <-stop:
				return
			default:
				c.Write(msg)
				time.Sleep(20 * time.Microsecond)
			}
		}
	}()
	start := time.Now()
	n := 0
	for time.Since(start) < time.Second {
		var seg Segment
		ok, err := l.Next(&seg)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			n++
		}
	}
	close(stop)
	elapsed := time.Since(start)
	ks, err := l.KernelStats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("captured %d segments in %v (%.0f per second); kernel: %d received, %d dropped", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), ks.Received, ks.Dropped)
	if rate := float64(n) / elapsed.Seconds(); rate < 2000 {
		t.Errorf("%.0f segments per second, want at least a few thousand", rate)
	}
}

// TestLiveCooked captures on a named interface without Ethernet headers
// (a tun device): it must be read cooked, as LINUX_SLL2, and decode.
func TestLiveCooked(t *testing.T) {
	ns := testNetns(t)
	if out, err := exec.Command("ip", "-n", ns, "tuntap", "add", "dev", "hdtun0", "mode", "tun").CombinedOutput(); err != nil {
		t.Skipf("no tun device here: %s", strings.TrimSpace(string(out)))
	}
	var (
		l   *Live
		err error
	)
	inNetns(t, ns, func() {
		// Attach to the device, so that it has a carrier and sends.
		fd, e := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if e != nil {
			err = e
			return
		}
		ifr, e := unix.NewIfreq("hdtun0")
		if e != nil {
			err = e
			return
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			return
		}
		t.Cleanup(func() { unix.Close(fd) })
	})
	if err != nil {
		t.Skipf("cannot attach to the tun device: %v", err)
	}
	ipCmd(t, "-n", ns, "addr", "add", "10.9.0.1/24", "dev", "hdtun0")
	ipCmd(t, "-n", ns, "link", "set", "hdtun0", "up")
	inNetns(t, ns, func() {
		l, err = OpenLive("hdtun0", &LiveConfig{Filter: "dst port 80", Timeout: 50 * time.Millisecond})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.LinkType() != LinkSLL2 {
		t.Errorf("link type %d, want LINUX_SLL2 (%d)", l.LinkType(), LinkSLL2)
	}
	inNetns(t, ns, func() {
		// The SYN leaves through the tun device; nobody answers.
		d := net.Dialer{Timeout: 300 * time.Millisecond}
		d.Dial("tcp", "10.9.0.2:80")
	})
	segs := collect(t, l, 1)
	if len(segs) == 0 {
		t.Fatal("no segment captured")
	}
	s := segs[0]
	if s.Dst().String() != "10.9.0.2:80" || s.Flags&SYN == 0 {
		t.Errorf("captured %v > %v flags %#x, want the SYN to 10.9.0.2:80", s.Src(), s.Dst(), s.Flags)
	}
	raw, _ := l.Raw()
	if len(raw.Data) < sll2HeaderLen || raw.Data[0] != 0x08 || raw.Data[1] != 0x00 || raw.Data[10] != unix.PACKET_OUTGOING {
		t.Errorf("SLL2 header % x: want protocol 0800 and packet type outgoing", raw.Data[:min(len(raw.Data), sll2HeaderLen)])
	}
}
