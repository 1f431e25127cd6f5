package demux

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestMJPEGStream(t *testing.T) {
	pics := rawFrames(t)
	whole := bytes.Join(pics, nil)
	cases := []struct {
		name  string
		data  []byte
		max   int
		want  [][]byte
		errs  []error // after the pictures, in order
		final error
	}{
		{"back to back", whole, 1 << 20, pics, nil, io.EOF},
		{"garbage between", bytes.Join([][]byte{[]byte("text"), pics[0], []byte{0, 1, 2}, pics[1]}, nil), 1 << 20,
			[][]byte{pics[0], pics[1]}, []error{ErrCorruptFrame, ErrCorruptFrame}, io.EOF},
		{"cut inside", append(append([]byte{}, pics[0]...), pics[1][:20]...), 1 << 20, [][]byte{pics[0]}, nil, ErrTruncated},
		{"over the limit", bytes.Join([][]byte{pics[0], pics[0]}, nil), 64, nil, nil, ErrFrameTooLarge},
		{"no picture in the limit", bytes.Repeat([]byte{7}, 1000), 100, nil, []error{ErrCorruptFrame}, ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewMJPEGStream(bytes.NewReader(c.data), c.max)
			var got [][]byte
			var errs []error
			for {
				b, err := s.Next()
				if err == nil {
					got = append(got, bytes.Clone(b))
					continue
				}
				if errors.Is(err, ErrCorruptFrame) {
					errs = append(errs, err)
					continue
				}
				if !errors.Is(err, c.final) {
					t.Fatalf("ended with %v, want %v", err, c.final)
				}
				break
			}
			equalFrames(t, got, c.want)
			if len(errs) != len(c.errs) {
				t.Fatalf("errors %v, want %d", errs, len(c.errs))
			}
		})
	}
}

// TestMJPEGStreamDoesNotWait: a picture is handed out as soon as its EOI
// has arrived, while the writer is still open and writes nothing more.
func TestMJPEGStreamDoesNotWait(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	pic := rawFrames(t)[1]
	go pw.Write(pic)
	got, err := NewMJPEGStream(pr, 1<<20).Next()
	if err != nil || !bytes.Equal(got, pic) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
}

// FuzzMJPEGStream: whatever a helper writes, every picture handed out
// runs from SOI to EOI within the limit (plus one marker segment), and
// the stream ends in an error instead of looping.
func FuzzMJPEGStream(f *testing.F) {
	for _, p := range rawFrames(f) {
		f.Add(p)
	}
	f.Add(append([]byte("garbage"), rawFrames(f)[0]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 4096
		s := NewMJPEGStream(bytes.NewReader(data), limit)
		for i := 0; ; i++ {
			if i > len(data)+1 {
				t.Fatal("more results than input bytes")
			}
			b, err := s.Next()
			if errors.Is(err, ErrCorruptFrame) {
				continue
			}
			if err != nil {
				return
			}
			if len(b) < 4 || !bytes.HasPrefix(b, soi) || !bytes.HasSuffix(b, []byte{0xFF, 0xD9}) || len(b) > limit+1<<16 {
				t.Fatalf("picture of %d bytes: % x", len(b), b[:min(len(b), 8)])
			}
		}
	})
}
