// Command goclient makes one HTTP GET, with or without TCP keepalive
// probes, and prints how it ended. The middlebox lab (lab/lab.sh) runs it.
//
//	goclient -url http://198.51.100.2:8080/sleep/10 -timeout 15s -keepalive 0
//	goclient -url http://198.51.100.2:8080/sleep/10 -timeout 15s -keepalive 2s
//
// -keepalive 0 dials with net.Dialer{KeepAlive: -1}: no probes at all.
// A positive value sends the first probe after that much idleness and
// the next ones at the same interval (net.KeepAliveConfig), 3 at most.
// It exits 1 if the request failed.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	url := flag.String("url", "", "URL to GET")
	timeout := flag.Duration("timeout", 30*time.Second, "overall request timeout (http.Client.Timeout)")
	keepalive := flag.Duration("keepalive", 0, "TCP keepalive idle time and interval; 0 disables probes")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "goclient: -url is required")
		os.Exit(2)
	}

	dialer := &net.Dialer{Timeout: 3 * time.Second, KeepAlive: -1}
	if *keepalive > 0 {
		dialer.KeepAliveConfig = net.KeepAliveConfig{
			Enable:   true,
			Idle:     *keepalive,
			Interval: *keepalive,
			Count:    3,
		}
	}
	tr := &http.Transport{DialContext: dialer.DialContext}
	client := &http.Client{Transport: tr, Timeout: *timeout}

	start := time.Now()
	resp, err := client.Get(*url)
	if err != nil {
		fmt.Printf("error after %.1fs: %v\n", time.Since(start).Seconds(), err)
		os.Exit(1)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	tr.CloseIdleConnections()
	if err != nil {
		fmt.Printf("error reading body after %.1fs: %v\n", time.Since(start).Seconds(), err)
		os.Exit(1)
	}
	fmt.Printf("ok %s %q after %.1fs\n", resp.Status, body, time.Since(start).Seconds())
}
