package analyze

// closedQueue holds the flows that closed, oldest first, in blocks of
// closedBlock refs, so that it grows and shrinks without copying: a
// million closed flows waiting out their linger take 24 MB, not that again
// in the copies a growing slice leaves behind for the collector.
type closedQueue struct {
	blocks [][]closedRef // full blocks but the last; the first begins at head
	head   int           // the front's place in blocks[0]
	n      int           // refs held
	spare  []closedRef   // a block emptied, to use again
}

// closedBlock is how many refs a block holds.
const closedBlock = 4096

// len returns how many refs the queue holds.
func (q *closedQueue) len() int { return q.n }

// at returns the i-th ref from the front.
func (q *closedQueue) at(i int) closedRef {
	i += q.head
	return q.blocks[i/closedBlock][i%closedBlock]
}

// push adds r at the back.
func (q *closedQueue) push(r closedRef) {
	if k := len(q.blocks); k == 0 || len(q.blocks[k-1]) == closedBlock {
		b := q.spare
		q.spare = nil
		if b == nil {
			b = make([]closedRef, 0, closedBlock)
		}
		q.blocks = append(q.blocks, b)
	}
	last := &q.blocks[len(q.blocks)-1]
	*last = append(*last, r)
	q.n++
}

// pop removes the front ref.
func (q *closedQueue) pop() {
	q.head++
	q.n--
	if q.head == closedBlock || q.n == 0 {
		q.spare = q.blocks[0][:0]
		q.blocks[0] = nil
		q.blocks = q.blocks[1:]
		q.head = 0
	}
}
