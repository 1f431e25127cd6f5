package flowsend

import (
	"time"

	"flowcam/stream/format/multiflow"

	"flowcam/stream/server/congestion"
	"flowcam/stream/server/schedule"
)

// Stats is the server's view of a session's flows.
type Stats struct {
	Mode     multiflow.Mode
	Static   bool // the flows' shares are fixed by weights
	Flows    []FlowStats
	Rate     RateStats
	Forged   uint64 // registrations with a bad MAC, and undecodable RTCP
	Replayed uint64 // authentic registrations with a stale counter
	Spoofed  uint64 // reports from an address other than the flow's client
}

// RateStats is what share of the frames a session gets and why.
type RateStats struct {
	FramesSent, FramesSkipped uint64
	SentFraction              float64 // over the last second
	Reason                    string  // why frames were skipped in the last second
	StreamBps, CapacityBps    float64
}

// FlowStats describes one flow.
type FlowStats struct {
	Flow       int
	Local      string
	Client     string // registered return address, "" until registered
	Usable     bool   // heard recently enough to carry traffic
	Probing    bool   // stripe: carries only copies until it earns a share
	Active     bool   // failover: carries the stream
	Packets    uint64
	Bytes      uint64
	Loss       float64 // fraction lost over the last half second, from feedback
	RecentLoss float64 // fraction lost in the latest receiver report
	RTT        time.Duration
	Jitter     time.Duration
	RateBps    float64       // what the flow is sent at now
	Capacity   float64       // its estimated deliverable rate, bits/s
	QueueDelay time.Duration // its standing queue
	Phase      string        // cruise, probing, draining, floor
	Limit      string        // what bounds its estimate: none, queueing delay, loss
}

// Stats returns a snapshot.
func (s *Sender) Stats() Stats {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sch := s.sched.Stats(now)
	st := Stats{Mode: s.cfg.Mode, Static: len(s.cfg.Weights) > 0, Rate: RateStatsFrom(sch),
		Forged: s.forged.Load(), Replayed: s.replays.Load(), Spoofed: s.spoofed.Load()}
	for i, f := range s.flows {
		p := sch.Paths[i]
		fs := FlowStats{Flow: i, Local: f.conn.LocalAddr().String(), Usable: p.Usable, Probing: p.Copies,
			Active: p.Active, Packets: p.Packets, Bytes: p.Bytes, Loss: p.Loss, RecentLoss: f.rr.fractionLost,
			RTT: p.RTT, Jitter: f.rr.jitter, RateBps: p.RateBps, Capacity: p.Capacity, QueueDelay: p.QueueDelay,
			Phase: p.Phase.String(), Limit: p.Limit.String()}
		if f.client.IsValid() {
			fs.Client = f.client.String()
		}
		st.Flows = append(st.Flows, fs)
	}
	return st
}

// RateStatsFrom summarises a schedule's frame decisions.
func RateStatsFrom(st schedule.Stats) RateStats {
	return RateStats{FramesSent: st.FramesSent, FramesSkipped: st.FramesSkipped, SentFraction: st.SentFraction,
		Reason: st.Reason.String(), StreamBps: st.StreamBps, CapacityBps: st.CapacityBps}
}

// NoticeFrom summarises a schedule for the client.
func NoticeFrom(st schedule.Stats) multiflow.RateNotice {
	n := multiflow.RateNotice{CapacityKbps: kbps(st.CapacityBps), StreamKbps: kbps(st.StreamBps),
		Permille: uint16(st.SentFraction*1000 + 0.5)}
	switch st.Reason {
	case schedule.Capacity:
		n.Reason = multiflow.RateCapacity
	case schedule.Delay:
		n.Reason = multiflow.RateDelay
	case schedule.NoPath:
		n.Reason = multiflow.RateNoPath
	}
	for _, p := range st.Paths {
		switch {
		case !p.Usable:
		case p.Limit == congestion.ByLoss:
			n.Limit = multiflow.LimitLoss
		case p.Limit == congestion.ByQueue && n.Limit != multiflow.LimitLoss:
			n.Limit = multiflow.LimitQueue
		case p.Limit == congestion.ByStartup && n.Limit == multiflow.LimitNone:
			n.Limit = multiflow.LimitDelivery
		}
	}
	return n
}

func kbps(bps float64) uint32 { return uint32(min(max(bps/1000, 0), 1<<31)) }
