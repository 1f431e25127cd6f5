package multiflow

import (
	"math"
	"time"
)

// Estimator tuning. Capacity is in units of the stream's own rate: 1.0
// means "this path alone could carry the whole stream". Shares only depend
// on the ratio between paths, so the absolute bitrate never has to be known.
const (
	minCapacity   = 0.02
	maxCapacity   = 2.0
	lossHigh      = 0.02 // smoothed loss above this: the path is shedding load
	lossLow       = 0.01 // below this a path may grow
	lossSmoothing = 0.3  // weight of a new report in the loss average
	minStall      = 50 * time.Millisecond
	minRTTWindow  = 10 * time.Second
)

// path is what the server knows of one flow's network path, built from the
// client's RTCP receiver reports and registrations on that flow.
type path struct {
	heard      bool
	lastHeard  time.Time
	srtt       time.Duration
	rttvar     time.Duration
	haveRTT    bool
	minRTT     time.Duration
	minRTTAt   time.Time
	loss       float64 // smoothed fraction lost
	lastLoss   float64 // fraction lost in the latest report
	jitter     time.Duration
	capacity   float64
	sentBytes  int // since the last report
	streamMark int // the stream's byte count at the last report
	lastReport time.Time
	stableFrom time.Time // since when the path has been heard without stalls
}

func newPath() *path { return &path{capacity: 1} }

// heardAt records any authenticated packet from the client on this path.
func (p *path) heardAt(now time.Time, reportEvery time.Duration) {
	if !p.heard || now.Sub(p.lastHeard) > p.stallTimeout(reportEvery) {
		p.stableFrom = now // (re)appeared: stability counts from here
	}
	p.heard, p.lastHeard = true, now
}

// rttSample folds one round-trip measurement into SRTT and RTTVAR the way
// TCP does (RFC 6298), and tracks the windowed minimum as the path's
// queue-free round trip.
func (p *path) rttSample(r time.Duration, now time.Time) {
	if !p.haveRTT {
		p.srtt, p.rttvar, p.haveRTT = r, r/2, true
	} else {
		d := p.srtt - r
		if d < 0 {
			d = -d
		}
		p.rttvar = (3*p.rttvar + d) / 4
		p.srtt = (7*p.srtt + r) / 8
	}
	if p.minRTT == 0 || r < p.minRTT || now.Sub(p.minRTTAt) > minRTTWindow {
		p.minRTT, p.minRTTAt = r, now
	}
}

// stallTimeout is how long the path may stay silent before it is judged
// stalled: the report interval plus SRT's 2*SRTT + 4*RTTVAR allowance.
func (p *path) stallTimeout(reportEvery time.Duration) time.Duration {
	allowance := minStall
	if p.haveRTT {
		allowance = max(allowance, 2*p.srtt+4*p.rttvar)
	}
	return reportEvery + allowance
}

func (p *path) stalled(now time.Time, reportEvery time.Duration) bool {
	return !p.heard || now.Sub(p.lastHeard) > p.stallTimeout(reportEvery)
}

// queueing reports whether the round trip has grown well past its floor:
// a bottleneck queue is filling, the first sign of congestion before loss.
func (p *path) queueing() bool {
	return p.haveRTT && p.srtt > p.minRTT*3/2+15*time.Millisecond
}

// report updates the capacity estimate from one receiver report. util is
// the share of the stream this path carried since the previous report.
func (p *path) report(lossFraction, util float64, probing bool, now time.Time) {
	p.lastLoss = lossFraction
	p.loss = (1-lossSmoothing)*p.loss + lossSmoothing*lossFraction
	switch {
	case p.loss > lossHigh:
		// Multiplicative decrease towards what actually got through.
		p.capacity = math.Min(p.capacity, util*(1-lossFraction)+minCapacity) * 0.85
	case p.queueing():
		p.capacity = math.Min(p.capacity, util+minCapacity) * 0.95
	case p.loss < lossLow && probing:
		// A clean probing path climbs back to a real share within a second.
		p.capacity *= 1.25
	case p.loss < lossLow:
		// Clean: claim more. A path can only show what it carries, so a
		// clean one keeps growing (to twice the stream) until loss or a
		// growing queue says otherwise.
		p.capacity *= 1.1
	}
	p.capacity = math.Min(math.Max(p.capacity, minCapacity), maxCapacity)
	p.sentBytes, p.lastReport = 0, now
}
