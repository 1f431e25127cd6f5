package playout

import (
	"bytes"
	"image"
	stdjpeg "image/jpeg"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"flowcam/stream/format/rtpbuf"
	"flowcam/stream/format/rtpjpeg"
)

// The test stream: 25 fps at 90 kHz, sent from t0, every packet 10 ms in
// transit, the packets of one frame 100 µs apart.
const (
	tick     = 3600
	frameDur = 40 * time.Millisecond
	transit  = 10 * time.Millisecond
	spacing  = 100 * time.Microsecond
	testMTU  = 300
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// picture returns a small JPEG made by Go's encoder, different for each i,
// and the file the depacketizer must rebuild from it.
func picture(t testing.TB, i int) (pic *rtpjpeg.Picture, rebuilt []byte) {
	t.Helper()
	img := image.NewYCbCr(image.Rect(0, 0, 64, 48), image.YCbCrSubsampleRatio420)
	for k := range img.Y {
		img.Y[k] = uint8(k*7 ^ k>>3 + i*31)
	}
	for k := range img.Cb {
		img.Cb[k], img.Cr[k] = uint8(k+i), uint8(k*3-i)
	}
	var buf bytes.Buffer
	if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	pic = new(rtpjpeg.Picture)
	if err := rtpjpeg.Parse(buf.Bytes(), pic); err != nil {
		t.Fatal(err)
	}
	return pic, pic.AppendJPEG(nil)
}

// testStream is n frames packetized as a sender would: consecutive sequence
// numbers from seq0, timestamps tick apart from ts0. Tests edit the packets
// (arrival, loss, copies) before playing them.
type testStream struct {
	frames [][]Packet
	jpegs  [][]byte
	ts0    uint32
	cfg    Config
}

func newStream(t testing.TB, n int, seq0 uint16, ts0 uint32, mtu int) *testStream {
	t.Helper()
	pk, err := rtpjpeg.NewPacketizer(mtu)
	if err != nil {
		t.Fatal(err)
	}
	s := &testStream{ts0: ts0}
	seq := seq0
	for i := range n {
		pic, want := picture(t, i)
		var p rtpbuf.Payloads
		pk.Packetize(&p, pic)
		var pkts []Packet
		for j := range p.Len() {
			pkts = append(pkts, Packet{
				Seq: seq, Timestamp: ts0 + uint32(i*tick), Marker: j == p.Len()-1,
				Payload: slices.Clone(p.At(j)),
				Arrival: sent(i).Add(transit + time.Duration(j)*spacing),
			})
			seq++
		}
		s.frames = append(s.frames, pkts)
		s.jpegs = append(s.jpegs, want)
	}
	return s
}

// sent is when frame i left the sender.
func sent(i int) time.Time { return t0.Add(time.Duration(i) * frameDur) }

// due is frame i's play-out time when the fastest transit is transit.
func due(cfg Config, i int) time.Time {
	return sent(i).Add(transit + cfg.withDefaults().Latency)
}

func (s *testStream) packets() []Packet {
	var all []Packet
	for _, f := range s.frames {
		all = append(all, f...)
	}
	slices.SortStableFunc(all, func(a, b Packet) int { return a.Arrival.Compare(b.Arrival) })
	return all
}

func (s *testStream) count(frames ...int) (n uint64) {
	for _, i := range frames {
		n += uint64(len(s.frames[i]))
	}
	return n
}

func (s *testStream) all() []int {
	out := make([]int, len(s.frames))
	for i := range out {
		out[i] = i
	}
	return out
}

// index is the frame number of a played frame.
func (s *testStream) index(f *Frame) int { return int((f.Timestamp - s.ts0) / tick) }

type played struct {
	f  *Frame
	at time.Time
}

// play runs the client's receive loop on a fake clock: packets are pushed in
// arrival order, and Pop is called after every packet and at every time it
// asked for in between.
func play(b *Buffer, pkts []Packet) []played {
	var out []played
	var next time.Time
	popUntil := func(now time.Time) {
		for {
			f, n := b.Pop(now)
			next = n
			if f == nil {
				return
			}
			out = append(out, played{f, now})
		}
	}
	drain := func(until time.Time) {
		for !next.IsZero() && !next.After(until) {
			popUntil(next)
		}
	}
	for _, p := range pkts {
		drain(p.Arrival)
		b.Push(p)
		popUntil(p.Arrival)
	}
	drain(time.Unix(1<<40, 0))
	return out
}

func without(pkts []Packet, j int) []Packet { return slices.Delete(slices.Clone(pkts), j, j+1) }

func TestScenarios(t *testing.T) {
	cases := []struct {
		name   string
		seq0   uint16
		ts0    uint32
		cfg    Config
		edit   func(s *testStream)
		played func(s *testStream) []int // frames played, in order; all when nil
		paths  uint32                    // every played frame's Paths; 1 when 0
		want   func(s *testStream) Stats
	}{
		{
			name: "in order",
			want: func(s *testStream) Stats { return Stats{FramesComplete: 10} },
		},
		{
			name: "reordered within each frame",
			edit: func(s *testStream) {
				for _, f := range s.frames {
					for j, k := 0, len(f)-1; j < k; j, k = j+1, k-1 {
						f[j].Arrival, f[k].Arrival = f[k].Arrival, f[j].Arrival
					}
				}
			},
			want: func(s *testStream) Stats {
				return Stats{FramesComplete: 10, PacketsReordered: s.count(s.all()...) - 10}
			},
		},
		{
			name: "frame overtaken by the next one",
			edit: func(s *testStream) {
				for j := range s.frames[3] {
					s.frames[3][j].Arrival = s.frames[3][j].Arrival.Add(50 * time.Millisecond)
				}
			},
			want: func(s *testStream) Stats {
				return Stats{FramesComplete: 10, PacketsReordered: s.count(3)}
			},
		},
		{
			name: "packet twice",
			edit: func(s *testStream) {
				p := s.frames[2][1]
				p.Arrival = p.Arrival.Add(time.Millisecond)
				s.frames[2] = append(s.frames[2], p)
			},
			want: func(s *testStream) Stats { return Stats{FramesComplete: 10, DuplicatesDropped: 1} },
		},
		{
			name: "every packet on two paths",
			edit: func(s *testStream) {
				for i, f := range s.frames {
					for _, p := range f {
						p.Path, p.Arrival = 1, p.Arrival.Add(5*time.Millisecond)
						s.frames[i] = append(s.frames[i], p)
					}
				}
			},
			paths: 0b11,
			want: func(s *testStream) Stats {
				return Stats{FramesComplete: 10, DuplicatesDropped: s.count(s.all()...) / 2}
			},
		},
		{
			name: "copy after the frame was played",
			edit: func(s *testStream) {
				p := s.frames[0][0]
				p.Path, p.Arrival = 1, due(s.cfg, 0).Add(5*time.Millisecond)
				s.frames[0] = append(s.frames[0], p)
			},
			want: func(s *testStream) Stats { return Stats{FramesComplete: 10, DuplicatesDropped: 1} },
		},
		{
			name:   "lost packet",
			edit:   func(s *testStream) { s.frames[3] = without(s.frames[3], 1) },
			played: func(s *testStream) []int { return []int{0, 1, 2, 4, 5, 6, 7, 8, 9} },
			want:   func(s *testStream) Stats { return Stats{FramesComplete: 9, FramesIncomplete: 1} },
		},
		{
			name:   "lost first fragment",
			edit:   func(s *testStream) { s.frames[0] = without(s.frames[0], 0) },
			played: func(s *testStream) []int { return []int{1, 2, 3, 4, 5, 6, 7, 8, 9} },
			want:   func(s *testStream) Stats { return Stats{FramesComplete: 9, FramesIncomplete: 1} },
		},
		{
			name:   "lost marker",
			edit:   func(s *testStream) { s.frames[9] = without(s.frames[9], len(s.frames[9])-1) },
			played: func(s *testStream) []int { return []int{0, 1, 2, 3, 4, 5, 6, 7, 8} },
			want:   func(s *testStream) Stats { return Stats{FramesComplete: 9, FramesIncomplete: 1} },
		},
		{
			name: "packet after its frame's due",
			edit: func(s *testStream) {
				s.frames[3][1].Arrival = due(s.cfg, 3).Add(time.Millisecond)
			},
			played: func(s *testStream) []int { return []int{0, 1, 2, 4, 5, 6, 7, 8, 9} },
			want: func(s *testStream) Stats {
				return Stats{FramesComplete: 9, FramesLate: 1, PacketsLate: 1, PacketsReordered: 1}
			},
		},
		{
			name:   "whole frame lost",
			edit:   func(s *testStream) { s.frames[3] = nil },
			played: func(s *testStream) []int { return []int{0, 1, 2, 4, 5, 6, 7, 8, 9} },
			want:   func(s *testStream) Stats { return Stats{FramesComplete: 9, FramesMissing: 1} },
		},
		{
			name:   "two frames lost, interval configured",
			cfg:    Config{FrameInterval: tick},
			edit:   func(s *testStream) { s.frames[1], s.frames[2] = nil, nil },
			played: func(s *testStream) []int { return []int{0, 3, 4, 5, 6, 7, 8, 9} },
			want:   func(s *testStream) Stats { return Stats{FramesComplete: 8, FramesMissing: 2} },
		},
		{
			name: "sequence number wraps",
			seq0: 65530,
			want: func(s *testStream) Stats { return Stats{FramesComplete: 10} },
		},
		{
			name: "sequence number wraps, reordered across the wrap",
			seq0: 65530,
			edit: func(s *testStream) {
				for _, f := range s.frames[:2] {
					slices.Reverse(f)
					for j := range f {
						f[j].Arrival = f[0].Arrival.Add(time.Duration(j) * spacing)
					}
				}
			},
			want: func(s *testStream) Stats {
				return Stats{FramesComplete: 10, PacketsReordered: s.count(0, 1) - 2}
			},
		},
		{
			name: "timestamp wraps",
			ts0:  1<<32 - 3*tick + 1234,
			want: func(s *testStream) Stats { return Stats{FramesComplete: 10} },
		},
		{
			name:   "both wrap, with a loss across the wrap",
			seq0:   65533,
			ts0:    1<<32 - tick/2,
			edit:   func(s *testStream) { s.frames[0] = without(s.frames[0], 4) },
			played: func(s *testStream) []int { return []int{1, 2, 3, 4, 5, 6, 7, 8, 9} },
			want:   func(s *testStream) Stats { return Stats{FramesComplete: 9, FramesIncomplete: 1} },
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStream(t, 10, c.seq0, c.ts0, testMTU)
			s.cfg = c.cfg
			if c.edit != nil {
				c.edit(s)
			}
			b := New(c.cfg)
			out := play(b, s.packets())
			wantPlayed := s.all()
			if c.played != nil {
				wantPlayed = c.played(s)
			}
			paths := c.paths
			if paths == 0 {
				paths = 1
			}
			var got []int
			for _, p := range out {
				i := s.index(p.f)
				got = append(got, i)
				checkFrame(t, s, p, i, due(c.cfg, i), paths)
			}
			if !slices.Equal(got, wantPlayed) {
				t.Errorf("played frames %v, want %v", got, wantPlayed)
			}
			if st, want := b.Stats(), c.want(s); st != want {
				t.Errorf("stats\n got %+v\nwant %+v", st, want)
			}
			if len(b.pending) != 0 {
				t.Errorf("%d frames still held", len(b.pending))
			}
		})
	}
}

// checkFrame checks one played frame: the right picture, due at the
// expected time and released exactly then.
func checkFrame(t *testing.T, s *testStream, p played, i int, due time.Time, paths uint32) {
	t.Helper()
	f := p.f
	if !bytes.Equal(f.Data, s.jpegs[i]) {
		t.Errorf("frame %d: JPEG differs from the one sent", i)
	}
	if !f.Due.Equal(due) || !p.at.Equal(due) {
		t.Errorf("frame %d: due %v, released %v, want both %v", i, f.Due.Sub(t0), p.at.Sub(t0), due.Sub(t0))
	}
	if f.Paths != paths {
		t.Errorf("frame %d: paths %b, want %b", i, f.Paths, paths)
	}
	if f.FirstArrival.After(f.Completed) || f.Completed.After(f.Due) {
		t.Errorf("frame %d: first arrival %v, completed %v, due %v", i,
			f.FirstArrival.Sub(t0), f.Completed.Sub(t0), f.Due.Sub(t0))
	}
}

// A caller whose timer fires late gets the same verdict: a frame is judged
// by when its packets arrived, not by when Pop looked at it.
func TestLateJudgedByArrival(t *testing.T) {
	s := newStream(t, 6, 100, 0, testMTU)
	s.frames[3][1].Arrival = due(s.cfg, 3).Add(time.Millisecond)
	b := New(Config{})
	for _, p := range s.packets() {
		b.Push(p)
	}
	var got []int
	for now := due(s.cfg, 0); !now.IsZero(); {
		var f *Frame
		f, now = b.Pop(now)
		if f != nil {
			got = append(got, s.index(f))
		}
	}
	if want := []int{0, 1, 2, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("played %v, want %v", got, want)
	}
	want := Stats{FramesComplete: 5, FramesLate: 1, PacketsLate: 1, PacketsReordered: 1}
	if st := b.Stats(); st != want {
		t.Errorf("stats\n got %+v\nwant %+v", st, want)
	}
}

// Arrival jitter of ±20 ms, well inside the 150 ms latency, must not show
// in the output: every frame plays, exactly 40 ms after the previous one.
func TestJitterSteadyPace(t *testing.T) {
	const n = 100
	s := newStream(t, n, 40000, 123456, testMTU)
	rng := rand.New(rand.NewPCG(1, 2))
	const jitter = 20 * time.Millisecond
	for i, f := range s.frames {
		for j := range f {
			d := time.Duration(rng.Int64N(int64(2*jitter+1))) - jitter
			if i == 0 && j == 0 {
				d = -jitter // the fastest packet comes first: the clock never moves
			}
			f[j].Arrival = f[j].Arrival.Add(d)
		}
	}
	b := New(Config{Latency: 150 * time.Millisecond})
	out := play(b, s.packets())
	if len(out) != n {
		t.Fatalf("%d frames played, want %d (%+v)", len(out), n, b.Stats())
	}
	for i, p := range out {
		if s.index(p.f) != i {
			t.Fatalf("frame %d played as number %d", s.index(p.f), i)
		}
		if !p.at.Equal(p.f.Due) {
			t.Errorf("frame %d released at %v, due %v", i, p.at.Sub(t0), p.f.Due.Sub(t0))
		}
		if i > 0 {
			if d := p.f.Due.Sub(out[i-1].f.Due); d != frameDur {
				t.Errorf("frame %d due %v after the previous one, want %v", i, d, frameDur)
			}
		}
	}
	st := b.Stats()
	if st.FramesComplete != n || st.PacketsReordered == 0 {
		t.Errorf("stats %+v: want %d complete and some reordering", st, n)
	}
}

// A packet faster than any before moves the schedule earlier, at once and
// for every frame still held; slower ones never move it later.
func TestFasterPacketPullsClock(t *testing.T) {
	s := newStream(t, 10, 0, 0, testMTU)
	for i, f := range s.frames {
		extra := 40 * time.Millisecond // slow path for frames 0-4
		if i >= 5 {
			extra = 20 * time.Millisecond // a faster one from frame 5 on
		}
		if i == 7 {
			extra = 90 * time.Millisecond // one delayed frame changes nothing
		}
		for j := range f {
			f[j].Arrival = f[j].Arrival.Add(extra)
		}
	}
	b := New(Config{})
	out := play(b, s.packets())
	slow := due(s.cfg, 0).Add(40 * time.Millisecond)
	fast := due(s.cfg, 0).Add(20 * time.Millisecond)
	faster := s.frames[5][0].Arrival // when the first fast packet came
	for _, p := range out {
		i := s.index(p.f)
		wantDue := slow.Add(time.Duration(i) * frameDur)
		if !wantDue.Before(faster) {
			wantDue = fast.Add(time.Duration(i) * frameDur)
		}
		wantAt := wantDue
		if wantAt.Before(faster) && !slow.Add(time.Duration(i)*frameDur).Before(faster) {
			wantAt = faster // was due later until the fast packet came, now overdue
		}
		if !p.f.Due.Equal(wantDue) || !p.at.Equal(wantAt) {
			t.Errorf("frame %d: due %v released %v, want due %v released %v",
				i, p.f.Due.Sub(t0), p.at.Sub(t0), wantDue.Sub(t0), wantAt.Sub(t0))
		}
	}
	if st := b.Stats(); st.FramesComplete != 10 {
		t.Errorf("stats %+v, want 10 complete", st)
	}
}

// A viewer started at the server's kept group of pictures gets frames up
// to a second old in one burst, then the live ones: the burst is caught up
// (played at once, in order, none late), and the delay does not take its
// age for the paths' spread.
func TestStartBurstCaughtUp(t *testing.T) {
	const old = 25 // a second of frames, sent at once when the viewer joins
	s := newStream(t, old+10, 0, 0, testMTU)
	joined := sent(old) // when the viewer joined: frame 25 is live
	for i, f := range s.frames {
		for j := range f {
			if i < old {
				f[j].Arrival = joined.Add(time.Duration(i*len(f)+j) * 20 * time.Microsecond)
			}
		}
	}
	b := New(Config{Adaptive: true})
	out := play(b, s.packets())
	if len(out) != old+10 {
		t.Fatalf("%d frames played, want all %d", len(out), old+10)
	}
	for k, p := range out {
		if i := s.index(p.f); i != k {
			t.Fatalf("played frame %d as the %dth: out of order", i, k)
		}
	}
	st := b.Stats()
	if st.FramesLate != 0 || st.FramesComplete != old+10 {
		t.Errorf("stats %+v: want every frame complete, none late", st)
	}
	// Nor does it take the age of the burst's newest frames, those within
	// the maximum delay of the join: on time by the clock they came under.
	if l := b.Latency(); l > DefaultMinLatency+delayMargin {
		t.Errorf("the play-out delay went to %v of at most %v: the burst's age was taken for spread", l, b.cfg.Latency)
	}
}

// More frames than MaxFrames at once push out the oldest: memory stays
// bounded when nobody calls Pop, and the newest pictures survive.
func TestMaxFrames(t *testing.T) {
	s := newStream(t, 10, 7, 7, testMTU)
	b := New(Config{MaxFrames: 4})
	for _, p := range s.packets() {
		b.Push(p)
		if len(b.pending) > 4 {
			t.Fatalf("%d frames held, bound 4", len(b.pending))
		}
	}
	want := Stats{FramesIncomplete: 6, PacketsOverflow: s.count(0, 1, 2, 3, 4, 5)}
	if st := b.Stats(); st != want {
		t.Errorf("after pushing: stats\n got %+v\nwant %+v", st, want)
	}
	var got []int
	for now := due(s.cfg, 0); !now.IsZero(); {
		var f *Frame
		f, now = b.Pop(now)
		if f != nil {
			got = append(got, s.index(f))
		}
	}
	if !slices.Equal(got, []int{6, 7, 8, 9}) {
		t.Errorf("played %v, want the newest four", got)
	}
}

// Packets beyond the per-frame byte cap are discarded and the frame dropped.
func TestFrameByteCap(t *testing.T) {
	s := newStream(t, 3, 0, 0, testMTU)
	b := New(Config{MaxFrameBytes: 256})
	out := play(b, s.packets())
	st := b.Stats()
	if len(out) != 0 || st.FramesIncomplete != 3 || st.PacketsOverflow == 0 {
		t.Errorf("%d frames played, stats %+v: want none, 3 incomplete, some overflow", len(out), st)
	}
}

// A frame whose packets are all there but that the depacketizer refuses is
// incomplete, and stays so whatever comes later.
func TestMalformedFrame(t *testing.T) {
	s := newStream(t, 4, 0, 0, testMTU)
	bad := slices.Clone(s.frames[2][1].Payload)
	bad[4] = 7 // no such RFC 2435 type
	s.frames[2][1].Payload = bad
	b := New(Config{})
	out := play(b, s.packets())
	want := Stats{FramesComplete: 3, FramesIncomplete: 1}
	if st := b.Stats(); len(out) != 3 || st != want {
		t.Errorf("%d played, stats %+v, want 3 and %+v", len(out), st, want)
	}
}

// Stop long after the frames' Due plays what is complete now that nothing
// more will come, and counts the rest.
func TestStopAfterTheEnd(t *testing.T) {
	s := newStream(t, 6, 0, 0, testMTU)
	s.frames[2] = without(s.frames[2], 2)
	b := New(Config{})
	for _, f := range s.frames[:5] {
		for _, p := range f {
			b.Push(p)
		}
	}
	var got []int
	for _, f := range b.Stop(t0.Add(time.Hour)) {
		got = append(got, s.index(f))
		if !f.Due.Equal(due(s.cfg, s.index(f))) {
			t.Errorf("frame %d due %v", s.index(f), f.Due.Sub(t0))
		}
	}
	if !slices.Equal(got, []int{0, 1, 3, 4}) {
		t.Errorf("flushed %v, want 0 1 3 4", got)
	}
	if st := b.Stats(); st != (Stats{FramesComplete: 4, FramesIncomplete: 1}) {
		t.Errorf("stats %+v", st)
	}
	if len(b.pending) != 0 {
		t.Fatal("frames held after Stop")
	}
	if f, next := b.Pop(t0.Add(time.Hour)); f != nil || !next.IsZero() {
		t.Fatalf("Pop after Stop: %v %v", f, next)
	}
	for _, p := range s.frames[5] { // still usable
		b.Push(p)
	}
	if f, _ := b.Pop(due(s.cfg, 5)); f == nil || s.index(f) != 5 {
		t.Fatal("frame after Stop not played")
	}
}

// Stop finishes what is due or complete; a frame still arriving when the
// viewer stops is cut short by it, not lost, and is not counted.
func TestStop(t *testing.T) {
	s := newStream(t, 6, 0, 0, testMTU)
	s.frames[1] = without(s.frames[1], 1) // lost a packet, and overdue at the stop
	b := New(Config{})
	for _, f := range s.frames[:5] {
		for _, p := range f {
			b.Push(p)
		}
	}
	b.Push(s.frames[5][0]) // the stop comes while frame 5 arrives
	var got []int
	for _, f := range b.Stop(s.frames[5][0].Arrival.Add(time.Millisecond)) {
		got = append(got, s.index(f))
	}
	if !slices.Equal(got, []int{0, 2, 3, 4}) {
		t.Errorf("stopped with %v, want 0 2 3 4", got)
	}
	if st := b.Stats(); st != (Stats{FramesComplete: 4, FramesIncomplete: 1}) {
		t.Errorf("stats %+v: want frame 1 incomplete and frame 5 uncounted", st)
	}
	if len(b.pending) != 0 {
		t.Fatal("frames held after Stop")
	}
}

// Pop says when to come back, and nothing before.
func TestPopSchedule(t *testing.T) {
	s := newStream(t, 2, 0, 0, testMTU)
	b := New(Config{})
	if f, next := b.Pop(t0); f != nil || !next.IsZero() {
		t.Fatalf("empty buffer: %v %v", f, next)
	}
	for _, p := range s.packets() {
		b.Push(p)
	}
	d0 := due(s.cfg, 0)
	if f, next := b.Pop(d0.Add(-time.Nanosecond)); f != nil || !next.Equal(d0) {
		t.Fatalf("before due: frame %v, next %v, want nil, %v", f, next.Sub(t0), d0.Sub(t0))
	}
	f, next := b.Pop(d0)
	if f == nil || !next.Equal(due(s.cfg, 1)) {
		t.Fatalf("at due: frame %v, next %v", f, next.Sub(t0))
	}
}

func TestUnwrap(t *testing.T) {
	cases := []struct {
		name string
		bits uint
		in   []uint32
		want []int64
	}{
		{"16 in order", 16, []uint32{10, 11, 12}, []int64{10, 11, 12}},
		{"16 wrap", 16, []uint32{65534, 65535, 0, 1}, []int64{65534, 65535, 65536, 65537}},
		{"16 reordered over the wrap", 16, []uint32{65535, 1, 0, 65534, 2}, []int64{65535, 65537, 65536, 65534, 65538}},
		{"16 before the first", 16, []uint32{3, 65535}, []int64{3, -1}},
		{"16 twice round", 16, []uint32{0, 30000, 60000, 24464, 54464, 18928}, []int64{0, 30000, 60000, 90000, 120000, 150000}},
		{"32 wrap", 32, []uint32{1<<32 - 3600, 0, 3600}, []int64{1<<32 - 3600, 1 << 32, 1<<32 + 3600}},
		{"32 reordered over the wrap", 32, []uint32{100, 1<<32 - 100}, []int64{100, -100}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := unwrapper{bits: c.bits}
			for i, v := range c.in {
				ext := u.extend(v)
				if ext != c.want[i] {
					t.Fatalf("value %d (%d): extended %d, want %d", i, v, ext, c.want[i])
				}
				u.accept(ext)
			}
		})
	}
}

func TestSeqWindow(t *testing.T) {
	w := newSeqWindow()
	w.add(5)
	if !w.has(5) || w.has(4) || w.has(6) {
		t.Fatal("window after one")
	}
	w.add(5 + window) // 5's slot is reused
	if w.has(5) || !w.tooOld(5) || !w.has(5+window) || w.tooOld(6) {
		t.Fatal("window after a jump")
	}
	w.add(5 + 3*window)
	if w.has(5+window) || !w.has(5+3*window) {
		t.Fatal("window after a long jump")
	}
}

// A jump clears exactly the slots it takes over, word-aligned or not.
func TestSeqWindowClear(t *testing.T) {
	for _, jump := range []int64{1, 63, 64, 65, 130, 1000, window - 1} {
		w := newSeqWindow()
		for s := int64(0); s < window; s += 3 {
			w.add(s)
		}
		base := w.max
		w.add(base + jump)
		for s := base + jump - window + 1; s <= base+jump; s++ {
			want := s == base+jump || (s <= base && s%3 == 0)
			if w.has(s) != want {
				t.Fatalf("jump %d: has(%d) = %v, want %v", jump, s, !want, want)
			}
		}
	}
}
