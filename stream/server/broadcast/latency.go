package broadcast

import "time"

// Capture-to-wire latency: how long after a frame was captured its last
// packet was handed to the kernel for the last viewer that got it live.
// Each viewer that queues a unit owes it one account (Sent or a drop);
// the broadcaster holds one more while it fans out, so the count reaches
// zero only when every viewer queued at publish time is done. A unit sent
// again later (a new viewer's start, a key frame replay) is not counted
// twice: only the first time the count reaches zero is observed.

// WithLatencyObserver reports each frame's capture-to-wire time to
// observe, which must be safe for concurrent use and should not allocate.
func WithLatencyObserver(observe func(time.Duration)) Option {
	return func(b *Broadcaster) { b.latency = observe }
}

// Sent records that the unit's packets went to the kernel for one viewer
// at at, which settles that viewer's account. Every holder of a unit from
// a Subscriber calls Sent or Skipped once, before Release.
func (u *Unit) Sent(at time.Time) {
	t := at.UnixNano()
	for {
		last := u.lastSent.Load()
		if t <= last || u.lastSent.CompareAndSwap(last, t) {
			break
		}
	}
	u.settle()
}

// Skipped settles a viewer's account for a unit it did not send (its path
// could not carry it, or it waits for a key frame).
func (u *Unit) Skipped() { u.settle() }

// owe adds an account to settle.
func (u *Unit) owe() { u.pending.Add(1) }

// settle closes one account; the last one observes the latency.
func (u *Unit) settle() {
	if u.pending.Add(-1) != 0 || u.latency == nil || u.Captured.IsZero() {
		return
	}
	last := u.lastSent.Load()
	if last == 0 || !u.observed.CompareAndSwap(false, true) {
		return
	}
	u.latency(time.Unix(0, last).Sub(u.Captured))
}
