package analyze

import (
	"net/netip"
	"time"
)

// Side names one end of a flow.
type Side uint8

// The two ends of a flow. The client sent the SYN; when the handshake was not
// captured, it is the end with the ephemeral port.
const (
	Client Side = 0
	Server Side = 1
)

func (s Side) String() string {
	if s == Client {
		return "client"
	}
	return "server"
}

// Other returns the opposite side.
func (s Side) Other() Side { return 1 - s }

// State is how a flow stood at its last packet.
type State uint8

// Flow states.
const (
	Open   State = iota // neither closed nor reset
	Closed              // both sides sent FIN
	Reset               // a RST was seen
)

func (s State) String() string {
	return [...]string{"open", "closed", "reset"}[s]
}

// Kind is a finding kind, the JSON "kind" value.
type Kind string

// Finding kinds, as DESIGN.md defines them.
const (
	SilentPastTimeout    Kind = "silent-past-timeout"
	ResetAfterIdle       Kind = "reset-after-idle"
	StaleConnectionReuse Kind = "stale-connection-reuse"
	BlackholedAfterIdle  Kind = "blackholed-after-idle"
	ClosedAfterIdle      Kind = "closed-after-idle"
	HungAtCaptureEnd     Kind = "hung-at-capture-end"
	KeepaliveTooSlow     Kind = "keepalive-too-slow"
)

// Severity orders findings: errors are failures seen on the wire, warnings
// are conditions that make a failure likely.
type Severity uint8

// Severities, most severe first.
const (
	Error Severity = iota
	Warning
	Info
)

func (s Severity) String() string { return [...]string{"error", "warning", "info"}[s] }

// PacketRef points at one packet of the capture, so that every number in a
// report can be found in Wireshark.
type PacketRef struct {
	File  int       // index of the capture file
	Frame uint64    // 1-based packet number within that file
	Time  time.Time // capture time
	Side  Side      // who sent it
	Kind  PacketKind
	What  string // in words: "112 bytes of data", "a keepalive probe", "a FIN"
}

// Finding is one diagnosis about one flow.
type Finding struct {
	Kind     Kind
	Severity Severity
	At       time.Time     // when the condition was seen on the wire
	Gap      time.Duration // the idle gap the finding is about
	Message  string        // what happened, in plain English, naming the flow, times and gap
	Fix      string        // what to change; empty when there is nothing to advise
	Evidence Evidence
}

// Evidence holds the packets and facts behind a finding.
type Evidence struct {
	GapStart      *PacketRef // last packet before the gap
	GapEnd        *PacketRef // first packet after it; nil when the gap ran to the capture end
	EndedBy       string     // data, keepalive, ack, fin, reset or capture-end
	Waiting       string     // the side whose request was unanswered during the gap, or ""
	Reset         *ResetInfo // the RST, for reset findings
	Retransmitted int        // retransmissions of the data sent after the gap
	Unacked       *PacketRef // the data that was never acknowledged
	Last          *PacketRef // for black holes, the last retransmission, or the sender's RST when it gave up
	Probes        int        // keepalive probes seen in the flow (both sides)
	// Keepalive is, for KeepaliveTooSlow, what each side's probes showed
	// of its keepalive settings when the gap was found, indexed by Side.
	Keepalive *[2]KeepaliveSettings
}

// ResetInfo describes one RST and the evidence on who really sent it.
type ResetInfo struct {
	Packet      PacketRef
	ClaimedBy   Side          // the end whose address it carries
	TriggeredBy *PacketRef    // the packet it answered; nil when it came with no trigger
	After       time.Duration // time from the trigger to the RST
	TTL         uint8
	UsualTTL    uint8    // TTL of the claimed sender's other packets; 0 when unknown
	HasTS       bool     // the RST carries the timestamps option
	TSInUse     bool     // the claimed sender put the timestamps option in its other segments
	Verdict     string   // "middlebox", "endpoint" or "unknown"
	Reasons     []string // the evidence behind the verdict, one fact each
}

// KeepaliveStats summarises the keepalive probes one side sent.
type KeepaliveStats struct {
	Probes           int           // keepalive probes sent
	Acks             int           // keepalive ACKs the peer sent in reply
	ZeroWindowProbes int           // probes sent while the peer's window was 0 (not keepalives)
	IdleBeforeFirst  time.Duration // silence before the first probe (≈ TCP_KEEPIDLE); 0 when no probe
	MinInterval      time.Duration // shortest spacing between two probes; 0 with fewer than two
	MaxInterval      time.Duration // longest spacing between two probes
	MeanInterval     time.Duration // mean spacing between probes
	Settings         KeepaliveSettings
}

// MaxListed is the most long gaps, and the most findings of one kind, a
// flow lists: the first MaxListed-1 and the latest; the rest are counted.
// A connection kept open for hours, silent past the threshold again and
// again, would otherwise hold a gap and a finding for every silence, and
// memory would follow the capture's length rather than the flows alive at
// once. The latest stays listed because it is the one a flow dies of.
const MaxListed = 8

// Flow is the summary of one TCP connection.
type Flow struct {
	Index          int // order of first appearance in the capture, from 0
	Client, Server netip.AddrPort
	First, Last    time.Time
	HandshakeSeen  bool
	State          State
	Packets        uint64    // segments, duplicates excluded
	Bytes          [2]uint64 // payload bytes sent, indexed by Side
	Retransmitted  [2]uint64 // retransmitted segments, indexed by Side
	Resets         [2]uint64 // RSTs carrying each side's address, indexed by Side
	// MaxGap is the longest silence between packets that restart the
	// middlebox's idle timer; for a flow still open at the capture end,
	// the silence up to it (IdleAtEnd) counts too.
	MaxGap    time.Duration
	MaxGapAt  time.Time     // when the longest gap began
	IdleAtEnd time.Duration // silence from the last packet to the capture end; 0 for closed flows
	Keepalive [2]KeepaliveStats
	Gaps      []Gap // the gaps at or above the threshold, at most MaxListed
	Findings  []Finding
	// GapsNotListed and FindingsNotListed count the long gaps and the
	// findings of each kind past MaxListed, left out of Gaps and Findings;
	// FindingsNotListed is nil when none is.
	GapsNotListed     int
	FindingsNotListed map[Kind]int
	Evicted           bool      // dropped from the flow table early (see Config.MaxFlows)
	ISN               [2]uint32 // initial sequence numbers, indexed by Side, when SYNSeen
	SYNSeen           [2]bool   // the side's SYN (or SYN-ACK) was captured
}

// Outcome is what followed a long gap.
type Outcome string

// Outcomes of a long gap.
const (
	Survived   Outcome = "survived"   // the peer answered normally after it
	WasReset   Outcome = "reset"      // a RST ended the flow
	Blackholed Outcome = "blackholed" // data after it was retransmitted, never acknowledged
	WasClosed  Outcome = "closed"     // a FIN ended it while a request was outstanding
	Hung       Outcome = "hung"       // still silent at capture end with a request outstanding
	Unresolved Outcome = "unresolved" // the capture does not say
)

// Gap is one silence at or above the threshold.
type Gap struct {
	Start, End time.Time
	Duration   time.Duration
	EndedBy    string // data, keepalive, ack, fin, reset, capture-end
	Outcome    Outcome
}

// Stats counts what the analysis saw.
type Stats struct {
	Segments   uint64 // segments analysed
	Duplicates uint64 // the same segment captured twice (e.g. tcpdump -i any on a router), ignored
	Flows      int    // flows seen
	Evicted    int    // flows dropped early because the table was full
	MaxLive    int    // most flows tracked at once
}

// Result is the outcome of an analysis.
type Result struct {
	Threshold  time.Duration
	Middlebox  *Middlebox // the preset in use; nil when none
	CaptureEnd time.Time
	Flows      Flows // flows with findings, or every flow with Config.KeepAll; in order of first appearance
	Stats      Stats
	Inference  Inference
}

// Inference brackets the middlebox timeout from the gaps of all flows, at
// any threshold: a gap a flow survived bounds the timeout from below, a gap
// followed by a middlebox's RST or a black hole bounds it from above.
type Inference struct {
	Survived   time.Duration // the longest gap after which a flow carried on normally; 0 when none
	SurvivedBy int           // flows that survived a gap within 10 % of that
	Fatal      time.Duration // the shortest gap followed by a middlebox's RST or a black hole; 0 when none
	FatalBy    int           // flows that died after a gap within 10 % of that
	Endings    []Expiry      // how the fatal gaps ended on the wire, in a fixed order
	Matches    []string      // presets whose timeout lies in the bracket and whose behaviour fits the endings
	Conflict   string        // how the evidence contradicts the threshold under test; empty when it does not
}
