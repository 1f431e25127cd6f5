package impair

// item is a queued frame. seq breaks ties so frames with equal release
// times leave in arrival order.
type item struct {
	at  int64
	seq uint64
	buf *[]byte
}

// frameHeap is a min-heap by (at, seq). Hand-written rather than
// container/heap to avoid boxing every item in an interface.
type frameHeap struct{ items []item }

func (h *frameHeap) Len() int   { return len(h.items) }
func (h *frameHeap) peek() item { return h.items[0] }

func (h *frameHeap) less(i, j int) bool {
	a, b := &h.items[i], &h.items[j]
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

func (h *frameHeap) push(it item) {
	h.items = append(h.items, it)
	for i := len(h.items) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h.items[i], h.items[parent] = h.items[parent], h.items[i]
		i = parent
	}
}

func (h *frameHeap) pop() item {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items[last] = item{}
	h.items = h.items[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && h.less(l, m) {
			m = l
		}
		if r < last && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
	return top
}
