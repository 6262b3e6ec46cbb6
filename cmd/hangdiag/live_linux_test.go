package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hangdiag/hangdiag/internal/expect"
	"github.com/hangdiag/hangdiag/pcapio"
)

// TestLiveUsage checks the live command's flag errors and the messages for
// the errors people meet first. None of them needs root.
func TestLiveUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStderr string // a substring of the one error line
		wantErr    error  // when not nil, errors.Is must hold
	}{
		{"no interface", nil, "no interface given: -i IFACE, or -i any", nil},
		{"warn-at above 1", []string{"-i", "lo", "--warn-at", "1.5"}, "--warn-at must be between 0 and 1", nil},
		{"warn-at 0", []string{"-i", "lo", "--warn-at", "0"}, "--warn-at must be between 0 and 1", nil},
		{"snaplen", []string{"-i", "lo", "--snaplen", "20"}, "--snaplen must be from 96", nil},
		{"format", []string{"-i", "lo", "--format", "xml"}, `unknown format "xml"`, nil},
		{"alerts", []string{"-i", "lo", "--alerts", "xml"}, `unknown alert format "xml"; use text or jsonl`, nil},
		{"idle", []string{"-i", "lo", "--idle", "soon"}, `--idle "soon" is neither a duration`, nil},
		{"middlebox", []string{"-i", "lo", "--middlebox", "nosuch"}, `unknown middlebox "nosuch"`, nil},
		{"same file", []string{"-i", "lo", "-w", "x", "-o", "x"}, "-w and -o name the same file", nil},
		{"unknown flag", []string{"-i", "lo", "--nosuch"}, "unknown flag: --nosuch", nil},
		{"no such interface", []string{"-i", "eth9nosuch"}, "hangdiag: no such interface eth9nosuch", pcapio.ErrNoInterface},
		{"unsupported filter", []string{"-i", "lo", "vlan", "and", "tcp"}, `"vlan" is not supported by the built-in filter compiler`, pcapio.ErrFilterUnsupported},
		{"filter syntax", []string{"-i", "lo", "tcp", "port"}, `a value is missing after "tcp port"`, nil},
		{"host name", []string{"-i", "lo", "host", "example.com"}, "host names are not supported", pcapio.ErrFilterUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"live"}, tt.args...), &stdout, &stderr)
			if st := exitStatus(err, &stderr); st != exitUsage {
				t.Fatalf("exit status %d, want %d; stderr:\n%s", st, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.wantStderr)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
		})
	}
}

// TestLivePermission checks the message without the privilege to capture:
// as root, on a thread that gave up root (and so its capabilities).
func TestLivePermission(t *testing.T) {
	var err error
	var stderr bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		if os.Geteuid() == 0 {
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), 65534, ^uintptr(0)); e != 0 {
				err = fmt.Errorf("setresuid: %w", e)
				return
			}
		}
		err = run(context.Background(), []string{"live", "-i", "lo", "--duration", "1ms"}, io.Discard, &stderr)
	}()
	<-done
	if err == nil {
		t.Skip("this process may capture without root (it has CAP_NET_RAW)")
	}
	if st := exitStatus(err, &stderr); st != exitUsage {
		t.Errorf("exit status %d, want %d", st, exitUsage)
	}
	msg := stderr.String()
	if !errors.Is(err, os.ErrPermission) || !strings.Contains(msg, "CAP_NET_RAW") || !strings.Contains(msg, "setcap cap_net_raw,cap_net_admin=eip") {
		t.Errorf("err %v, stderr %q: want a permission error naming CAP_NET_RAW and setcap", err, msg)
	}
}

// TestLiveLoopback runs the live command on loopback in a namespace of its
// own while a request goes unanswered for 1.5 s past a 1 s threshold, and
// checks the alerts, the final report, and that the saved capture analyzes
// to the same findings. It needs root.
func TestLiveLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root (a network namespace, CAP_NET_RAW); run go test as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip not found (apt-get install iproute2)")
	}
	ns := fmt.Sprintf("hdlivecmd-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add does not work here: %s", strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v: %s", err, out)
	}

	dir := t.TempDir()
	capFile, repFile := filepath.Join(dir, "live.pcap"), filepath.Join(dir, "live.json")
	var stderr syncBuffer
	runErr := make(chan error, 1)
	inNetns(t, ns, func() {
		// The capture socket is opened on this thread, in the namespace.
		runErr <- run(context.Background(), []string{"live", "-i", "lo", "--idle", "1s", "--duration", "3s", "-Z", "root",
			"--alerts", "jsonl", "--format", "json", "-o", repFile, "-w", capFile, "tcp", "port", "8080"}, io.Discard, &stderr)
	})
	for i := 0; !strings.Contains(stderr.String(), "listening on"); i++ {
		if i == 50 {
			t.Fatalf("live did not start:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	traffic := make(chan error, 1)
	inNetns(t, ns, func() { traffic <- slowExchange("127.0.0.1:8080", 1500*time.Millisecond) })
	if err := <-traffic; err != nil {
		t.Fatal(err)
	}
	if err := <-runErr; err != nil {
		t.Fatalf("live: %v\n%s", err, stderr.String())
	}

	levels := map[string]float64{}
	var kinds []string
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		var al jsonAlert
		if json.Unmarshal(sc.Bytes(), &al) != nil {
			continue
		}
		if _, ok := levels[al.Level]; !ok {
			levels[al.Level] = al.Idle
		}
		if al.Kind != "" {
			kinds = append(kinds, al.Kind)
		}
	}
	if idle, ok := levels["warning"]; !ok || idle < 0.8 || idle >= 1 {
		t.Errorf("warning at %.3f s of silence (found: %v), want from 0.8 to 1 s", idle, ok)
	}
	if idle, ok := levels["expired"]; !ok || idle < 1 || idle > 1.5 {
		t.Errorf("expired at %.3f s of silence (found: %v), want from 1 to 1.5 s", idle, ok)
	}
	if strings.Join(kinds, ",") != "silent-past-timeout" {
		t.Errorf("finding alerts %v, want silent-past-timeout", kinds)
	}

	rep, err := os.ReadFile(repFile)
	if err != nil {
		t.Fatal(err)
	}
	live, err := expect.Summarize(rep)
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"analyze", "--idle", "1s", "--format", "json", capFile}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	saved, err := expect.Summarize(stdout.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(live.Kinds, ",") != "silent-past-timeout" || live.FlaggedFlows != 1 {
		t.Errorf("live report: kinds %v in %d flows, want silent-past-timeout in 1", live.Kinds, live.FlaggedFlows)
	}
	if strings.Join(saved.Kinds, ",") != strings.Join(live.Kinds, ",") || saved.FlaggedFlows != live.FlaggedFlows {
		t.Errorf("saved capture: kinds %v in %d flows; live: %v in %d", saved.Kinds, saved.FlaggedFlows, live.Kinds, live.FlaggedFlows)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// inNetns starts f on an OS thread of its own moved into the network
// namespace ns; sockets f opens belong to it. The thread is thrown away
// when f returns.
func inNetns(t *testing.T, ns string, f func()) {
	t.Helper()
	entered := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		entered <- err
		if err == nil {
			f()
		}
	}()
	if err := <-entered; err != nil {
		t.Fatalf("enter namespace %s: %v", ns, err)
	}
}

// slowExchange listens on addr, connects to it, sends a request and
// answers it after the delay, then closes both ends.
func slowExchange(addr string, delay time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	client, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		return err
	}
	defer server.Close()
	client.SetDeadline(time.Now().Add(10 * time.Second))
	server.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := client.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
		return err
	}
	if _, err := io.ReadFull(server, make([]byte, 18)); err != nil {
		return err
	}
	time.Sleep(delay)
	if _, err := server.Write([]byte("HTTP/1.1 200 OK\r\n\r\n")); err != nil {
		return err
	}
	_, err = io.ReadFull(client, make([]byte, 19))
	return err
}
