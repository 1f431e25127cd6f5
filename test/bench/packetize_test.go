package bench_test

import (
	"fmt"
	"testing"

	"flowcam/stream/format/rtpbuf"
	"flowcam/stream/format/rtpjpeg"
)

// packetizeFig is the cost of turning one JPEG into RTP payloads.
type packetizeFig struct {
	ns, allocs, packets, bytes float64
}

// measurePacketize times rtpjpeg.Parse plus Packetize on our JPEG, the work
// the daemon does once per frame whatever the number of viewers.
func measurePacketize(t *testing.T, jpg []byte) packetizeFig {
	pk, err := rtpjpeg.NewPacketizer(mtu)
	if err != nil {
		t.Fatalf("NewPacketizer(%d): %v", mtu, err)
	}
	var figs []packetizeFig
	for i := range runs {
		fig, err := packetizeOnce(pk, jpg)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("packetize run %d: %.0f ns/frame, %.0f allocs/op, %.0f packets/frame", i+1, fig.ns, fig.allocs, fig.packets)
		figs = append(figs, fig)
	}
	fig := packetizeFig{
		ns:      median(column(figs, func(f packetizeFig) float64 { return f.ns })),
		allocs:  median(column(figs, func(f packetizeFig) float64 { return f.allocs })),
		packets: median(column(figs, func(f packetizeFig) float64 { return f.packets })),
		bytes:   figs[0].bytes,
	}
	// Not a time: the packetizer is documented to allocate nothing once
	// warm, and every frame of every stream goes through it.
	if fig.allocs != 0 {
		t.Errorf("packetizing allocates %.0f times per frame, want 0", fig.allocs)
	}
	return fig
}

func packetizeOnce(pk *rtpjpeg.Packetizer, jpg []byte) (packetizeFig, error) {
	var pic rtpjpeg.Picture
	var pl rtpbuf.Payloads
	var parseErr error
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if parseErr = rtpjpeg.Parse(jpg, &pic); parseErr != nil {
				return
			}
			pk.Packetize(&pl, &pic)
		}
	})
	switch {
	case parseErr != nil:
		return packetizeFig{}, fmt.Errorf("rtpjpeg.Parse of flowcamd's own JPEG: %w", parseErr)
	case r.N == 0 || pl.Len() == 0:
		return packetizeFig{}, fmt.Errorf("packetize benchmark did not run")
	}
	return packetizeFig{
		ns:      float64(r.T.Nanoseconds()) / float64(r.N),
		allocs:  float64(r.AllocsPerOp()),
		packets: float64(pl.Len()),
		bytes:   float64(pl.Bytes()),
	}, nil
}

func (p packetizeFig) table() string {
	tb := newTable(fmt.Sprintf("packetize %dx%d q%d JPEG, MTU %d", width, height, quality, mtu),
		"ns/frame", "allocs/op", "packets/frame", "payload bytes", "% of one core at 25 fps")
	tb.row("rtpjpeg.Parse + Packetize", f0(p.ns), f0(p.allocs), f0(p.packets), f0(p.bytes),
		fmt.Sprintf("%.3f%%", p.ns*fps/1e9*100))
	return tb.String()
}
