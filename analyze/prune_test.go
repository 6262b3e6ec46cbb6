package analyze

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPrunedGapsInferTheSame checks that the gaps noteGaps prunes away
// change nothing infer says: the bracket, how many flows are near each
// bound and the endings seen.
func TestPrunedGapsInferTheSame(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		pruned, all := New(Config{}), New(Config{})
		spread := time.Duration(1 + rng.IntN(600))
		for range rng.IntN(5000) {
			var s time.Duration
			if rng.IntN(3) > 0 {
				s = time.Duration(rng.Int64N(int64(spread*time.Second))) + 1
			}
			var f fatalGap
			if rng.IntN(8) == 0 {
				f = fatalGap{time.Duration(rng.Int64N(int64(spread*time.Second))) + 1, uint8(rng.IntN(len(endings)))}
			}
			pruned.noteGaps(s, f)
			if s > 0 {
				all.survived = append(all.survived, s)
			}
			if f.gap > 0 {
				all.fatal = append(all.fatal, f)
			}
		}
		if diff := cmp.Diff(all.infer(), pruned.infer()); diff != "" {
			t.Errorf("seed %d: inference (-all +pruned):\n%s", seed, diff)
		}
		if n := len(pruned.survived) + len(pruned.fatal); len(all.survived) > 1000 && n > len(all.survived)/2 {
			t.Errorf("seed %d: %d gaps kept of %d", seed, n, len(all.survived)+len(all.fatal))
		}
	}
}
