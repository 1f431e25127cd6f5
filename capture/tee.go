package capture

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// Tee lets several pipelines read one source: a camera or helper opened
// once feeds paths that encode its frames differently (an MJPEG path and
// an H.264 path of the same camera), each encoding once for all its
// viewers. Every frame goes to every branch; the source's buffer goes back
// when the last branch releases it. There is no goroutine of its own:
// whichever branch needs a frame first reads the source and hands copies
// to the others, so a branch that is busy encoding never holds the rest
// back, and one that falls behind loses its oldest frame.
type Tee struct {
	src  Source
	turn chan struct{} // held by the branch reading the source

	mu       sync.Mutex
	branches map[*teeBranch]struct{}
	closed   bool
	ended    bool // the source said ErrEnded: every branch hears it
}

// teeDepth is how many frames wait for a branch before its oldest goes.
const teeDepth = 2

// NewTee shares src; it closes src when its last branch closes.
func NewTee(src Source) *Tee {
	t := &Tee{src: src, turn: make(chan struct{}, 1), branches: map[*teeBranch]struct{}{}}
	t.turn <- struct{}{}
	return t
}

// Branch adds a reader. ok is false once the tee has closed (its last
// branch went), and a new tee must open the source again.
func (t *Tee) Branch() (src Source, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, false
	}
	b := &teeBranch{t: t, q: make(chan *Frame, teeDepth)}
	t.branches[b] = struct{}{}
	return b, true
}

// Source is the shared source, for what it says about itself (codec,
// parameter sets, reconnects).
func (t *Tee) Source() Source { return t.src }

// Branches counts the open branches.
func (t *Tee) Branches() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.branches)
}

// read takes one frame from the source for branch b and queues a copy for
// every other branch. Called with the turn held.
func (t *Tee) read(ctx context.Context, b *teeBranch) (*Frame, error) {
	t.mu.Lock()
	ended := t.ended
	t.mu.Unlock()
	if ended {
		return nil, ErrEnded
	}
	f, err := t.src.Next(ctx)
	if err != nil {
		if errors.Is(err, ErrEnded) {
			t.mu.Lock()
			t.ended = true
			t.mu.Unlock()
		}
		return nil, err
	}
	t.mu.Lock()
	others := make([]*teeBranch, 0, len(t.branches))
	for o := range t.branches {
		if o != b {
			others = append(others, o)
		}
	}
	t.mu.Unlock()
	share := &sharedFrame{f: f}
	share.refs.Store(int32(len(others) + 1))
	for _, o := range others {
		o.offer(share.copy())
	}
	return share.copy(), nil
}

func (t *Tee) remove(b *teeBranch) error {
	t.mu.Lock()
	delete(t.branches, b)
	last := len(t.branches) == 0 && !t.closed
	if last {
		t.closed = true
	}
	t.mu.Unlock()
	if last {
		return t.src.Close()
	}
	return nil
}

// sharedFrame counts the branches still holding a source frame.
type sharedFrame struct {
	f    *Frame
	refs atomic.Int32
}

// copy is one branch's view of the frame; its Release counts down.
func (s *sharedFrame) copy() *Frame {
	c := *s.f
	c.release = func(*Frame) {
		if s.refs.Add(-1) == 0 {
			s.f.Release()
		}
	}
	return &c
}

type teeBranch struct {
	t      *Tee
	q      chan *Frame
	closed atomic.Bool
}

// offer queues f, dropping the oldest waiting frame when the branch is a
// queue behind.
func (b *teeBranch) offer(f *Frame) {
	for {
		select {
		case b.q <- f:
			if b.closed.Load() {
				b.drain()
			}
			return
		default:
		}
		select {
		case old := <-b.q:
			old.Release()
		default:
		}
	}
}

func (b *teeBranch) drain() {
	for {
		select {
		case f := <-b.q:
			f.Release()
		default:
			return
		}
	}
}

// Next returns a frame another branch read for this one, or reads the
// source itself when no other branch is.
func (b *teeBranch) Next(ctx context.Context) (*Frame, error) {
	select {
	case f := <-b.q:
		return f, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-b.t.turn:
	}
	defer func() { b.t.turn <- struct{}{} }()
	select {
	case f := <-b.q: // read for us while we waited for the turn
		return f, nil
	default:
	}
	return b.t.read(ctx, b)
}

func (b *teeBranch) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	err := b.t.remove(b)
	b.drain()
	return err
}

// Codec and ParameterSets say what the shared source gives.
func (b *teeBranch) Codec() Codec { return CodecOf(b.t.src) }

func (b *teeBranch) ParameterSets() [][]byte {
	if ps, ok := b.t.src.(interface{ ParameterSets() [][]byte }); ok {
		return ps.ParameterSets()
	}
	return nil
}

// Shared is the source behind the branch.
func (b *teeBranch) Shared() Source { return b.t.src }
