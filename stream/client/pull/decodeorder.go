package pull

import (
	"cmp"
	"slices"

	"flowcam/stream/client/playout"
)

// decodeOrder gives H.264 frames back in the order they were sent. The
// play-out buffer releases frames by timestamp, which is presentation
// order; a decoder needs decoding order, the order of their sequence
// numbers, and with B-frames the two differ: P3 is sent before B1 and B2,
// which show before it. A frame waits here until every frame sent before
// it has gone out. One that never comes was lost, and the player then
// clears what waits, which could not be decoded without it.
type decodeOrder struct {
	held  []*playout.Frame // by FirstSeq
	next  int64            // FirstSeq of the frame due to go out next
	known bool             // a frame went out: next is set
}

// maxReorder bounds the frames waiting: H.264 reorders at most 16, the
// size of its largest decoded picture buffer.
const maxReorder = 16

// add takes a frame from the play-out buffer and appends to out the
// frames that can now go out, in decoding order. A frame sent before one
// that already went out is refused: it is reported false and dropped.
func (d *decodeOrder) add(f *playout.Frame, out []*playout.Frame) ([]*playout.Frame, bool) {
	if d.known && f.FirstSeq < d.next {
		return out, false
	}
	i, _ := slices.BinarySearchFunc(d.held, f.FirstSeq, func(h *playout.Frame, seq int64) int { return cmp.Compare(h.FirstSeq, seq) })
	d.held = slices.Insert(d.held, i, f)
	if f.Key {
		// Nothing sent after a key frame refers to what came before it,
		// and nothing sent before it shows after it: what waits ahead of
		// it goes now, whatever it still waits for, and the key frame
		// with it.
		for d.held[0] != f {
			out = d.pop(out)
		}
		out = d.pop(out)
	}
	for len(d.held) > 0 && (!d.known || d.held[0].FirstSeq == d.next || len(d.held) > maxReorder) {
		out = d.pop(out)
	}
	return out, true
}

func (d *decodeOrder) pop(out []*playout.Frame) []*playout.Frame {
	f := d.held[0]
	d.held = slices.Delete(d.held, 0, 1)
	d.next, d.known = f.LastSeq+1, true
	return append(out, f)
}

// clear drops the frames waiting and says how many there were.
func (d *decodeOrder) clear() int {
	n := len(d.held)
	clear(d.held)
	d.held = d.held[:0]
	return n
}

// flush ends the wait: the pull is over. The frames that follow on from
// what went out go too; the rest wait for a frame that will not come (cut
// off by the stop), could not be decoded, and are dropped and counted.
func (d *decodeOrder) flush(out []*playout.Frame) ([]*playout.Frame, int) {
	for len(d.held) > 0 && (!d.known || d.held[0].FirstSeq == d.next) {
		out = d.pop(out)
	}
	return out, d.clear()
}
