package multiflow

import (
	"encoding/binary"
	"fmt"

	"github.com/pion/rtcp"
)

// nameRate is the RTCP APP name of the server's rate notice: what share of
// the frames a session gets and why. It rides with the sender reports of
// multi-flow and plain sessions alike; other receivers ignore it, as RFC
// 3550 lets them.
const nameRate = "FCRA"

// rateNoticeLen is the notice's application data: capacity and stream rate
// in kbit/s (u32 each), frames sent per thousand (u16), reason, limit.
const rateNoticeLen = 12

// Reasons a session gets fewer frames than the source makes.
const (
	RateFull     = 0 // every frame
	RateCapacity = 1 // the paths together cannot carry every frame
	RateDelay    = 2 // frames would not arrive within the play-out budget
	RateNoPath   = 3 // no path is known to reach the client
)

// Path limits: what bounds the paths' estimates.
const (
	LimitNone     = 0
	LimitQueue    = 1 // a standing queue was measured
	LimitLoss     = 2 // loss was measured
	LimitDelivery = 3 // the first reports showed it delivering less than the stream
)

// RateNotice tells the client what the server sends it and why.
type RateNotice struct {
	CapacityKbps uint32 // what the paths can deliver together
	StreamKbps   uint32 // the stream's own rate
	Permille     uint16 // frames sent per thousand made, over the last second
	Reason       uint8  // Rate*
	Limit        uint8  // Limit*
}

func (n RateNotice) String() string {
	return fmt.Sprintf("%.1f%% of frames (%s), paths %d of %d kbit/s (%s)", float64(n.Permille)/10,
		reasonText(n.Reason), n.CapacityKbps, n.StreamKbps, limitText(n.Limit))
}

func reasonText(r uint8) string {
	switch r {
	case RateFull:
		return "full rate"
	case RateCapacity:
		return "capacity"
	case RateDelay:
		return "delay"
	case RateNoPath:
		return "no path"
	}
	return fmt.Sprintf("reason %d", r)
}

func limitText(l uint8) string {
	switch l {
	case LimitNone:
		return "no limit measured"
	case LimitQueue:
		return "queueing delay"
	case LimitLoss:
		return "loss"
	case LimitDelivery:
		return "delivery rate"
	}
	return fmt.Sprintf("limit %d", l)
}

// Packet is the notice as an RTCP APP packet from ssrc.
func (n RateNotice) Packet(ssrc uint32) *rtcp.ApplicationDefined {
	d := make([]byte, rateNoticeLen)
	binary.BigEndian.PutUint32(d, n.CapacityKbps)
	binary.BigEndian.PutUint32(d[4:], n.StreamKbps)
	binary.BigEndian.PutUint16(d[8:], n.Permille)
	d[10], d[11] = n.Reason, n.Limit
	return &rtcp.ApplicationDefined{SSRC: ssrc, Name: nameRate, Data: d}
}

// ParseRateNotice reads a notice from an APP packet; ok is false for any
// other APP packet or a malformed one.
func ParseRateNotice(app *rtcp.ApplicationDefined) (RateNotice, bool) {
	if app.Name != nameRate || len(app.Data) != rateNoticeLen {
		return RateNotice{}, false
	}
	d := app.Data
	n := RateNotice{CapacityKbps: binary.BigEndian.Uint32(d), StreamKbps: binary.BigEndian.Uint32(d[4:]),
		Permille: binary.BigEndian.Uint16(d[8:]), Reason: d[10], Limit: d[11]}
	if n.Permille > 1000 {
		return RateNotice{}, false
	}
	return n, true
}
