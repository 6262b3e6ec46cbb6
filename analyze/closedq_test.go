package analyze

import "testing"

// TestClosedQueue pushes and pops refs in runs of many lengths across
// block boundaries, against a slice, and checks the queue hands back the
// same refs in the same order, at and after the front, and keeps no more
// blocks than its refs fill, and one spare.
func TestClosedQueue(t *testing.T) {
	var q closedQueue
	var want []closedRef
	next := uint32(0)
	for round, run := range []int{1, 3, closedBlock - 1, closedBlock, closedBlock + 1, 2*closedBlock + 7, 5, closedBlock * 3} {
		for range run {
			next++
			r := closedRef{hash: next, index: next * 3, last: int64(next)}
			q.push(r)
			want = append(want, r)
		}
		if q.len() != len(want) {
			t.Fatalf("round %d: len %d, want %d", round, q.len(), len(want))
		}
		for i := 0; i < len(want); i += 1 + len(want)/50 {
			if got := q.at(i); got != want[i] {
				t.Fatalf("round %d: at(%d) = %+v, want %+v", round, i, got, want[i])
			}
		}
		// Pop all but a few, or all every third round.
		keep := min(len(want), 2)
		if round%3 == 2 {
			keep = 0
		}
		for len(want) > keep {
			if got := q.at(0); got != want[0] {
				t.Fatalf("round %d: front %+v, want %+v", round, got, want[0])
			}
			q.pop()
			want = want[1:]
		}
		if blocks := (q.head + q.len() + closedBlock - 1) / closedBlock; len(q.blocks) != blocks {
			t.Fatalf("round %d: %d refs from %d in %d blocks, want %d", round, q.len(), q.head, len(q.blocks), blocks)
		}
	}
}
