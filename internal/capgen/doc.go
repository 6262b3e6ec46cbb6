// Package capgen writes small synthetic packet captures of scripted TCP
// conversations, for tests.
//
// A [Conn] scripts one TCP connection packet by packet: the handshake, data,
// pure ACKs, keepalive probes and their ACKs, zero-window advertisements and
// probes, retransmissions, FINs and RSTs, each at a chosen offset from the
// conversation's start. It keeps sequence and acknowledgement numbers, IPv4
// IDs, TCP timestamps and windows consistent the way a real stack would, so a
// script only says what happens and when. The result is a list of IP packets
// ([Packet]).
//
// A [Link] frames packets for a link type (Ethernet with optional 802.1Q and
// 802.1ad tags, Linux cooked v1 and v2, raw IP, BSD loopback) into
// records ([Record]), which [WritePcap] and [WritePcapng] write to files. [Merge]
// interleaves several conversations by time, [Split] cuts one capture in two
// at a time boundary as rotating capture tools do, [Forward] copies a packet
// as a router would send it on, and [Gzip] compresses a finished file.
//
// Everything is deterministic: there is no randomness and no clock, payload
// bytes follow a fixed pattern, and conversations start at [BaseTime] unless
// told otherwise, so the same script gives byte-identical files every time.
//
// # What it does not do
//
// capgen models what crosses one capture point; it does not simulate a TCP
// stack. It does not check that a script is plausible (a Keepalive in the
// middle of a data burst is written as asked), it sends each Send as one
// segment whatever its size, and it assumes every segment reaches the peer:
// each segment acknowledges everything the peer has sent so far.
//
// # Sharp edges
//
// Conn methods panic on misuse (a time before the previous packet, a Dir
// other than [Client] or [Server], a retransmission with nothing to
// retransmit): scripts are code, and a wrong script is a bug in a test.
//
// The pcapgo package of gopacket v1.1.19 stores link types in a uint8, so it
// reads [LinkSLL2] (276) back as 20; read the file header to get it.
package capgen
