package playout

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"flowcam/stream/format/rtpbuf"
	"flowcam/stream/format/rtph264"
)

// Fuzz operations are 5 bytes: op[0] selects and flags, the rest are
// arguments. Pushes move the sequence number and timestamp by small or large
// steps, use a real RTP/JPEG payload or bytes from the input, and arrive up
// to 128 ms either side of the current time; pops advance the time.
const (
	opLen     = 5
	opPop     = 3      // op[0]&3: pop; otherwise push
	opSeqJump = 1 << 2 // sequence number moves by op[1]<<8 as well
	opTSShift = 3      // (op[0]>>3)&3: timestamp same, +1 frame, -1 frame, jump
	opReal    = 1 << 5 // payload is real packet op[3] of a test frame
	opMarker  = 1 << 6
	opPath    = 1 << 7
)

// pushOp encodes a push that continues a well-formed stream.
func pushOp(nextFrame bool, j int, marker bool) []byte {
	op := []byte{opReal, 1, 0, byte(j), 0}
	if nextFrame {
		op[0] |= 1 << opTSShift
	}
	if marker {
		op[0] |= opMarker
	}
	return op
}

func FuzzBuffer(f *testing.F) {
	payloads := newStream(f, 1, 0, 0, testMTU).frames[0]
	var ordered, reversed []byte
	for i := range 6 {
		for j := range payloads {
			ordered = append(ordered, pushOp(i > 0 && j == 0, j, j == len(payloads)-1)...)
		}
		ordered = append(ordered, opPop, 40, 0, 0, 0)
	}
	for j := len(payloads) - 1; j >= 0; j-- {
		op := pushOp(false, j, j == len(payloads)-1)
		op[1] = 0xff // sequence number -1
		if j == len(payloads)-1 {
			op[1] = byte(len(payloads))
		}
		reversed = append(reversed, op...)
	}
	reversed = append(reversed, opPop, 200, 0, 0, 0)
	f.Add(ordered)
	f.Add(reversed)
	f.Add(append(slices.Clone(ordered), ordered...)) // everything twice: duplicates, late
	f.Add([]byte{opSeqJump, 0x80, 0, 0, 0, 3 << opTSShift, 1, 0x80, 0, 0, opPop, 255, 0, 0, 0})

	f.Fuzz(func(t *testing.T, data []byte) { fuzzBuffer(t, data, nil, payloads, checkPopped) })
}

// FuzzBufferH264 is FuzzBuffer for an H.264 stream: whatever comes, a
// played frame is Annex B.
func FuzzBufferH264(f *testing.F) {
	payloads := h264Packets(f)
	var ordered []byte
	for i := range 6 {
		for j := range payloads {
			ordered = append(ordered, pushOp(i > 0 && j == 0, j, j == len(payloads)-1)...)
		}
		ordered = append(ordered, opPop, 40, 0, 0, 0)
	}
	f.Add(ordered)
	f.Add(append(slices.Clone(ordered), ordered...))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzBuffer(t, data, H264(2048), payloads, checkAnnexB) })
}

// h264Packets are one key frame's packets: parameter sets and a slice of
// 300 bytes, at an MTU that fragments it.
func h264Packets(f *testing.F) []Packet {
	slice := make([]byte, 300)
	slice[0], slice[1] = 0x65, 0x88
	pk, err := rtph264.NewPacketizer(120)
	if err != nil {
		f.Fatal(err)
	}
	var p rtpbuf.Payloads
	if err := pk.Packetize(&p, [][]byte{{0x67, 0x42, 0xC0, 0x1F}, {0x68, 0xCE, 0x06, 0xE2}, slice}); err != nil {
		f.Fatal(err)
	}
	var out []Packet
	for i := range p.Len() {
		out = append(out, Packet{Payload: p.At(i)})
	}
	return out
}

func checkAnnexB(t *testing.T, f *Frame, now time.Time) {
	if f == nil {
		return
	}
	if len(f.Data) < 5 || !bytes.HasPrefix(f.Data, []byte{0, 0, 0, 1}) {
		t.Fatalf("played frame is not Annex B: % x", f.Data[:min(len(f.Data), 8)])
	}
	if !now.IsZero() && f.Due.After(now) {
		t.Fatalf("frame due %v played at %v", f.Due, now)
	}
}

// fuzzBuffer runs the operations in data against a buffer with depack (nil:
// JPEG); real are well-formed packets ops may push, check judges each
// played frame.
func fuzzBuffer(t *testing.T, data []byte, depack Depacketizer, real []Packet, check func(*testing.T, *Frame, time.Time)) {
	const maxFrames = 4
	b := New(Config{MaxFrames: maxFrames, MaxFrameBytes: 2048, Latency: 50 * time.Millisecond, Depacketizer: depack})
	var seq uint16
	var ts uint32
	now := t0
	for len(data) >= opLen {
		cursor, started := b.lastTS, b.finished
		op := data[:opLen]
		data = data[opLen:]
		if op[0]&3 == opPop {
			now = now.Add(time.Duration(op[1]) * time.Millisecond)
			fr, _ := b.Pop(now)
			check(t, fr, now)
		} else {
			seq, ts = step(seq, ts, op)
			payload := data[:min(int(op[3])%48, len(data))]
			if op[0]&opReal != 0 {
				payload = real[int(op[3])%len(real)].Payload
			}
			b.Push(Packet{Seq: seq, Timestamp: ts, Marker: op[0]&opMarker != 0, Payload: payload,
				Arrival: now.Add(time.Duration(int8(op[4])) * time.Millisecond), Path: int(op[0] >> 7)})
		}
		checkInvariants(t, b, maxFrames)
		if started && b.lastTS < cursor {
			t.Fatal("play-out cursor went back: frames released out of order")
		}
	}
	for _, fr := range b.Stop(now.Add(time.Hour)) {
		check(t, fr, time.Time{})
	}
	checkInvariants(t, b, maxFrames)
}

func step(seq uint16, ts uint32, op []byte) (uint16, uint32) {
	seq += uint16(int8(op[1]))
	if op[0]&opSeqJump != 0 {
		seq += uint16(op[1]) << 8
	}
	switch op[0] >> opTSShift & 3 {
	case 1:
		ts += tick
	case 2:
		ts -= tick
	case 3:
		ts += uint32(op[2])<<24 | uint32(op[2])
	}
	return seq, ts
}

func checkPopped(t *testing.T, f *Frame, now time.Time) {
	if f == nil {
		return
	}
	if len(f.Data) < 4 || f.Data[0] != 0xFF || f.Data[1] != 0xD8 {
		t.Fatalf("played frame is not a JPEG: % x", f.Data[:min(len(f.Data), 8)])
	}
	if !now.IsZero() && f.Due.After(now) {
		t.Fatalf("frame due %v played at %v", f.Due, now)
	}
}

// checkInvariants checks the bounds and orderings the buffer relies on.
func checkInvariants(t *testing.T, b *Buffer, maxFrames int) {
	if len(b.pending) > maxFrames {
		t.Fatalf("%d frames held, bound %d", len(b.pending), maxFrames)
	}
	for i, f := range b.pending {
		if i > 0 && f.ts <= b.pending[i-1].ts {
			t.Fatal("pending frames out of order")
		}
		if b.finished && f.ts <= b.lastTS {
			t.Fatal("a pending frame is behind the play-out cursor")
		}
		if f.held > b.limit {
			t.Fatalf("frame holds %d bytes, cap %d", f.held, b.limit)
		}
		for j := 1; j < len(f.pkts); j++ {
			if f.pkts[j].seq <= f.pkts[j-1].seq {
				t.Fatal("packets of a frame out of order or repeated")
			}
		}
	}
	if st := b.Stats(); st.FramesIncomplete > 1<<62 {
		t.Fatalf("counter underflow: %+v", st)
	}
}
