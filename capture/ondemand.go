package capture

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// ErrIdle is what an on-demand source returns, about once a second, while
// it is stopped for want of viewers: the pipeline counts it as a sign of
// life (the service watchdog must not bite) and reads on.
var ErrIdle = errors.New("source stopped: nobody is watching")

// OnDemand is a Source that runs only while someone watches: after
// IdleAfter without viewers it closes the real source (a camera's LED goes
// off, a file's decoder stops) and opens a new one as soon as a viewer is
// back. Presentation times stay continuous across the gap, so RTP
// timestamps keep following the wall clock.
type OnDemand struct {
	open      func() (Source, error)
	wanted    func() bool
	idleAfter time.Duration
	poll      time.Duration // how often to ask wanted while stopped
	beat      time.Duration // how often to report ErrIdle while stopped
	now       func() time.Time
	log       *slog.Logger

	src        Source
	current    atomic.Value // sourceBox: the newest real source, for status
	lastWanted time.Time
	// PTS continuity: a reopened source starts its clock again.
	offset, lastPTS time.Duration
	lastAt          time.Time
	rebase          bool
}

// NewOnDemand wraps open, calling wanted to learn whether anyone watches.
// The first source is opened at once, so configuration errors show at
// start rather than at the first viewer.
func NewOnDemand(open func() (Source, error), wanted func() bool, idleAfter time.Duration, log *slog.Logger) (*OnDemand, error) {
	src, err := open()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &OnDemand{open: open, wanted: wanted, idleAfter: idleAfter, poll: 100 * time.Millisecond,
		beat: time.Second, now: time.Now, log: log, src: src}
	d.current.Store(sourceBox{src})
	d.lastWanted = d.now()
	return d, nil
}

// Next implements Source.
func (d *OnDemand) Next(ctx context.Context) (*Frame, error) {
	now := d.now()
	if d.wanted() {
		d.lastWanted = now
	}
	if d.src != nil && now.Sub(d.lastWanted) >= d.idleAfter {
		d.log.Info("nobody is watching: source stopped", "after", d.idleAfter.String())
		d.src.Close()
		d.src = nil
	}
	if d.src == nil {
		if err := d.waitForViewer(ctx); err != nil {
			return nil, err
		}
	}
	f, err := d.src.Next(ctx)
	if err != nil || f == nil {
		return f, err
	}
	if d.rebase {
		// Resume where the clock would be had the source kept running.
		d.offset = d.lastPTS + d.now().Sub(d.lastAt) - f.PTS
		d.rebase = false
	}
	f.PTS += d.offset
	d.lastPTS, d.lastAt = f.PTS, d.now()
	return f, nil
}

// waitForViewer polls for a viewer for up to a second, then reopens the
// source; returning ErrIdle each second keeps the pipeline's liveness.
func (d *OnDemand) waitForViewer(ctx context.Context) error {
	beat := time.NewTimer(d.beat)
	defer beat.Stop()
	for !d.wanted() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-beat.C:
			return ErrIdle
		case <-time.After(d.poll):
		}
	}
	src, err := d.open()
	if err != nil {
		return err
	}
	d.log.Info("viewer back: source restarted")
	d.src, d.lastWanted, d.rebase = src, d.now(), true
	d.current.Store(sourceBox{src})
	return nil
}

// Close implements Source.
// sourceBox lets sources of different types share one atomic.Value.
type sourceBox struct{ Source }

// Current is the newest real source (running, or the last one while
// nobody watches), for status: its counters and problems are the ones that
// matter. Safe to call while Next runs.
func (d *OnDemand) Current() Source { return d.current.Load().(sourceBox).Source }

func (d *OnDemand) Close() error {
	if d.src == nil {
		return nil
	}
	err := d.src.Close()
	d.src = nil
	return err
}
