// Package playout owns the receiving end of one RTP/JPEG stream between the
// sockets and the display of the flowcam client: the reorder/jitter buffer
// and the play-out scheduler that multi-flow needs.
//
// Packets of one stream (one SSRC, one sequence space, one timestamp clock)
// may arrive over several network paths, reordered, duplicated (duplicate
// mode sends every packet on every path), delayed or lost. A [Buffer]
// de-duplicates them, puts them back in order, assembles each frame with
// [rtpjpeg.Depacketizer], and hands frames out at a steady pace set by the
// RTP clock rather than by the network. A frame that cannot be completed by
// its deadline is dropped whole; a damaged picture is never returned.
//
// # Sequence numbers and timestamps
//
// The 16-bit sequence number and the 32-bit timestamp wrap. Each is extended
// to 64 bits as RFC 3550 appendix A.1 does: a value is placed at the shortest
// distance from the highest value seen so far, so wraparound is seamless and
// a reordered packet from before a wrap still sorts before the packets after
// it.
//
// # Frames
//
// A frame is every packet carrying one RTP timestamp. It is complete when it
// holds an unbroken run of sequence numbers from its first fragment (RFC 2435
// fragment offset 0) to the packet with the marker bit. A complete frame is
// rebuilt into a JPEG file by an [rtpjpeg.Depacketizer]; if that refuses the
// payloads, the frame counts as incomplete.
//
// # Play-out clock
//
// The buffer maps RTP time to the caller's clock through the fastest transit
// seen so far: offset = min over packets of (Arrival − ts/ClockRate). A frame
// with timestamp ts is due at ts/ClockRate + offset + Latency. Taking the
// minimum means a delayed packet never pushes the schedule later, while a
// packet faster than any before pulls it earlier (the earlier estimate was
// too pessimistic). Between such corrections frames are due exactly one
// timestamp interval apart, whatever the arrival jitter.
//
// A frame that was whole before its Due as the clock had it then, and is
// overdue only because a much faster packet came since, is caught up:
// played at once, in order, and left out of the delay's statistics. That
// is how a stream starts when the server opens it with the frames it kept
// since the last H.264 key frame, seconds old, before the live ones: a
// decoder needs every one of them.
//
// Frames are released strictly in timestamp order. [Buffer.Pop] returns the
// oldest frame once its Due time has come, if it was complete by then: every
// packet of its run arrived no later than Due. Deadlines are judged from the
// packets' Arrival times, not from when Pop happens to be called, so the
// outcome does not depend on the caller's timer precision. A frame that is
// due but incomplete is dropped and Pop moves on to the next one.
//
// # Play-out delay
//
// With Adaptive the delay is not Latency but what frames need: for every
// complete frame, how long after its earliest possible arrival (its RTP time
// mapped through the fastest transit) its last packet came, which is the
// spread of its packets over the paths plus their transit jitter. The delay
// is the 99th percentile of that over the last 250 frames plus 5 ms, between
// MinLatency and Latency. It starts at Latency, rises by at most half a
// frame interval per frame and falls by a fortieth of one, so consecutive
// frames stay nearly a frame interval apart while it moves. An incomplete
// frame may be held past its Due for up to half an interval (never past
// Latency) for a late packet; if it completes in that grace it is played at
// once. Without Adaptive the delay is Latency, fixed.
//
// # Accounting
//
// Every frame the buffer learns of ends up in exactly one of FramesComplete
// (played), FramesLate (complete, but only after its Due) or
// FramesIncomplete (dropped: packets missing at Due, refused by the
// depacketizer, over the per-frame byte cap, or pushed out by the MaxFrames
// bound). A frame dropped as incomplete moves to FramesLate if its missing
// packets arrive afterwards and would have completed it; a bounded record of
// recently dropped frames makes that possible. FramesMissing estimates the
// frames of which nothing was seen before their neighbours were played: the
// timestamp gap between consecutive played or dropped frames divided by the
// frame interval (configured, or the median of recent gaps), minus one.
// A gap is split between FramesMissing and FramesSkipped by its sequence
// numbers: the missing sequence numbers, divided by the packets a recent
// frame took, are frames that were sent and lost; the rest of the gap are
// frames the sender skipped (whole-frame rate adaptation uses no sequence
// numbers for them).
//
// Packet counters: DuplicatesDropped counts a sequence number already held,
// played or dropped within the last 32768 sequence numbers; PacketsReordered
// counts a new packet with a sequence number below the highest seen (late
// ones included); PacketsLate counts a packet that arrived after its frame's
// Due or after the frame was played or dropped, or too far behind the
// highest sequence number to tell; PacketsOverflow counts packets discarded
// by a memory bound.
//
// # Memory
//
// At most MaxFrames frames are held; when a packet starts one more, the
// oldest frame is dropped. Each frame holds at most MaxFrameBytes of payload
// (plus an eighth for headers); packets beyond that are discarded and the
// frame cannot complete. Storage of played frames is reused, so a steady
// stream allocates nothing per packet, and nothing per frame when the caller
// hands frames back with [Buffer.Recycle].
//
// # Concurrency
//
// A Buffer is not safe for concurrent use. The client's receive loop owns it:
// it pushes packets as they are read from every path's socket and calls Pop
// after each batch and whenever the time Pop returned comes.
package playout
