package rtspserver

import (
	"sync"
	"time"

	"flowcam/stream/server/flowsend"

	"github.com/pion/rtcp"

	"flowcam/stream/format/ccfb"
	"flowcam/stream/format/multiflow"
	"flowcam/stream/format/ntp"
	"flowcam/stream/server/schedule"
)

// udpRate adapts a plain UDP session to its path: frames the path cannot
// carry (judged from the viewer's receiver reports, or its RFC 8888
// feedback when it sends some) are skipped whole, and once the path has
// shown a queue or loss its packets are paced. A viewer on a clean path
// gets every frame as one burst, exactly as without it.
type udpRate struct {
	mu        sync.Mutex
	sched     *schedule.Scheduler
	reader    ccfb.Reader
	plan      schedule.Plan
	sizes     []int
	arrivals  []ccfb.Arrival
	out       [][][]byte
	srs       [4]srStamp // our last sender reports, to time the echoes
	nextSR    int
	reported  bool // the viewer has sent a report we can judge the path by
	perPacket bool // it sends RFC 8888 feedback, often enough to judge stalls by
}

type srStamp struct {
	mid uint32 // middle 32 bits of its NTP time
	at  time.Time
}

func newUDPRate(now time.Time, ssrc uint32) *udpRate {
	return &udpRate{sched: schedule.New(schedule.Config{Policy: schedule.Stripe, Adapt: true,
		FeedbackEvery: plainFeedbackEvery, PlaysLate: true, Pacing: schedule.PaceBounded, Seed: uint64(ssrc)}, 1, now)}
}

// plainFeedbackEvery is the report interval assumed of a plain viewer that
// sends RFC 8888 feedback (ours sends it every 50 ms and after each frame;
// the RFC suggests a frame or a few tens of milliseconds).
const plainFeedbackEvery = 250 * time.Millisecond

// admit decides whether a frame goes out. Receiver reports come too rarely
// (ffmpeg's about once a second, and only while packets arrive) to judge
// a path stalled, so a viewer that sends only those always counts as
// heard; one that sends RFC 8888 feedback is heard when it does, so an
// outage is told from congestion. Until its first report there is nothing
// to judge the path by, and a viewer that never reports (many do not) gets
// every frame, as from any RTSP server.
func (r *udpRate) admit(now, captured time.Time, ts uint32, payloads flowsend.Payloads, key bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sizes = r.sizes[:0]
	for i := 0; i < payloads.Len(); i++ {
		r.sizes = append(r.sizes, rtpHeaderLen+len(payloads.At(i)))
	}
	if !r.perPacket {
		r.sched.Heard(0, now)
	}
	if key {
		r.sched.KeyFrame(now, captured, ts, r.sizes, &r.plan)
	} else {
		r.sched.Frame(now, captured, ts, r.sizes, &r.plan)
	}
	return !r.plan.Skip || !r.reported
}

const rtpHeaderLen = 12

// sentSR remembers a sender report so that an echo of it times the round
// trip.
func (r *udpRate) sentSR(ntpTime uint64, now time.Time) {
	r.mu.Lock()
	r.srs[r.nextSR] = srStamp{uint32(ntpTime >> 16), now}
	r.nextSR = (r.nextSR + 1) % len(r.srs)
	r.mu.Unlock()
}

// report folds a receiver report block about our stream into the estimate.
func (r *udpRate) report(rr rtcp.ReceptionReport, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reported = true
	if r.perPacket {
		r.sched.Heard(0, now)
	}
	for _, sr := range r.srs {
		if sr.mid != 0 && sr.mid == rr.LastSenderReport {
			if rtt, ok := ntp.RoundTrip(now, rr.LastSenderReport, rr.Delay); ok {
				r.sched.RTT(0, now, rtt)
			}
		}
	}
	r.sched.ReceiverReport(0, now, rr.LastSequenceNumber, rr.TotalLost)
}

// feedback folds congestion control feedback (RFC 8888) into the estimate.
func (r *udpRate) feedback(rep *rtcp.CCFeedbackReport, ssrc uint32, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.arrivals = r.reader.Arrivals(rep, ssrc, r.arrivals[:0])
	if len(r.arrivals) > 0 {
		if !r.perPacket {
			// A player that sends RFC 8888 feedback has a jitter buffer
			// with a deadline (ours does): a frame that would miss it is
			// not worth sending.
			r.sched.SetPlaysLate(false)
		}
		r.reported, r.perPacket = true, true
		r.sched.Heard(0, now)
		r.sched.Feedback(0, now, r.arrivals)
	}
}

// stats is the session's rate adaptation, for status and metrics.
func (r *udpRate) stats(now time.Time) schedule.Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sched.Stats(now)
}

// notice is the rate notice for the viewer (our own client reads it).
func (r *udpRate) notice(now time.Time) multiflow.RateNotice {
	return flowsend.NoticeFrom(r.stats(now))
}
