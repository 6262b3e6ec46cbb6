// Package anon replaces IP addresses by stand-ins, so that captures and
// reports can leave an organisation without saying who talked to whom.
//
// The mapping is consistent and prefix-preserving: under one key the same
// address always gets the same stand-in, and two addresses whose first n
// bits agree get stand-ins whose first n bits agree, and no more. Hosts of
// one subnet stay in one subnet, and, under one key, a router's view and an
// endpoint's view of the same flows still match. The construction is that of Crypto-PAn
// (Xu, Fan, Ammar, Moon, 2002), with HMAC-SHA256 in place of AES.
//
// # Scheme
//
// For an address of n bits a[0..n-1] (32 for IPv4, 128 for IPv6), bit i of
// the stand-in is a[i] XOR the first bit of
//
//	HMAC-SHA256(key, family || i || a[0..i-1])
//
// where family is the byte 4 or 6, so that the two families are separate
// mappings, i is one byte, and a[0..i-1] is the address's 4 or 16 bytes
// with bit i and every later bit cleared. Because bit
// i depends only on the bits before it, a shared prefix stays shared; the
// first differing bit still differs.
//
// # Sharp edges
//
// Whoever holds the key can confirm a guessed address by mapping it and
// comparing, so the key stays with the original capture, never with what is
// shared. A short or guessable key can itself be found from one address
// whose stand-in is known: use a long random one.
//
// Special ranges are not kept: a private or loopback address may map to a
// public one. An IPv4-mapped IPv6 address maps as its IPv4 address and
// stays IPv4-mapped. Zones are kept as they are.
package anon
