package main

import "testing"

func TestRoundTrip(t *testing.T) {
	cpus, err := allowedCPUs()
	if err != nil {
		t.Skip("the processors cannot be listed:", err)
	}
	if len(cpus) < 2 {
		t.Skip("the test may run on one processor only")
	}
	ns, err := roundTrip(cpus[0], cpus[1], 10000)
	if err != nil {
		t.Fatal(err)
	}
	// A round trip is two cache-line transfers: more than a nanosecond,
	// and far less than the millisecond a descheduled thread would take.
	if ns < 1 || ns > 1e6 {
		t.Errorf("round trip of %.1f ns", ns)
	}
}

// TestRoundTripBadCPU binds to a processor that does not exist: an
// error on either side, and neither thread left spinning.
func TestRoundTripBadCPU(t *testing.T) {
	cpus, err := allowedCPUs()
	if err != nil || len(cpus) == 0 {
		t.Skip("the processors cannot be listed")
	}
	const missing = 1000 // beyond any processor the test runs on
	for _, pair := range [][2]int{{cpus[0], missing}, {missing, cpus[0]}} {
		done := make(chan error, 1)
		go func() {
			_, err := roundTrip(pair[0], pair[1], 1000)
			done <- err
		}()
		if err := <-done; err == nil {
			t.Errorf("round trip between %d and %d: no error", pair[0], pair[1])
		}
	}
}
