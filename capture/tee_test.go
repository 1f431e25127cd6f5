package capture

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// counted gives frames whose Release is counted, to see a shared buffer go
// back exactly once, after its last reader.
type counted struct{ released atomic.Int32 }

func (c *counted) frame(seq uint64) *Frame {
	f := raw(byte(seq), seq)
	f.release = func(*Frame) { c.released.Add(1) }
	return f
}

func nextSeq(t *testing.T, s Source) uint64 {
	t.Helper()
	f, err := s.Next(context.Background())
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	defer f.Release()
	return f.Seq
}

func TestTee(t *testing.T) {
	for _, c := range []struct {
		name string
		// reads lists which branch reads next; want is each branch's seqs.
		reads []int
		want  [2][]uint64
	}{
		{"in step", []int{0, 1, 1, 0, 0, 1}, [2][]uint64{{1, 2, 3}, {1, 2, 3}}},
		// Branch 1 is busy while branch 0 reads five frames: it finds the
		// newest two waiting, and the older ones went back to the source.
		{"one behind", []int{0, 0, 0, 0, 0, 1, 1, 1}, [2][]uint64{{1, 2, 3, 4, 5}, {4, 5, 6}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var cnt counted
			src := &scriptedSource{}
			for i := range uint64(8) {
				src.script = append(src.script, cnt.frame(i+1))
			}
			tee := NewTee(src)
			var br [2]Source
			for i := range br {
				br[i], _ = tee.Branch()
			}
			var got [2][]uint64
			for _, i := range c.reads {
				got[i] = append(got[i], nextSeq(t, br[i]))
			}
			for i := range got {
				if !equalSeqs(got[i], c.want[i]) {
					t.Errorf("branch %d read %v, want %v", i, got[i], c.want[i])
				}
			}
			read := max(c.want[0][len(c.want[0])-1], c.want[1][len(c.want[1])-1])
			// Every frame read has been released by every branch, but the
			// ones still queued for a branch.
			queued := int32(0)
			for _, b := range br {
				queued += int32(len(b.(*teeBranch).q))
			}
			if got, want := cnt.released.Load(), int32(read)-queued; got != want {
				t.Errorf("%d source frames released, want %d (%d read, %d still queued)", got, want, read, queued)
			}
			br[0].Close()
			if src.closed {
				t.Fatal("the source closed with a branch still reading")
			}
			br[1].Close()
			if !src.closed {
				t.Fatal("the source stayed open after its last branch closed")
			}
			if got := cnt.released.Load(); got != int32(read) {
				t.Errorf("%d of %d source frames released after both branches closed", got, read)
			}
			if _, ok := tee.Branch(); ok {
				t.Error("a closed tee gave a new branch")
			}
		})
	}
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestTeeEnded: a source that ends says so to every branch.
func TestTeeEnded(t *testing.T) {
	tee := NewTee(&scriptedSource{script: []any{raw(1, 1), ErrEnded}})
	a, _ := tee.Branch()
	b, _ := tee.Branch()
	nextSeq(t, a)
	nextSeq(t, b)
	for i, s := range []Source{a, b} {
		if _, err := s.Next(context.Background()); !errors.Is(err, ErrEnded) {
			t.Errorf("branch %d: %v, want ErrEnded", i, err)
		}
	}
}

// TestTeePipelines runs two pipelines on one source, as two paths of one
// camera do: each encodes every frame, and every source frame goes back.
func TestTeePipelines(t *testing.T) {
	var cnt counted
	src := &scriptedSource{}
	const n = 200
	for i := range uint64(n) {
		src.script = append(src.script, cnt.frame(i+1))
	}
	tee := NewTee(src)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var got [2]atomic.Int32
	// Both branches exist before either pipeline runs: a branch added later
	// rightly gets only what is read after it joined.
	var pipes [2]*Pipeline
	for i := range got {
		br, _ := tee.Branch()
		pipes[i] = NewPipeline(br, tagEncoder{}, func(*Frame) { got[i].Add(1) }, slog.New(slog.DiscardHandler))
	}
	for _, p := range pipes {
		wg.Add(1)
		go func() { defer wg.Done(); p.Run(ctx) }()
	}
	// The script comes at once, not at a camera's pace: the branch that
	// reads runs ahead and the other loses what it could not keep up with.
	// Every frame reaches at least its reader, and every frame read goes
	// back to the source once. The reader may finish the script before the
	// other pipeline is first scheduled, so wait for both to have encoded:
	// the frames queued for the late one are still there for it.
	deadline := time.Now().Add(10 * time.Second)
	for (got[0].Load()+got[1].Load() < n || got[0].Load() == 0 || got[1].Load() == 0) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait()
	if a, b := got[0].Load(), got[1].Load(); a+b < n || a > n || b > n || a == 0 || b == 0 {
		t.Errorf("the pipelines encoded %d and %d of %d frames", a, b, n)
	}
	if !src.closed {
		t.Error("the source stayed open after both pipelines stopped")
	}
	if r, read := cnt.released.Load(), int32(n-len(src.script)); r != read {
		t.Errorf("%d of the %d source frames read released", r, read)
	}
}
