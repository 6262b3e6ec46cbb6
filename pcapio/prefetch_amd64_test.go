package pcapio

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestCPUHasPrefetchW checks the CPUID test against the flags Linux lists
// for the processor, where PREFETCHW is "3dnowprefetch".
func TestCPUHasPrefetchW(t *testing.T) {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skip("no /proc/cpuinfo to check against:", err)
	}
	for line := range strings.Lines(string(info)) {
		name, flags, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != "flags" {
			continue
		}
		want := slices.Contains(strings.Fields(flags), "3dnowprefetch")
		if got := cpuHasPrefetchW(); got != want {
			t.Errorf("cpuHasPrefetchW() = %v; /proc/cpuinfo lists 3dnowprefetch: %v", got, want)
		}
		return
	}
	t.Skip("/proc/cpuinfo lists no flags")
}
