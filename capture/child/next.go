package child

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"flowcam/capture"
	"flowcam/capture/pattern"
)

// Next returns the helper's next frame, or a "no signal" card while it is
// down.
func (s *Source) Next(ctx context.Context) (*capture.Frame, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.ru == nil {
			if f := s.whileDown(ctx); f != nil {
				return f, nil
			}
			continue
		}
		if f, err := s.await(ctx); f != nil || err != nil {
			return f, err
		}
	}
}

// await waits for the running helper's next frame; nil, nil when the
// helper was lost meanwhile. Until a new helper's first frame, "no signal"
// cards keep going out: a camera stack may take seconds to start.
func (s *Source) await(ctx context.Context) (*capture.Frame, error) {
	ru := s.ru
	now := s.now()
	deadline := now.Add(s.cfg.Watchdog)
	if !ru.got {
		deadline = ru.started.Add(s.cfg.StartTimeout)
	}
	wake := deadline
	if !ru.got && ru.cardAt.Before(wake) {
		wake = ru.cardAt
	}
	t := time.NewTimer(max(wake.Sub(now), 0))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case f, ok := <-ru.frames:
		if !ok {
			<-ru.done
			s.lose(ru.err)
			return nil, nil
		}
		if !ru.got && s.restarts.Load() > 0 {
			s.log.Info("helper delivers frames again", "down_for", s.now().Sub(s.downFrom).Round(time.Millisecond))
		}
		if !ru.got {
			ru.got, ru.firstAt = true, s.now()
		}
		if !s.paced(s.now()) {
			f.Release()
			s.skipped.Add(1)
			return nil, nil // the helper is alive: wait for the next one
		}
		return s.stamp(f), nil
	case <-t.C:
	}
	if now = s.now(); now.Before(deadline) {
		ru.cardAt = now.Add(s.cfg.NoSignalEvery)
		return s.noSignalFrame(now), nil
	}
	s.lose(fmt.Errorf("%w: no frame for %v", errSilent, deadline.Sub(ru.started).Round(time.Millisecond)))
	return nil, nil
}

// paced reports whether a frame arriving at now keeps to MaxFPS, and books
// it. A quarter interval of slack keeps every frame of a helper that runs
// at the asked rate with some jitter; a late frame sets the schedule anew
// rather than letting the ones after it through in a burst.
func (s *Source) paced(now time.Time) bool {
	if s.cfg.MaxFPS <= 0 || s.cfg.Format == H264 { // an H.264 frame dropped breaks the ones after it
		return true
	}
	interval := time.Duration(float64(time.Second) / s.cfg.MaxFPS)
	if now.Before(s.nextDue.Add(-interval / 4)) {
		return false
	}
	if s.nextDue = s.nextDue.Add(interval); s.nextDue.Before(now) {
		s.nextDue = now.Add(interval)
	}
	return true
}

// errSilent is a helper that stopped writing frames (or never started).
var errSilent = errors.New("silent")

// stamp puts the frame on the source's clock: time since the source was
// made, which runs on across restarts and "no signal" stretches.
func (s *Source) stamp(f *capture.Frame) *capture.Frame {
	now := s.now()
	s.quickExits = 0
	s.setProblem("")
	f.PTS, f.Captured, f.Seq = now.Sub(s.start0), now, s.frames.Load()+s.nosignal.Load()
	s.frames.Add(1)
	return f
}

// whileDown restarts the helper when due and otherwise waits for the next
// "no signal" card, which it returns.
func (s *Source) whileDown(ctx context.Context) *capture.Frame {
	now := s.now()
	if !now.Before(s.retryAt) {
		ru, err := s.start()
		if err == nil {
			s.ru = ru
			if s.everRan {
				s.restarts.Add(1)
			}
			s.everRan = true
			return nil
		}
		s.noFrames(err)
		s.down(err)
	}
	if !now.Before(s.signalAt) {
		s.signalAt = now.Add(s.cfg.NoSignalEvery)
		return s.noSignalFrame(now)
	}
	t := time.NewTimer(max(min(s.retryAt.Sub(now), s.signalAt.Sub(now)), time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return nil
}

// healthyRun is how long a helper must deliver frames for its next
// failure to count as a new one: a helper that dies after a frame or two
// backs off like one that cannot start at all.
const healthyRun = time.Second

// lose stops a helper that failed, fell silent or wrote garbage, and
// schedules its restart.
func (s *Source) lose(cause error) {
	ru := s.ru
	s.ru = nil
	ru.stop(s.cfg.StopGrace)
	s.stderr.flush()
	if cause == nil || errors.Is(cause, io.EOF) {
		cause = errors.New("exited")
		// Only an exit of its own has a status worth telling: after
		// our SIGINT it is the signal's.
		if st := ru.cmd.ProcessState; st != nil && st.Exited() {
			cause = fmt.Errorf("exited with status %d", st.ExitCode())
		}
	}
	if ru.got && s.now().Sub(ru.firstAt) >= healthyRun {
		s.quickExits, s.backoff = 0, 0
	}
	if !ru.got {
		s.noFrames(cause)
	}
	s.down(cause)
}

// noFrames counts a helper that ended (or could not start) without a
// single frame; three in a row are reported with its last words.
func (s *Source) noFrames(cause error) {
	if s.quickExits++; s.quickExits >= 3 {
		s.setProblem(fmt.Sprintf("%s fails before its first frame (%d times in a row): %v; last output: %s",
			s.cfg.Name, s.quickExits, cause, strings.Join(s.stderr.last(), " | ")))
	}
}

// down schedules the next start with backoff (250 ms doubling to 5 s, so
// a helper that cannot run is never restarted in a tight loop) and starts
// the "no signal" cards.
func (s *Source) down(cause error) {
	now := s.now()
	if s.backoff == 0 {
		s.log.Warn("helper down: sending no-signal frames and restarting it", "err", cause,
			"stderr", strings.Join(s.stderr.last(), " | "))
		s.downFrom, s.signalAt = now, now
	} else {
		s.log.Debug("helper still down", "err", cause, "retry_in", s.backoff)
	}
	s.backoff = min(max(2*s.backoff, 250*time.Millisecond), 5*time.Second)
	s.retryAt = now.Add(s.backoff)
}

func (s *Source) setProblem(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.problem = p
}

// noSignalFrame keeps players on the session and shows why the picture
// stopped.
func (s *Source) noSignalFrame(now time.Time) *capture.Frame {
	f := s.noSignal.Get()
	pattern.RenderNoSignal(f.Image, uint64(now.Sub(s.downFrom)/time.Second))
	f.PTS, f.Captured, f.Seq = now.Sub(s.start0), now, s.frames.Load()+s.nosignal.Load()
	s.nosignal.Add(1)
	return f
}
