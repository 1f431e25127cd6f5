package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync/atomic"
	"time"

	"flowcam/capture/h264"
)

// Source delivers frames one at a time and paces itself (a camera by its
// sensor, a file by its timestamps, the pattern by its clock).
type Source interface {
	// Next blocks until the next frame. The caller releases the frame.
	Next(ctx context.Context) (*Frame, error)
	Close() error
}

// Codec names what a source's compressed frames are.
type Codec string

const (
	CodecJPEG Codec = "mjpeg" // raw pictures or JPEG: the path sends JPEG
	CodecH264 Codec = "h264"  // H.264 access units, passed through
)

// CodecOf says what src delivers: sources of H.264 say so with a Codec
// method; every other source gives raw pictures or JPEG.
func CodecOf(src Source) Codec {
	if c, ok := src.(interface{ Codec() Codec }); ok {
		return c.Codec()
	}
	return CodecJPEG
}

// Encoder compresses a raw picture to baseline JPEG, appending to dst.
type Encoder interface {
	Encode(dst []byte, img *image.YCbCr) ([]byte, error)
}

// VideoEncoder compresses raw pictures to H.264 (a board's hardware
// encoder): one Annex B access unit per picture, and whether it is an IDR
// a decoder can start at.
type VideoEncoder interface {
	Encode(dst []byte, img *image.YCbCr) (au []byte, key bool, err error)
}

// Transcoder re-encodes a JPEG that cannot be sent as it is (a camera's
// 4:4:4, optimized Huffman tables, progressive scans).
type Transcoder interface {
	Transcode(dst, jpeg []byte) ([]byte, error)
}

// ErrEnded is what a source returns when it has nothing more to deliver,
// such as a file played to its end with loop off. The pipeline then stops
// reading and counts as healthy: an ended clip is not a wedged camera.
var ErrEnded = errors.New("source ended")

// ErrCorrupt marks a source JPEG that is damaged (truncated, malformed):
// it is dropped, since re-encoding would only send the damage on.
var ErrCorrupt = errors.New("corrupt JPEG")

// Stats are the pipeline's running counters.
type Stats struct {
	Captured    uint64        `json:"captured"`       // frames delivered by the source
	Encoded     uint64        `json:"encoded"`        // raw frames compressed by the encoder
	Passthrough uint64        `json:"passthrough"`    // source JPEGs sent as they came
	Transcoded  uint64        `json:"transcoded"`     // source JPEGs re-encoded
	Dropped     uint64        `json:"dropped"`        // frames lost to encoder errors or corrupt source JPEG
	SourceErrs  uint64        `json:"source_errors"`  // failed reads from the source
	EncodeTime  time.Duration `json:"encode_time_ns"` // total time spent encoding and transcoding
}

// Option adjusts a Pipeline.
type Option func(*Pipeline)

// WithClock replaces time.Now for the liveness check (see Alive).
func WithClock(now func() time.Time) Option {
	return func(p *Pipeline) { p.now = now }
}

// WithPassthroughCheck sends source JPEG frames that pass check as they
// are, drops those check calls ErrCorrupt, and re-encodes the others with
// tr. Without it every source JPEG is passed through.
func WithPassthroughCheck(check func(jpeg []byte) error, tr Transcoder) Option {
	return func(p *Pipeline) { p.check, p.transcoder = check, tr }
}

// WithEncodeObserver reports how long each encode or transcode took, for
// an encode-time histogram. It runs on the pipeline's goroutine once per
// frame, so it must be quick and should not allocate.
func WithEncodeObserver(observe func(time.Duration)) Option {
	return func(p *Pipeline) { p.observe = observe }
}

// WithVideoEncoder makes the pipeline's output H.264: raw pictures go
// through enc, and a source's H.264 passes as before. A source's JPEG has
// no way onto such a path (flowcamd decodes none) and is dropped.
func WithVideoEncoder(enc VideoEncoder) Option {
	return func(p *Pipeline) { p.video = enc }
}

// Pipeline runs one source through one encoder and hands every finished
// frame to a sink, once, however many viewers there are downstream.
type Pipeline struct {
	src        Source
	enc        Encoder
	sink       func(*Frame)
	log        *slog.Logger
	check      func([]byte) error
	transcoder Transcoder
	video      VideoEncoder
	nals       [][]byte // the access unit video made, split
	observe    func(time.Duration)
	buf        []byte
	out        Frame // what the sink sees; reused, so publishing allocates nothing
	warned     bool

	captured, encoded, passthrough, transcoded, dropped, sourceErrs, encodeNanos atomic.Uint64
	// lastActive is when the source last answered (UnixNano), frame or
	// error; ended is set once it returned ErrEnded.
	lastActive atomic.Int64
	ended      atomic.Bool
	now        func() time.Time
}

// NewPipeline wires src through enc into sink. The sink is called on the
// pipeline's goroutine and must copy what it keeps: the frame's buffers are
// reused as soon as it returns.
func NewPipeline(src Source, enc Encoder, sink func(*Frame), log *slog.Logger, opts ...Option) *Pipeline {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{src: src, enc: enc, sink: sink, log: log, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Run captures until ctx is done, then closes the source. Source errors are
// retried with backoff rather than ending the stream, so viewers stay
// connected through a camera hiccup.
func (p *Pipeline) Run(ctx context.Context) error {
	defer p.src.Close()
	backoff := retryBackoff{min: 100 * time.Millisecond, max: 5 * time.Second}
	p.lastActive.Store(p.now().UnixNano())
	for {
		f, err := p.src.Next(ctx)
		p.lastActive.Store(p.now().UnixNano())
		if ctx.Err() != nil {
			f.Release()
			return nil
		}
		if errors.Is(err, ErrEnded) {
			p.ended.Store(true)
			<-ctx.Done()
			return nil
		}
		if errors.Is(err, ErrIdle) {
			continue // stopped on purpose, and alive
		}
		if err != nil {
			p.sourceErrs.Add(1)
			wait := backoff.next()
			p.log.Warn("source read failed", "err", err, "retry_in", wait)
			if !sleepCtx(ctx, wait) {
				return nil
			}
			continue
		}
		backoff.reset()
		p.captured.Add(1)
		p.process(f)
		f.Release()
	}
}

func (p *Pipeline) process(f *Frame) {
	if f.H264 != nil { // compressed at the source: nothing to encode
		p.passthrough.Add(1)
		p.out = Frame{H264: f.H264, Key: f.Key, PTS: f.PTS, Captured: f.Captured, Seq: f.Seq}
		p.sink(&p.out)
		return
	}
	if p.video != nil {
		p.encodeVideo(f)
		return
	}
	data, err := p.jpeg(f)
	if err != nil {
		p.drop(f, err)
		return
	}
	p.out = Frame{JPEG: data, PTS: f.PTS, Captured: f.Captured, Seq: f.Seq, Image: f.Image}
	p.sink(&p.out)
}

// encodeVideo makes an access unit of a raw picture for an H.264 path.
func (p *Pipeline) encodeVideo(f *Frame) {
	if f.Image == nil {
		p.drop(f, errors.New("a JPEG picture on an H.264 path: flowcamd does not decode JPEG"))
		return
	}
	t := time.Now()
	au, key, err := p.video.Encode(p.buf[:0], f.Image)
	p.observeSince(t)
	p.encodeNanos.Add(uint64(time.Since(t)))
	if err != nil {
		p.drop(f, err)
		return
	}
	p.buf = au
	p.encoded.Add(1)
	p.nals = h264.SplitAnnexB(p.nals[:0], au)
	p.out = Frame{H264: p.nals, Key: key, PTS: f.PTS, Captured: f.Captured, Seq: f.Seq}
	p.sink(&p.out)
}

// jpeg returns the frame's JPEG: encoded from its picture, or the source's
// own when it can be sent, else re-encoded.
func (p *Pipeline) jpeg(f *Frame) ([]byte, error) {
	start := time.Now()
	defer func() { p.encodeNanos.Add(uint64(time.Since(start))) }()
	switch {
	case f.JPEG != nil:
		return p.fromSource(f.JPEG)
	case f.Image != nil:
		t := time.Now()
		out, err := p.enc.Encode(p.buf[:0], f.Image)
		p.observeSince(t)
		if err != nil {
			return nil, err
		}
		p.buf = out
		p.encoded.Add(1)
		return out, nil
	}
	return nil, errors.New("source delivered an empty frame")
}

func (p *Pipeline) fromSource(data []byte) ([]byte, error) {
	if p.check == nil {
		p.passthrough.Add(1)
		return data, nil
	}
	reason := p.check(data)
	if reason == nil {
		p.passthrough.Add(1)
		return data, nil
	}
	if errors.Is(reason, ErrCorrupt) {
		return nil, reason
	}
	t := time.Now()
	out, err := p.transcoder.Transcode(p.buf[:0], data)
	p.observeSince(t)
	if err != nil {
		return nil, fmt.Errorf("corrupt source JPEG (%v): %w", reason, err)
	}
	if !p.warned {
		p.warned = true
		p.log.Info("source JPEG frames are re-encoded", "reason", reason)
	}
	p.buf = out
	p.transcoded.Add(1)
	return out, nil
}

// observeSince reports an encode that started at t. Passthrough frames
// are left out: they cost no encoding and would drown the histogram.
func (p *Pipeline) observeSince(t time.Time) {
	if p.observe != nil {
		p.observe(time.Since(t))
	}
}

func (p *Pipeline) drop(f *Frame, err error) {
	// Log the first failure and then every 100th, so a persistently bad
	// source cannot flood the journal at frame rate.
	if n := p.dropped.Add(1); n == 1 || n%100 == 0 {
		p.log.Warn("frame dropped", "seq", f.Seq, "dropped_total", n, "err", err)
	}
}

// Alive reports whether the pipeline is doing its job: its source answered
// (with a frame or an error it retries) within the last d, or ended. A
// pipeline that is not running yet is not alive. The service watchdog is
// fed only while every pipeline is alive, so a capture thread stuck in a
// driver call gets the daemon restarted.
func (p *Pipeline) Alive(d time.Duration) bool {
	if p.ended.Load() {
		return true
	}
	last := p.lastActive.Load()
	return last != 0 && p.now().Sub(time.Unix(0, last)) <= d
}

// Stats returns a snapshot of the counters.
func (p *Pipeline) Stats() Stats {
	return Stats{
		Captured:    p.captured.Load(),
		Encoded:     p.encoded.Load(),
		Passthrough: p.passthrough.Load(),
		Transcoded:  p.transcoded.Load(),
		Dropped:     p.dropped.Load(),
		SourceErrs:  p.sourceErrs.Load(),
		EncodeTime:  time.Duration(p.encodeNanos.Load()),
	}
}

type retryBackoff struct{ min, max, cur time.Duration }

func (b *retryBackoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else if b.cur *= 2; b.cur > b.max {
		b.cur = b.max
	}
	return b.cur
}

func (b *retryBackoff) reset() { b.cur = 0 }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
