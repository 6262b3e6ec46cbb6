package pcapio

import "strconv"

var linkNames = map[uint16]string{
	0: "NULL", 1: "EN10MB", 9: "PPP", 10: "FDDI", 12: "RAW", 14: "RAW", 50: "PPP_HDLC",
	51: "PPP_ETHER", 101: "RAW", 104: "C_HDLC", 105: "IEEE802_11", 108: "LOOP",
	113: "LINUX_SLL", 119: "PRISM_HEADER", 127: "IEEE802_11_RADIO", 129: "ARCNET_LINUX",
	143: "DOCSIS", 147: "USER0", 163: "IEEE802_11_RADIO_AVS", 178: "JUNIPER_ETHER", 187: "BLUETOOTH_HCI_H4",
	192: "PPI", 195: "IEEE802_15_4", 197: "ERF", 201: "BLUETOOTH_HCI_H4_WITH_PHDR",
	220: "USB_LINUX_MMAPPED", 228: "IPV4", 229: "IPV6", 239: "NFLOG", 242: "IPOIB",
	249: "USBPCAP", 253: "NETLINK", 258: "PKTAP", 276: "LINUX_SLL2",
}

// LinkName returns the short name of a link type as tcpdump prints it
// ("EN10MB", "LINUX_SLL2"), or "LINKTYPE_n" for one it does not know.
func LinkName(link uint16) string {
	if n, ok := linkNames[link]; ok {
		return n
	}
	return "LINKTYPE_" + strconv.Itoa(int(link))
}

// LinkSupported reports whether Decode understands the link type.
func LinkSupported(link uint16) bool {
	switch link {
	case LinkNull, LinkEthernet, LinkRaw12, LinkRaw14, LinkRaw, LinkLoop, LinkSLL, LinkIPv4, LinkIPv6, LinkSLL2,
		LinkPPP, LinkPPPHDLC, LinkPPPoE, LinkCHDLC, LinkNFLOG,
		LinkFDDI, LinkIEEE80211, LinkPrism, LinkRadiotap, LinkARCNETLinux, LinkAVS, LinkJuniperEther, LinkPPI, LinkIPoIB, LinkPKTAP:
		return true
	}
	return false
}

// Link80211 reports whether frames of the link type are 802.11 frames,
// bare or after a radio header: a monitor-mode capture of a wireless
// network, whose protected data frames are encrypted.
func Link80211(link uint16) bool {
	switch link {
	case LinkIEEE80211, LinkPrism, LinkRadiotap, LinkAVS, LinkPPI:
		return true
	}
	return false
}
