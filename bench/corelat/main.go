// Command corelat measures how long a cache line takes to go from one
// processor to another and back: two threads, each bound to one of the
// first two processors the process may run on, take turns writing one
// shared word, and corelat prints the median round trip of five rounds in
// nanoseconds.
//
// bench/run.sh prints it with its timings. On a virtual machine the two
// processors may share a cache at one time and sit on two dies or
// sockets at another; the round trip tells which, and with it how much
// hangdiag's two goroutines, which hand each other every packet's
// segment, can gain over one (bench/NOTES.md).
//
// Usage: go run ./bench/corelat
package main

import (
	"fmt"
	"os"
	"slices"
)

// trips is how many round trips a round times.
const trips = 1_000_000

func main() {
	cpus, err := allowedCPUs()
	if err != nil {
		fmt.Fprintln(os.Stderr, "corelat:", err)
		os.Exit(1)
	}
	if len(cpus) < 2 {
		fmt.Fprintln(os.Stderr, "corelat: the process may run on one processor only")
		os.Exit(1)
	}
	rounds := make([]float64, 5)
	for i := range rounds {
		ns, err := roundTrip(cpus[0], cpus[1], trips)
		if err != nil {
			fmt.Fprintln(os.Stderr, "corelat:", err)
			os.Exit(1)
		}
		rounds[i] = ns
	}
	slices.Sort(rounds)
	fmt.Printf("%.0f\n", rounds[len(rounds)/2])
}
