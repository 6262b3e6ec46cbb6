package analyze

import (
	"time"
)

// Expiry is what a middlebox does when a flow's idle timer runs out.
type Expiry string

// Behaviours at expiry; they decide which on-wire signature to expect.
const (
	ResetNextPacket Expiry = "rst-next-packet" // forgets silently, answers the next packet from either side with a RST
	SilentDrop      Expiry = "silent-drop"     // forgets silently, drops later packets (black hole)
	ResetBoth       Expiry = "rst-both"        // sends a RST to both ends at expiry
	L7Close         Expiry = "l7-close"        // a proxy closes the connection (FIN, or an HTTP 5xx first)
)

// Middlebox is a preset: a device's documented idle timeout and behaviour.
type Middlebox struct {
	Name             string        // preset name for --middlebox
	Title            string        // product name for messages
	Idle             time.Duration // documented default idle timeout
	Range            string        // how and how far it can be changed; empty when it cannot
	ProbesResetTimer bool          // bare TCP keepalive probes restart its timer
	Expiry           Expiry
	Source           string // where the facts come from
}

// Middleboxes lists the presets whose facts are documented, in a fixed order.
// Rows whose behaviour is not documented by the vendor are left out.
var Middleboxes = []Middlebox{
	{"aws-nlb", "AWS Network Load Balancer (TCP listener)", 350 * time.Second, "listener attribute tcp.idle_timeout.seconds, 60-6000 s", true, ResetNextPacket,
		"https://docs.aws.amazon.com/elasticloadbalancing/latest/network/update-idle-timeout.html"},
	{"aws-nat-gateway", "AWS NAT Gateway", 350 * time.Second, "", true, ResetNextPacket,
		"https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-troubleshooting.html"},
	{"aws-gwlb", "AWS Gateway Load Balancer", 350 * time.Second, "60-6000 s with 5-tuple stickiness", true, SilentDrop,
		"https://docs.aws.amazon.com/elasticloadbalancing/latest/gateway/gateway-load-balancers.html"},
	{"aws-network-firewall", "AWS Network Firewall", 350 * time.Second, "TcpIdleTimeoutSeconds, 60-6000 s", true, SilentDrop,
		"https://docs.aws.amazon.com/network-firewall/latest/APIReference/API_FlowTimeouts.html"},
	{"aws-alb", "AWS Application Load Balancer", 60 * time.Second, "idle_timeout.timeout_seconds, 1-4000 s", false, L7Close,
		"https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html"},
	{"aws-clb", "AWS Classic Load Balancer", 60 * time.Second, "ConnectionSettings.IdleTimeout, 1-3600 s", false, L7Close,
		"https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/config-idle-timeout.html"},
	{"azure-lb", "Azure Load Balancer", 240 * time.Second, "4-100 min", true, SilentDrop,
		"https://learn.microsoft.com/azure/load-balancer/load-balancer-tcp-idle-timeout"},
	{"azure-lb-tcp-reset", "Azure Load Balancer with TCP reset on idle", 240 * time.Second, "4-100 min", true, ResetBoth,
		"https://learn.microsoft.com/azure/load-balancer/load-balancer-tcp-reset"},
	{"azure-nat-gateway", "Azure NAT Gateway", 240 * time.Second, "4-120 min", true, SilentDrop,
		"https://learn.microsoft.com/azure/nat-gateway/nat-gateway-resource"},
	{"gcp-cloud-nat", "GCP Cloud NAT", 1200 * time.Second, "tcpEstablishedIdleTimeoutSec", true, SilentDrop,
		"https://cloud.google.com/compute/docs/reference/rest/v1/routers"},
	{"gcp-ilb", "GCP internal passthrough Network Load Balancer", 600 * time.Second, "connectionTrackingPolicy.idleTimeoutSec, 600 s-16 h", true, SilentDrop,
		"https://cloud.google.com/compute/docs/reference/rest/v1/backendServices"},
	{"gcp-external-nlb", "GCP external passthrough Network Load Balancer", 60 * time.Second, "connectionTrackingPolicy.idleTimeoutSec", true, SilentDrop,
		"https://cloud.google.com/compute/docs/reference/rest/v1/backendServices"},
	{"linux-conntrack", "Linux conntrack (nf_conntrack_tcp_timeout_established)", 432000 * time.Second, "sysctl net.netfilter.nf_conntrack_tcp_timeout_established", true, SilentDrop,
		"https://docs.kernel.org/networking/nf_conntrack-sysctl.html"},
	{"kube-proxy-conntrack", "kube-proxy conntrack setting", 24 * time.Hour, "--conntrack-tcp-timeout-established", true, SilentDrop,
		"https://kubernetes.io/docs/reference/command-line-tools-reference/kube-proxy/"},
	{"ipvs", "IPVS (kube-proxy IPVS mode, Docker Swarm VIP)", 900 * time.Second, "ipvsadm --set; kube-proxy --ipvs-tcp-timeout", true, SilentDrop,
		"https://github.com/moby/moby/issues/31208"},
	{"cisco-asa", "Cisco ASA", time.Hour, "timeout conn, or set connection timeout idle", true, SilentDrop,
		"https://www.cisco.com/c/en/us/support/docs/security/asa-5500-x-series-next-generation-firewalls/222075"},
	{"paloalto", "Palo Alto Networks firewall", time.Hour, "TCP session timeout, 1-15999999 s", true, SilentDrop,
		"https://docs.paloaltonetworks.com/pan-os"},
	{"fortigate", "Fortinet FortiGate", time.Hour, "config system session-ttl", true, SilentDrop,
		"https://docs.fortinet.com/document/fortigate/latest/cli-reference"},
	{"f5-fastl4", "F5 BIG-IP FastL4 profile", 300 * time.Second, "idleTimeout", true, ResetBoth,
		"https://clouddocs.f5.com/products/extensions/f5-appsvcs-extension/latest/refguide/schema-reference.html"},
	{"nginx", "nginx proxy_read_timeout", 60 * time.Second, "proxy_read_timeout", false, L7Close,
		"https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_read_timeout"},
	{"cloudflare", "Cloudflare proxy (origin response timeout, HTTP 524)", 100 * time.Second, "Enterprise plans only", false, L7Close,
		"https://developers.cloudflare.com/support/troubleshooting/http-status-codes/cloudflare-5xx-errors/error-524/"},
}

// LookupMiddlebox returns the preset with the given name.
func LookupMiddlebox(name string) (*Middlebox, bool) {
	for i := range Middleboxes {
		if Middleboxes[i].Name == name {
			return &Middleboxes[i], true
		}
	}
	return nil, false
}
