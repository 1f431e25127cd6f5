package daemon

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"os"
	"testing"

	"flowcam/capture"
	"flowcam/capture/jpeg"
	"flowcam/stream/format/rtpjpeg"
)

// scripted delivers the given camera JPEGs, then calls drained (if set)
// and waits. The pipeline asks for the next frame only once it has handled
// the last, so drained is when every frame has been through it.
type scripted struct {
	frames  [][]byte
	drained func()
}

func (s *scripted) Next(ctx context.Context) (*capture.Frame, error) {
	if len(s.frames) == 0 {
		if s.drained != nil {
			s.drained()
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	f := &capture.Frame{JPEG: s.frames[0]}
	s.frames = s.frames[1:]
	return f, nil
}

func (s *scripted) Close() error { return nil }

// stripDHT removes the Huffman tables, as UVC cameras send their frames.
func stripDHT(b []byte) []byte {
	out := append([]byte(nil), b[:2]...)
	for pos := 2; pos+4 <= len(b); {
		n := int(binary.BigEndian.Uint16(b[pos+2:]))
		if b[pos+1] != 0xC4 {
			out = append(out, b[pos:pos+2+n]...)
		}
		if b[pos+1] == 0xDA {
			return append(out, b[pos+2+n:]...)
		}
		pos += 2 + n
	}
	return out
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCameraJPEGPassthrough runs camera-style frames through the pipeline
// as flowcamd wires it: sendable frames go out untouched, the others are
// re-encoded (saying why once), corrupt ones are dropped and counted.
func TestCameraJPEGPassthrough(t *testing.T) {
	uvc := read(t, "uvc-422.jpg")
	cases := []struct {
		name string
		in   []byte
		as   string // "same", "reencoded" or "dropped"
		typ  uint8
	}{
		{"4:2:2 with tables", uvc, "same", 0},
		{"4:2:2 without Huffman tables (UVC)", stripDHT(uvc), "same", 0},
		{"4:4:4", read(t, "uvc-444.jpg"), "reencoded", 0},
		{"optimized Huffman tables", read(t, "uvc-422-optimized.jpg"), "reencoded", 0},
		{"truncated", uvc[:len(uvc)/2], "dropped", 0},
		{"garbage", []byte{0xFF, 0xD8, 0xFF, 0x00, 1, 2, 3}, "dropped", 0},
	}
	enc, _ := jpeg.New(80)
	src := &scripted{}
	for _, c := range cases {
		src.frames = append(src.frames, c.in)
	}
	var out [][]byte
	ctx, cancel := context.WithCancel(context.Background())
	var logs bytes.Buffer
	p := capture.NewPipeline(src, enc, func(f *capture.Frame) {
		out = append(out, bytes.Clone(f.JPEG))
	}, slog.New(slog.NewTextHandler(&logs, nil)), capture.WithPassthroughCheck(sendable, enc))
	src.drained = cancel
	p.Run(ctx)
	k := 0
	for _, c := range cases {
		if c.as == "dropped" {
			continue
		}
		got := out[k]
		k++
		var pic rtpjpeg.Picture
		if err := rtpjpeg.Parse(got, &pic); err != nil || pic.Type != c.typ {
			t.Errorf("%s: output cannot be sent: %v (type %d)", c.name, err, pic.Type)
		}
		if same := bytes.Equal(got, c.in); same != (c.as == "same") {
			t.Errorf("%s: passed through %v, want %s", c.name, same, c.as)
		}
	}
	st := p.Stats()
	if st.Passthrough != 2 || st.Transcoded != 2 || st.Dropped != 2 || len(out) != 4 {
		t.Fatalf("stats %+v, %d frames out", st, len(out))
	}
	if n := bytes.Count(logs.Bytes(), []byte("re-encoded")); n != 1 {
		t.Fatalf("the reason was logged %d times, want once:\n%s", n, logs.String())
	}

}
