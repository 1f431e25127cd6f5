package schedule

import (
	"fmt"
	"strings"
	"time"

	"flowcam/stream/server/congestion"
)

// frameLog remembers the last second of frame decisions, for the rate a
// session gets now and why.
type frameLog struct {
	ev            [128]frameEvent
	next          int
	sent, skipped uint64
	lastSkip      Reason
	lastSkipAt    time.Time
}

type frameEvent struct {
	at   time.Time
	sent bool
}

func (l *frameLog) add(now time.Time, sent bool, why Reason) {
	l.ev[l.next] = frameEvent{now, sent}
	l.next = (l.next + 1) % len(l.ev)
	if sent {
		l.sent++
		return
	}
	l.skipped++
	l.lastSkip, l.lastSkipAt = why, now
}

// fraction is the share of frames sent in the last second, 1 with none.
func (l *frameLog) fraction(now time.Time) float64 {
	sent, all := 0, 0
	for _, e := range l.ev {
		if !e.at.IsZero() && now.Sub(e.at) <= time.Second {
			all++
			if e.sent {
				sent++
			}
		}
	}
	if all == 0 {
		return 1
	}
	return float64(sent) / float64(all)
}

// Stats is a snapshot of a session's schedule.
type Stats struct {
	FramesSent, FramesSkipped uint64
	// SentFraction is the share of frames sent over the last second.
	SentFraction float64
	// Reason is why frames were skipped in the last second (Full when none
	// were).
	Reason    Reason
	StreamBps float64 // the stream's own rate
	// CapacityBps is what the usable paths can deliver together.
	CapacityBps float64
	Paths       []PathStats
}

// PathStats is one path's estimate and share.
type PathStats struct {
	Usable     bool
	Active     bool // failover: carries the stream
	Copies     bool // carries only copies of a few packets (stripe)
	RateBps    float64
	Capacity   float64 // bits/s
	Delivery   float64 // windowed maximum delivery rate, bits/s
	QueueDelay time.Duration
	Loss       float64
	RTT        time.Duration
	Phase      congestion.Phase
	Limit      congestion.Limit
	Bytes      uint64 // sent, as datagrams
	Packets    uint64
	LastCut    string // what the estimator's last cut saw, for debug logs
}

// Stats returns a snapshot.
func (s *Scheduler) Stats(now time.Time) Stats {
	st := Stats{FramesSent: s.frames.sent, FramesSkipped: s.frames.skipped,
		SentFraction: s.frames.fraction(now), StreamBps: s.streamBps}
	if !s.frames.lastSkipAt.IsZero() && now.Sub(s.frames.lastSkipAt) <= time.Second {
		st.Reason = s.frames.lastSkip
	}
	for i, ps := range s.paths {
		q, _ := ps.est.QueueDelay()
		p := PathStats{Usable: ps.usable, Active: s.cfg.Policy == Failover && s.active == i,
			Copies: ps.copies, RateBps: ps.est.Rate(), Capacity: ps.est.Capacity(), Delivery: ps.est.DeliveryRate(), QueueDelay: q,
			Loss: ps.est.Loss(now), RTT: ps.est.SRTT(), Phase: ps.est.Phase(), Limit: ps.est.Limit(),
			Bytes: ps.bytes, Packets: ps.packets, LastCut: ps.est.LastCut()}
		if ps.usable {
			st.CapacityBps += p.Capacity
		}
		st.Paths = append(st.Paths, p)
	}
	return st
}

// Usable reports whether path i may carry traffic now.
func (s *Scheduler) Usable(i int) bool { return s.paths[i].usable }

// String summarises a snapshot on one line, for debug logs.
func (st Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sent %.0f%% (%s) stream %.2f Mbit/s capacity %.2f Mbit/s", st.SentFraction*100, st.Reason,
		st.StreamBps/1e6, st.CapacityBps/1e6)
	for i, p := range st.Paths {
		fmt.Fprintf(&b, " | %d: usable=%v rate=%.2f cap=%.2f queue=%v loss=%.3f %s/%s [%s]", i, p.Usable,
			p.RateBps/1e6, p.Capacity/1e6, p.QueueDelay.Round(time.Millisecond), p.Loss, p.Phase, p.Limit, p.LastCut)
	}
	return b.String()
}
