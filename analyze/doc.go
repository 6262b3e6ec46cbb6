// Package analyze rebuilds TCP flows from decoded segments and diagnoses
// connections that hung because something between the two ends forgot them.
//
// An [Analyzer] takes segments in capture order ([Analyzer.Add]) and, when
// told where the capture ends ([Analyzer.Finish]), returns a [Result]: the
// flows with findings, each finding in plain English with the packets behind
// it. It does no I/O of its own (a caller may give it a file for a long
// capture's finished flows, [Config].Spill) and reads no clock, so the same
// segments always give the same result.
//
// # Vocabulary
//
// A flow is one TCP connection keyed by its 4-tuple; a new SYN after the old
// connection closed starts a new flow. A gap is the time between two
// consecutive packets of a flow in either direction, which is what a
// middlebox's idle timer sees; flows are never split or expired for being
// idle. Keepalive probes follow Wireshark's tcp.analysis.keep_alive rule,
// except that a probe sent while the peer's window is zero is a zero-window
// probe, not a keepalive.
//
// # Findings
//
// Every gap at or above the threshold gets one cause finding
// ([SilentPastTimeout], or [KeepaliveTooSlow] when a keepalive bounds the
// gap) and at most one consequence: [ResetAfterIdle] or
// [StaleConnectionReuse], [BlackholedAfterIdle], [ClosedAfterIdle], or
// [HungAtCaptureEnd].
package analyze
