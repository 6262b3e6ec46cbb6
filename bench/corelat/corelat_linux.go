package main

import (
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// allowedCPUs lists the processors the process may run on.
func allowedCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, err
	}
	var cpus []int
	for cpu := 0; cpu < len(set)*64; cpu++ {
		if set.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	return cpus, nil
}

// bind binds the calling goroutine's thread to cpu; the thread is not
// given back, and ends with the goroutine.
func bind(cpu int) error {
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	return unix.SchedSetaffinity(0, &set)
}

// roundTrip bounces a word between a thread on cpu a and one on cpu b n
// times and returns the mean time of a round trip in nanoseconds. The
// calling goroutine stays bound to a.
func roundTrip(a, b, n int) (float64, error) {
	var turn atomic.Int64 // odd: b's turn; even: a's; -1: one side failed
	errc := make(chan error, 1)
	go func() {
		if err := bind(b); err != nil {
			turn.Store(-1)
			errc <- err
			return
		}
		for i := int64(1); i <= int64(n); i++ {
			if !await(&turn, 2*i-1) {
				break
			}
			turn.Store(2 * i)
		}
		errc <- nil
	}()
	if err := bind(a); err != nil {
		turn.Store(-1)
		<-errc
		return 0, err
	}
	start := time.Now()
	for i := int64(1); i <= int64(n); i++ {
		turn.Store(2*i - 1)
		if !await(&turn, 2*i) {
			break
		}
	}
	elapsed := time.Since(start)
	if err := <-errc; err != nil {
		return 0, err
	}
	return float64(elapsed.Nanoseconds()) / float64(n), nil
}

// await spins until turn holds want, and reports false if it turns -1
// instead.
func await(turn *atomic.Int64, want int64) bool {
	for {
		switch turn.Load() {
		case want:
			return true
		case -1:
			return false
		}
	}
}
