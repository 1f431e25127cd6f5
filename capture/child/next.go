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
// helper was lost meanwhile.
func (s *Source) await(ctx context.Context) (*capture.Frame, error) {
	ru := s.ru
	limit := s.cfg.Watchdog
	if !ru.got {
		limit = s.cfg.StartTimeout
	}
	t := time.NewTimer(limit)
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
		if !ru.got && s.everRan && s.restarts.Load() > 0 {
			s.log.Info("helper delivers frames again", "down_for", s.now().Sub(s.downFrom).Round(time.Millisecond))
		}
		ru.got = true
		return s.stamp(f), nil
	case <-t.C:
		s.lose(fmt.Errorf("no frame for %v", limit))
		return nil, nil
	}
}

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

// quickExit is a run that ended this soon without a frame: the helper
// cannot start (no camera, a bad argument), not a hiccup.
const quickExit = 3 * time.Second

// lose stops a helper that failed, fell silent or wrote garbage, and
// schedules its restart.
func (s *Source) lose(cause error) {
	ru := s.ru
	s.ru = nil
	ru.stop()
	if cause == nil || errors.Is(cause, io.EOF) {
		cause = errors.New("exited")
	}
	if st := ru.cmd.ProcessState; st != nil && st.Exited() {
		cause = fmt.Errorf("%v (exit status %d)", cause, st.ExitCode())
	}
	if !ru.got && s.now().Sub(ru.started) < quickExit {
		s.quickExits++
	} else {
		s.quickExits = 0
		s.backoff = 0
	}
	if s.quickExits >= 3 {
		s.setProblem(fmt.Sprintf("%s exits at once (%d times in a row): %v; last output: %s",
			s.cfg.Name, s.quickExits, cause, strings.Join(s.stderr.last(), " | ")))
	}
	s.down(cause)
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
