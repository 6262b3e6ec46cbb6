// Package pcapio reads packet captures and decodes them into TCP segments.
//
// It knows capture file formats (classic pcap in both byte orders with
// micro- or nanosecond timestamps, the modified pcap variant, and pcapng with
// any number of interfaces), gzip and zstd compression, the link-layer
// framings, tags and tunnels a TCP segment travels in ([Decode] lists
// them) and the IPv4, IPv6 and TCP header layouts. Nothing after it needs
// those layouts: a [Source] yields [Segment] values.
//
// # Writing
//
// To copy packets out of a capture (the evidence a report points at),
// [Source.Raw] gives the frame behind the last segment, [Offsets] where its
// headers end, [MapAddrs] rewrites its IP addresses, and a [Writer] writes
// frames as classic pcap or, for several interfaces, pcapng.
//
// # Speed
//
// Each file is read in 1 MiB chunks, parsed and decoded a few batches ahead
// of [Source.Next] on a goroutine of its own, and a gzip or zstd layer is
// removed on another, so that reading overlaps the caller's work on a second
// core; a packet costs no allocation. On amd64 that goroutine asks for the
// cache lines it is about to write ahead of time, so that it does not wait
// for each to come back from the caller's core. [Source.Close] stops the
// goroutines, and
// [Source.Progress] tells how far reading has got, for a progress bar.
//
// # Damage
//
// A capture cut off or corrupted part-way is read up to the damage; the
// damage is reported in [FileInfo].Damage, from [Source.Files], with the byte
// offset and packet number where reading stopped, and the run goes on with
// the other files.
// A file that is not a capture at all is an error from [Open].
//
// # Sharp edges
//
// Packets that are not TCP, IP fragments and packets whose headers were cut
// by the snap length are counted in [Stats], never fatal. Segment payload
// lengths come from the IP header, so a capture taken with a small snap
// length (tcpdump -s 128) still tracks sequence numbers exactly.
// A Segment is filled in place; nothing in it aliases the read buffer.
package pcapio
