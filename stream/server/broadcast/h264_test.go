package broadcast

import (
	"slices"
	"strings"
	"testing"
	"time"

	"flowcam/capture"
	"flowcam/stream/format/rtph264"
)

var (
	testSPS = []byte{0x67, 0x42, 0xC0, 0x1F, 0xDA, 0x01, 0x40, 0x16, 0xE8}
	testPPS = []byte{0x68, 0xCE, 0x06, 0xE2}
)

func newH264Broadcaster(t testing.TB) *Broadcaster {
	pk, err := rtph264.NewPacketizer(1400)
	if err != nil {
		t.Fatal(err)
	}
	return New(H264(pk), nil)
}

// publishH264 publishes frames by sequence number; those in keys are IDRs,
// the first of them with its parameter sets in band.
func publishH264(b *Broadcaster, keys map[uint64]bool, seqs ...uint64) {
	for _, s := range seqs {
		f := &capture.Frame{Seq: s, PTS: time.Duration(s) * 40 * time.Millisecond, H264: [][]byte{{0x41, 0x9A, byte(s)}}}
		if keys[s] {
			f.H264, f.Key = [][]byte{{0x65, 0x88, byte(s)}}, true
			if s == 0 {
				f.H264 = [][]byte{testSPS, testPPS, {0x65, 0x88, 0}}
			}
		}
		b.Publish(f)
	}
}

// TestH264ViewerStartsAtTheKeyFrame: a viewer that joins mid-GOP gets the
// kept group from its IDR on, and the IDR carries the parameter sets even
// when the source sent them only once.
func TestH264ViewerStartsAtTheKeyFrame(t *testing.T) {
	b := newH264Broadcaster(t)
	keys := map[uint64]bool{0: true, 5: true}
	publishH264(b, keys, 0, 1, 2, 3, 4, 5, 6, 7)
	s := b.Subscribe(4)
	defer s.Close()
	u := s.Next()
	if u == nil || u.Seq != 5 || !u.Key {
		t.Fatalf("the first frame a new viewer gets is %+v, want the IDR of seq 5", u)
	}
	var d rtph264.Depacketizer
	var au [][]byte
	for i := range u.Payloads.Len() {
		au, _ = d.Push(uint16(i), 0, i == u.Payloads.Len()-1, u.Payloads.At(i))
	}
	if len(au) != 3 || au[0][0] != 0x67 || au[1][0] != 0x68 || au[2][0] != 0x65 {
		t.Fatalf("the IDR goes out as %x, want SPS, PPS, IDR", au)
	}
	u.Release()
	if got := drain(s); !slices.Equal(got, []uint64{6, 7}) {
		t.Fatalf("then %v, want 6 7", got)
	}
	if m := b.Media(); m.PayloadType != 96 || !strings.Contains(m.Fmtp, "sprop-parameter-sets=Z0LAH9oBQBbo,aM4G4g==") {
		t.Fatalf("media %+v", m)
	}
}

// TestH264LateViewerSkipsToTheNextKeyFrame: a viewer whose queue overflows
// loses the whole queue and everything up to the next IDR, never one frame
// out of a reference chain.
func TestH264LateViewerSkipsToTheNextKeyFrame(t *testing.T) {
	b := newH264Broadcaster(t)
	keys := map[uint64]bool{0: true, 10: true}
	publishH264(b, keys, 0)
	s := b.Subscribe(3) // room for the kept IDR and 3 more
	defer s.Close()
	publishH264(b, keys, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
	if got := drain(s); !slices.Equal(got, []uint64{10, 11}) {
		t.Fatalf("the late viewer gets %v, want 10 11 (from the next IDR)", got)
	}
	if s.Dropped() != 10 {
		t.Fatalf("dropped %d, want 10", s.Dropped())
	}
}

// TestH264GOPBounds: a source whose key frames are too far apart for the
// kept group makes new viewers wait for the next one.
func TestH264GOPBounds(t *testing.T) {
	b := newH264Broadcaster(t)
	seqs := make([]uint64, maxGOPFrames+5)
	for i := range seqs {
		seqs[i] = uint64(i)
	}
	publishH264(b, map[uint64]bool{0: true, uint64(maxGOPFrames + 10): true}, seqs...)
	s := b.Subscribe(4)
	defer s.Close()
	if u := s.Next(); u != nil {
		t.Fatalf("a frame (%d) without its key frame was queued", u.Seq)
	}
	publishH264(b, map[uint64]bool{uint64(maxGOPFrames + 10): true}, uint64(maxGOPFrames+9), uint64(maxGOPFrames+10))
	if got := drain(s); !slices.Equal(got, []uint64{uint64(maxGOPFrames + 10)}) {
		t.Fatalf("got %v, want the next IDR", got)
	}
}

// TestRequestKeyFrame: a request queues the kept group again from its IDR,
// marked as replayed, in place of what waited; a second one within the
// interval is refused; JPEG streams never need one.
func TestRequestKeyFrame(t *testing.T) {
	b := newH264Broadcaster(t)
	keys := map[uint64]bool{0: true}
	publishH264(b, keys, 0, 1, 2)
	s := b.Subscribe(4)
	defer s.Close()
	drain(s)
	publishH264(b, keys, 3)
	now := time.Unix(100, 0)
	if !s.RequestKeyFrame(now, time.Second) {
		t.Fatal("the first request was refused")
	}
	var seqs []uint64
	for u, replay := s.NextReplay(); u != nil; u, replay = s.NextReplay() {
		if !replay {
			t.Fatalf("frame %d not marked as replayed", u.Seq)
		}
		seqs = append(seqs, u.Seq)
		u.Release()
	}
	if !slices.Equal(seqs, []uint64{0, 1, 2, 3}) {
		t.Fatalf("replayed %v, want the group 0-3", seqs)
	}
	if s.RequestKeyFrame(now.Add(500*time.Millisecond), time.Second) || !s.RequestKeyFrame(now.Add(time.Second), time.Second) {
		t.Fatal("the rate limit is not one a second")
	}
	if j := newTestBroadcaster(t).Subscribe(4); j.RequestKeyFrame(now, time.Second) {
		t.Fatal("a JPEG viewer's request was honoured")
	}
}

// forcer counts key frame requests reaching the encoder.
type forcer struct{ n int }

func (f *forcer) ForceKeyFrame() { f.n++ }

// TestRequestKeyFrameFromTheEncoder: with an encoder that can be asked, a
// request asks it and the viewer drops what waited, starting again at the
// next IDR; a second viewer's request within the interval does not ask
// again (one IDR serves everyone) but replays the kept group to it.
func TestRequestKeyFrameFromTheEncoder(t *testing.T) {
	pk, err := rtph264.NewPacketizer(1400)
	if err != nil {
		t.Fatal(err)
	}
	enc := &forcer{}
	b := New(H264(pk), nil, WithKeyFrameSource(enc))
	keys := map[uint64]bool{0: true, 6: true}
	publishH264(b, keys, 0, 1, 2)
	a, c := b.Subscribe(8), b.Subscribe(8)
	defer a.Close()
	defer c.Close()
	drain(a)
	drain(c)
	publishH264(b, keys, 3, 4)
	now := time.Unix(100, 0)
	if !a.RequestKeyFrame(now, time.Second) || enc.n != 1 {
		t.Fatalf("the first request reached the encoder %d times, want once", enc.n)
	}
	if !c.RequestKeyFrame(now.Add(100*time.Millisecond), time.Second) || enc.n != 1 {
		t.Fatalf("a second viewer's request within the interval asked the encoder again (%d)", enc.n)
	}
	if u, replay := c.NextReplay(); u == nil || !replay || u.Seq != 0 {
		t.Fatalf("the second viewer got %+v (replayed %v), want the kept group from 0", u, replay)
	}
	publishH264(b, keys, 5, 6, 7)
	if u := a.Next(); u == nil || u.Seq != 6 || !u.Key {
		t.Fatalf("after asking, the viewer got %+v first, want the IDR of seq 6", u)
	}
	if !a.RequestKeyFrame(now.Add(time.Second), time.Second) || enc.n != 2 {
		t.Fatalf("a request an interval later reached the encoder %d times in all, want 2", enc.n)
	}
}

// TestH264ParameterSetsAfterTheDelimiter: a key frame that lacks its
// parameter sets gets both, SPS first, after its access unit delimiter.
func TestH264ParameterSetsAfterTheDelimiter(t *testing.T) {
	b := newH264Broadcaster(t)
	publishH264(b, map[uint64]bool{0: true}, 0) // the sets, in band once
	b.Publish(&capture.Frame{Seq: 1, Key: true, H264: [][]byte{{0x09, 0xF0}, testPPS, {0x65, 0x88, 1}}})
	u := b.Latest()
	defer u.Release()
	var d rtph264.Depacketizer
	var au [][]byte
	for i := range u.Payloads.Len() {
		au, _ = d.Push(uint16(i), 0, i == u.Payloads.Len()-1, u.Payloads.At(i))
	}
	var types []byte
	for _, n := range au {
		types = append(types, n[0]&0x1F)
	}
	if !slices.Equal(types, []byte{9, 7, 8, 8, 5}) {
		t.Fatalf("NAL types %v, want AUD, SPS, PPS, then the unit's own PPS and IDR", types)
	}
}

// TestH264SeededParameterSets: sets known before the first frame (a
// file's) are in the description at once.
func TestH264SeededParameterSets(t *testing.T) {
	pk, _ := rtph264.NewPacketizer(1400)
	if m := New(H264(pk, testSPS, testPPS), nil).Media(); !strings.Contains(m.Fmtp, "sprop-parameter-sets=Z0LAH9oBQBbo,aM4G4g==") {
		t.Fatalf("fmtp %q", m.Fmtp)
	}
}
