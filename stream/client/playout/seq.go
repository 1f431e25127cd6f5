package playout

// unwrapper extends a wrapping counter of the given width to 64 bits, as RFC
// 3550 appendix A.1 does for sequence numbers: a value is taken to be the one
// nearest to the highest value accepted so far, forwards or backwards.
type unwrapper struct {
	bits    uint // width of the wire value: 16 or 32
	max     int64
	started bool
}

// extend returns the extended value of v without accepting it, so a packet
// that is then discarded does not move the reference.
func (u *unwrapper) extend(v uint32) int64 {
	if !u.started {
		return int64(v)
	}
	// The wire difference, sign-extended from its width, is the shortest
	// signed distance from max.
	shift := 64 - u.bits
	d := int64((uint64(v)-uint64(u.max))<<shift) >> shift
	return u.max + d
}

// accept records an extended value as seen.
func (u *unwrapper) accept(ext int64) {
	if !u.started || ext > u.max {
		u.max, u.started = ext, true
	}
}

// window is how many sequence numbers behind the highest the buffer still
// recognises as duplicates. Half the 16-bit space: beyond that an extended
// sequence number is ambiguous anyway.
const window = 1 << 15

// seqWindow remembers which of the last window sequence numbers were seen,
// whether the packet is still held or already played or dropped, so a copy
// from a slower path is recognised after its frame has left the buffer.
type seqWindow struct {
	unwrapper
	seen [window / 64]uint64
}

func newSeqWindow() seqWindow { return seqWindow{unwrapper: unwrapper{bits: 16}} }

// tooOld reports a sequence number so far behind that the window no longer
// says whether it was seen.
func (w *seqWindow) tooOld(ext int64) bool {
	return w.started && ext <= w.max-window
}

// has reports whether ext was accepted. A slot holds one of several sequence
// numbers a window apart, so only those in the window are answered for.
func (w *seqWindow) has(ext int64) bool {
	if !w.started || ext > w.max || w.tooOld(ext) {
		return false
	}
	return w.seen[ext&(window-1)/64]&(1<<(ext&63)) != 0
}

// add accepts ext, first clearing the slots max+1..ext it takes over from
// sequence numbers a window older.
func (w *seqWindow) add(ext int64) {
	if w.started && ext > w.max {
		w.clear(w.max+1, ext)
	}
	w.accept(ext)
	w.seen[ext&(window-1)/64] |= 1 << (ext & 63)
}

func (w *seqWindow) clear(from, to int64) {
	if to-from >= window {
		w.seen = [window / 64]uint64{}
		return
	}
	for s := from; s <= to; {
		if s&63 == 0 && to-s >= 63 { // a whole word at once
			w.seen[s&(window-1)/64] = 0
			s += 64
			continue
		}
		w.seen[s&(window-1)/64] &^= 1 << (s & 63)
		s++
	}
}
