package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/hangdiag/hangdiag/analyze"
)

// keepaliveCount is the number of unanswered probes the snippets allow
// before a connection is declared dead. It decides how soon a dead peer is
// noticed, not whether the middlebox keeps the flow.
const keepaliveCount = 5

// advice is the concrete fix for one flagged flow, beside the findings'
// own fix texts: the one-line version for summaries, the middlebox's
// documented timeout, and how to turn keepalives on per stack.
type advice struct {
	Keepalive bool          // TCP keepalive probes would keep the flow alive
	Side      analyze.Side  // the side that should send them
	Interval  time.Duration // the idle time and probe interval to set, at most
	Short     string        // the fix in one line, for summaries
	Middlebox string        // the preset's documented timeout and how to change it; "" without a preset
	Source    string        // where the preset's facts come from
}

// Snippets shows, per stack, how to turn keepalives on; nil when they
// would not help. They are made when asked for: a report shows them once
// for each side and interval (howTos).
func (a *advice) Snippets() []snippet {
	if !a.Keepalive {
		return nil
	}
	return keepaliveSnippets(a.Side, a.Interval)
}

// howTos remembers which flow's section of a report shows how to turn
// keepalives on, for each side and interval, so that the others point to
// it rather than repeat it: a capture of a thousand flagged flows would
// otherwise carry the same few kilobytes a thousand times.
type howTos map[howToKey]int

type howToKey struct {
	side     analyze.Side
	interval time.Duration
}

// shownAt returns the Index of the flow whose section shows a's how-to,
// and true; or, when none does yet, records the flow of the given Index
// as the one that will, and returns false.
func (h howTos) shownAt(a *advice, index int) (int, bool) {
	k := howToKey{a.Side, a.Interval}
	if at, ok := h[k]; ok {
		return at, true
	}
	h[k] = index
	return 0, false
}

// snippet shows how to turn on TCP keepalive in one stack.
type snippet struct {
	Stack string // "Linux", "Python requests", ...
	Lang  string // Markdown code fence language
	Code  string
	Note  string // what to know beyond the code
}

// httpKeepAliveNote names the confusion that leads most people astray.
const httpKeepAliveNote = "HTTP keep-alive (connection reuse, pools) is not TCP keepalive: it sends nothing while the connection is idle."

// flowAdvice says what to change for a flagged flow: which side should send
// keepalives and how often, or what to do when keepalives would not help.
// The side is the one the findings say was waiting, else the client, as in
// the findings' own fix.
func flowAdvice(res *analyze.Result, fl *analyze.Flow) advice {
	iv := time.Duration(analyze.RecommendedInterval(int64(res.Threshold)))
	a := advice{Side: analyze.Client, Interval: iv}
	closed, sideSet := false, false
	for _, f := range fl.Findings {
		if f.Kind == analyze.ClosedAfterIdle {
			closed = true
		}
		if !sideSet && f.Evidence.Waiting != "" {
			sideSet = true
			if f.Evidence.Waiting == analyze.Server.String() {
				a.Side = analyze.Server
			}
		}
	}
	mb := res.Middlebox
	if mb != nil {
		a.Middlebox = fmt.Sprintf("%s: documented idle timeout %s; ", mb.Title, seconds(mb.Idle))
		if mb.Range != "" {
			a.Middlebox += "it can be changed: " + mb.Range + "."
		} else {
			a.Middlebox += "it cannot be changed."
		}
		a.Source = mb.Source
	}
	switch {
	case mb != nil && !mb.ProbesResetTimer:
		a.Short = fmt.Sprintf("send application data at least every %s, or raise the %s idle timeout; TCP keepalive probes do not restart its timer", seconds(iv), mb.Title)
	case closed:
		a.Short = fmt.Sprintf("raise the proxy's idle or read timeout above the longest request, or send data at least every %s; TCP keepalive probes do not help", seconds(iv))
	default:
		a.Keepalive = true
		a.Short = fmt.Sprintf("enable TCP keepalive on the %s, probes at most %s apart (timeout %s)", a.Side, seconds(iv), seconds(res.Threshold))
	}
	return a
}

// keepaliveSnippets shows, per common stack, how the given side turns on
// TCP keepalive with idle time and interval iv.
func keepaliveSnippets(side analyze.Side, iv time.Duration) []snippet {
	s := max(int(iv/time.Second), 1)
	n := keepaliveCount
	linux := snippet{"Linux", "sh", fmt.Sprintf(`# /etc/sysctl.d/90-keepalive.conf, then: sysctl --system
net.ipv4.tcp_keepalive_time = %d
net.ipv4.tcp_keepalive_intvl = %d
net.ipv4.tcp_keepalive_probes = %d`, s, s, n),
		"These are only defaults for sockets that turn SO_KEEPALIVE on; they turn nothing on by themselves (the kernel's default idle time is 7200 s). They are per network namespace: set them inside the container."}
	java := snippet{"Java", "java", fmt.Sprintf(`import jdk.net.ExtendedSocketOptions;

// socket: %s
socket.setKeepAlive(true);
socket.setOption(ExtendedSocketOptions.TCP_KEEPIDLE, %d);
socket.setOption(ExtendedSocketOptions.TCP_KEEPINTERVAL, %d);
socket.setOption(ExtendedSocketOptions.TCP_KEEPCOUNT, %d);`, map[analyze.Side]string{
		analyze.Client: "the connected java.net.Socket",
		analyze.Server: "each Socket returned by ServerSocket.accept()",
	}[side], s, s, n),
		"JDK 11 or newer, on Linux and macOS. For an HTTP client, do this in its socket factory (OkHttp's socketFactory; Apache HttpClient 5: SocketConfig.custom().setSoKeepAlive(true) with setTcpKeepIdle, setTcpKeepInterval and setTcpKeepCount)."}
	nodeNote := fmt.Sprintf("setKeepAlive(true, delay) sets the idle time to delay and, since Node.js 12.17 and 13.12, the interval to 1 s and the count to 10: answered probes recur every %s, and a connection whose probes go unanswered is dropped about 10 s after the first. http.Agent's keepAlive option is connection reuse, not TCP keepalive.", seconds(iv))

	if side == analyze.Server {
		return []snippet{
			linux,
			{"Python (socket)", "python", fmt.Sprintf(`import socket

conn, addr = listener.accept()
conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, %d)  # macOS: socket.TCP_KEEPALIVE
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, %d)
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, %d)`, s, s, n), ""},
			{"Go", "go", fmt.Sprintf(`lc := net.ListenConfig{
	KeepAliveConfig: net.KeepAliveConfig{
		Enable:   true,
		Idle:     %d * time.Second,
		Interval: %d * time.Second,
		Count:    %d,
	},
}
ln, err := lc.Listen(ctx, "tcp", ":8080") // connections accepted from ln use these settings`, s, s, n),
				"Go 1.23 or newer. Without a KeepAliveConfig, Go servers already send probes every 15 s unless KeepAlive is negative."},
			java,
			{"Node.js", "js", fmt.Sprintf(`server.on("connection", (socket) => socket.setKeepAlive(true, %d));`, s*1000), nodeNote},
			{".NET", "csharp", fmt.Sprintf(`// socket: each Socket returned by Accept() or AcceptAsync()
socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, %d);
socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, %d);
socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, %d);`, s, s, n),
				".NET Core 3.0 or newer; times in seconds. On Windows the times need Windows 10 version 1709 or newer."},
		}
	}
	return []snippet{
		linux,
		{"Python requests", "python", fmt.Sprintf(`import socket

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection


class KeepaliveAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        kwargs["socket_options"] = HTTPConnection.default_socket_options + [
            (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
            (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, %d),  # macOS: socket.TCP_KEEPALIVE
            (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, %d),
            (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, %d),
        ]
        super().init_poolmanager(*args, **kwargs)


session = requests.Session()
session.mount("http://", KeepaliveAdapter())
session.mount("https://", KeepaliveAdapter())`, s, s, n),
			"requests and urllib3 send no TCP keepalive by default; their \"keep-alive\" is connection reuse. httpx and aiohttp take the same list as socket_options."},
		{"Go", "go", fmt.Sprintf(`dialer := &net.Dialer{
	KeepAliveConfig: net.KeepAliveConfig{
		Enable:   true,
		Idle:     %d * time.Second,
		Interval: %d * time.Second,
		Count:    %d,
	},
}
transport := http.DefaultTransport.(*http.Transport).Clone()
transport.DialContext = dialer.DialContext
client := &http.Client{Transport: transport}`, s, s, n),
			"Go 1.23 or newer. Go already sends probes by default (every 15 s; http.DefaultTransport every 30 s), so a silent Go client has KeepAlive set negative or its own dialer."},
		java,
		{"Node.js", "js", fmt.Sprintf(`const req = http.request(url, options, onResponse);
req.on("socket", (socket) => socket.setKeepAlive(true, %d));`, s*1000), nodeNote},
		{".NET", "csharp", fmt.Sprintf(`var handler = new SocketsHttpHandler
{
    ConnectCallback = async (context, cancellationToken) =>
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, %d);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, %d);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, %d);
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    },
};
var client = new HttpClient(handler);`, s, s, n),
			".NET Core 3.0 or newer; times in seconds. On Windows the times need Windows 10 version 1709 or newer."},
		{"curl", "sh", fmt.Sprintf(`curl --keepalive-time %d URL`, s),
			"curl sends probes every 60 s unless --no-keepalive is given. libcurl does not by default: set CURLOPT_TCP_KEEPALIVE to 1, CURLOPT_TCP_KEEPIDLE and CURLOPT_TCP_KEEPINTVL to " + fmt.Sprint(s) + "."},
	}
}

// stackNames lists the snippets' stacks, for a summary line.
func stackNames(sn []snippet) string {
	names := make([]string, len(sn))
	for i, s := range sn {
		names[i] = s.Stack
	}
	return strings.Join(names, ", ")
}

// matchedPresets names the presets the timeout bracket fits, each with its
// documented timeout; "" when none.
func matchedPresets(inf analyze.Inference) string {
	var parts []string
	for _, name := range inf.Matches {
		if mb, ok := analyze.LookupMiddlebox(name); ok {
			parts = append(parts, fmt.Sprintf("%s (%s, %s)", name, mb.Title, seconds(mb.Idle)))
		} else {
			parts = append(parts, name)
		}
	}
	return strings.Join(parts, "; ")
}
