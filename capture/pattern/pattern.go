// Package pattern is the built-in test camera: colour bars, a grey ramp, a
// box that bounces across the picture and a frame counter, so a frozen,
// repeated or torn frame is visible at a glance. It renders planar YCbCr
// 4:2:0 into pooled buffers and paces itself by an injected clock.
package pattern

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"time"

	"flowcam/capture"
)

// Source is a paced test-pattern camera. It is not safe for concurrent use:
// one pipeline goroutine calls Next.
type Source struct {
	size  capture.Size
	fps   float64
	clock capture.Clock
	pool  *capture.Pool
	bg    *image.YCbCr
	drawn [poolFrames]drawn // what the last render left on each pooled picture
	next  int               // the drawn slot a new picture takes

	start   time.Time
	n       uint64
	started bool
	skipped uint64
}

// Option adjusts a Source.
type Option func(*Source)

// WithClock replaces the system clock, so tests can pace without sleeping.
func WithClock(c capture.Clock) Option { return func(s *Source) { s.clock = c } }

// New returns a pattern source of the given size and frame rate.
func New(size capture.Size, fps float64, opts ...Option) (*Source, error) {
	if err := size.Validate(); err != nil {
		return nil, err
	}
	if !(fps > 0 && fps <= 1000) {
		return nil, fmt.Errorf("pattern: fps %v out of range (0, 1000]", fps)
	}
	s := &Source{
		size:  size,
		fps:   fps,
		clock: capture.SystemClock{},
		pool:  capture.NewPool(size, image.YCbCrSubsampleRatio420, poolFrames),
	}
	for _, o := range opts {
		o(s)
	}
	s.bg = capture.NewYCbCr(size, image.YCbCrSubsampleRatio420)
	drawBackground(s.bg)
	return s, nil
}

// Next waits for the next frame's due time and renders it. When the
// consumer fell more than a frame behind, the missed frames are skipped (the
// counter jumps) instead of being rendered late in a burst.
func (s *Source) Next(ctx context.Context) (*capture.Frame, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	if !s.started {
		s.start, s.started = now, true
	} else {
		s.n++
		due := s.start.Add(s.pts(s.n))
		if wait := due.Sub(now); wait > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-s.clock.After(wait):
			}
		} else if -wait > s.pts(1) {
			behind := uint64(float64(now.Sub(s.start)) * s.fps / float64(time.Second))
			s.skipped += behind - s.n
			s.n = behind
		}
	}
	f := s.pool.Get()
	s.redraw(s.n, f.Image)
	f.PTS = s.pts(s.n)
	f.Captured = s.start.Add(f.PTS)
	f.Seq = s.n
	return f, nil
}

// Skipped counts frames skipped because the consumer was late.
func (s *Source) Skipped() uint64 { return s.skipped }

// Close is a no-op: the pattern holds no device.
func (s *Source) Close() error { return nil }

// pts computes the n-th frame time from the start rather than accumulating
// periods, so fractional rates such as 29.97 never drift.
func (s *Source) pts(n uint64) time.Duration {
	return time.Duration(math.Round(float64(n) * float64(time.Second) / s.fps))
}

// Render draws frame n into dst, which must have the source's size and
// 4:2:0 layout. The picture depends only on n and the frame rate.
func (s *Source) Render(n uint64, dst *image.YCbCr) {
	copy(dst.Y, s.bg.Y)
	copy(dst.Cb, s.bg.Cb)
	copy(dst.Cr, s.bg.Cr)
	drawBox(dst, float64(n)/s.fps, n)
	drawCounter(dst, n)
}

// poolFrames is how many pictures the source recycles.
const poolFrames = 3

// drawn is what a render left over the background on one pooled picture,
// found again by its luma plane.
type drawn struct {
	y           *uint8
	box, digits image.Rectangle
}

// redraw renders frame n into one of the source's own pooled pictures.
// Consumers only read frames, so a picture that comes back from the pool
// still holds the background everywhere but where its last frame drew:
// putting those areas back is a few kilobytes, where copying the whole
// background is over a megabyte at 720p (and more of the serving cost
// than sending it to one viewer).
func (s *Source) redraw(n uint64, dst *image.YCbCr) {
	d := s.slot(&dst.Y[0])
	if d == nil {
		d = &s.drawn[s.next]
		s.next = (s.next + 1) % len(s.drawn)
		d.y = &dst.Y[0]
		copy(dst.Y, s.bg.Y)
		copy(dst.Cb, s.bg.Cb)
		copy(dst.Cr, s.bg.Cr)
	} else {
		restore(dst, s.bg, d.box)
		restore(dst, s.bg, d.digits)
	}
	d.box = drawBox(dst, float64(n)/s.fps, n)
	d.digits = drawCounter(dst, n)
}

// slot finds what was drawn on the picture whose luma starts at y; nil for
// a picture the source has not drawn on yet (the pool made a new one, or
// forgot an old one).
func (s *Source) slot(y *uint8) *drawn {
	for i := range s.drawn {
		if s.drawn[i].y == y {
			return &s.drawn[i]
		}
	}
	return nil
}

// restore copies area r (in luma pixels) and its chroma from bg into dst.
func restore(dst, bg *image.YCbCr, r image.Rectangle) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		i := y*dst.YStride + r.Min.X
		copy(dst.Y[i:i+r.Dx()], bg.Y[i:])
	}
	cx0, cx1 := r.Min.X/2, (r.Max.X+1)/2
	for cy := r.Min.Y / 2; cy < (r.Max.Y+1)/2; cy++ {
		i := cy * dst.CStride
		copy(dst.Cb[i+cx0:i+cx1], bg.Cb[i+cx0:])
		copy(dst.Cr[i+cx0:i+cx1], bg.Cr[i+cx0:])
	}
}

var bars = [...]color.RGBA{
	{191, 191, 191, 255}, {191, 191, 0, 255}, {0, 191, 191, 255}, {0, 191, 0, 255},
	{191, 0, 191, 255}, {191, 0, 0, 255}, {0, 0, 191, 255},
}

// drawBackground paints 75% colour bars over the top two thirds and a grey
// ramp below; it runs once per source.
func drawBackground(img *image.YCbCr) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	barsH := h * 2 / 3
	for y := 0; y < h; y++ {
		row := img.Y[y*img.YStride:]
		for x := 0; x < w; x++ {
			if y < barsH {
				row[x], _, _ = barColor(x, w)
			} else {
				row[x] = uint8(16 + x*219/w)
			}
		}
	}
	for cy := 0; cy < (h+1)/2; cy++ {
		cb, cr := img.Cb[cy*img.CStride:], img.Cr[cy*img.CStride:]
		for cx := 0; cx < (w+1)/2; cx++ {
			cb[cx], cr[cx] = 128, 128
			if cy*2 < barsH {
				_, cb[cx], cr[cx] = barColor(cx*2, w)
			}
		}
	}
}

func barColor(x, w int) (y, cb, cr uint8) {
	c := bars[x*len(bars)/w]
	return color.RGBToYCbCr(c.R, c.G, c.B)
}
