// Package file plays video files as camera sources: MJPEG files' own JPEG
// frames and H.264 files' access units (MP4, Matroska, raw Annex B) are
// sent as they are (passthrough), any other codec, or a file to be scaled
// or resampled, is decoded by a supervised ffmpeg child process to planar
// YUV for our encoder. Frames
// are paced by the file's own timestamps against a monotonic clock, and a
// looping file keeps its RTP timestamps continuous.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"flowcam/capture"
	"flowcam/capture/file/demux"
)

// Config describes a file source.
type Config struct {
	Path string
	Loop bool    // restart at the end, seamlessly
	Rate float64 // playback speed factor; 1 when 0
	// Size and FPS, when set, change the output: frames are scaled (which
	// decodes an MJPEG file too) or dropped and repeated to the new rate.
	Size   capture.Size
	FPS    float64
	FFmpeg string // the ffmpeg binary; "ffmpeg" from PATH when empty
	Logger *slog.Logger
	Clock  capture.Clock
}

// Stats count what the source did.
type Stats struct {
	Frames  uint64 // frames delivered
	Corrupt uint64 // frames the container could not give
	// DamagedNALs counts H.264 NAL units dropped (forbidden bit set, empty).
	DamagedNALs uint64
	Loops       uint64 // times the file restarted
	Restarts    uint64 // times a dead ffmpeg was restarted
}

// reader is a frame stream in file time: a demuxer for passthrough, or
// ffmpeg's decoded output.
type reader interface {
	// next returns a frame (JPEG or Image, owned by the caller) and its
	// time in the file.
	next(ctx context.Context) (*capture.Frame, time.Duration, error)
	rewind() error
	close() error
	period() time.Duration // nominal time between frames
	restartCount() uint64
}

// Source is a paced video file.
type Source struct {
	cfg         Config
	log         *slog.Logger
	r           reader
	info        demux.Info
	size        capture.Size
	passthrough bool
	h264        bool // passthrough of H.264 access units

	started     bool
	start       time.Time     // wall time of stream time 0
	loopAt      time.Duration // stream time at which the current pass began
	last        time.Duration // latest file time read this pass (with B-frames not the last frame's)
	ended       bool
	warnedTrunc bool

	// frame-rate conversion of passed-through frames
	cur, nxt     *capture.Frame
	curAt, nxtAt time.Duration
	outN         uint64
	view         capture.Frame

	frames, loops uint64
	corrupt       atomic.Uint64
}

// ErrNoFFmpeg means a file needs decoding and ffmpeg is not installed.
var ErrNoFFmpeg = errors.New("ffmpeg is not installed (apt-get install ffmpeg)")

// New opens the file. MJPEG files are read natively; other codecs need
// ffmpeg, and the error says so plainly when it is missing. Errors name
// the file and the problem.
func New(cfg Config) (*Source, error) {
	if cfg.Rate <= 0 {
		cfg.Rate = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Clock == nil {
		cfg.Clock = capture.SystemClock{}
	}
	s := &Source{cfg: cfg, log: cfg.Logger.With("file", cfg.Path)}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// Size is the size of the frames the source delivers.
func (s *Source) Size() capture.Size { return s.size }

// FPS is the nominal output frame rate (for the stream description).
func (s *Source) FPS() float64 {
	if s.cfg.FPS > 0 {
		return s.cfg.FPS
	}
	return s.info.FPS * s.cfg.Rate
}

// Stats returns the counters.
func (s *Source) Stats() Stats {
	return Stats{Frames: s.frames, Corrupt: s.corrupt.Load(), DamagedNALs: s.damagedNALs(), Loops: s.loops, Restarts: s.r.restartCount()}
}

// Corrupt counts the damaged input skipped: frames the container could
// not give and H.264 NAL units no decoder could take. Safe to call while
// the source runs.
func (s *Source) Corrupt() uint64 { return s.corrupt.Load() + s.damagedNALs() }

func (s *Source) damagedNALs() uint64 {
	if d, ok := s.r.(interface{ damagedNALs() uint64 }); ok {
		return d.damagedNALs()
	}
	return 0
}

// Close stops reading (and ffmpeg).
func (s *Source) Close() error { return s.r.close() }

// open picks passthrough (the file's own JPEG or H.264) or decoding, and
// says why it decodes.
func (s *Source) open() error {
	d, err := demux.Open(s.cfg.Path)
	var why string
	switch {
	case err == nil && d.Info().Codec == "h264" && s.unchanged(d.Info()):
		s.passH264(newContainerH264(d), d.Info())
		return nil
	case err == nil && d.Info().Codec != "h264" && s.sameSize(d.Info()):
		s.info, s.passthrough = d.Info(), true
		s.size = capture.Size{Width: s.info.Width, Height: s.info.Height}
		s.r = newJPEGReader(d)
		s.log.Info("file source: sending the file's own JPEG frames", "container", s.info.Container,
			"codec", s.info.Codec, "size", s.size, "fps", s.info.FPS)
		return nil
	case err == nil:
		why = s.changeReason(d.Info())
		d.Close() // to be scaled or resampled: decode it like any other codec
	case errors.Is(err, demux.ErrUnknownFormat):
		raw, rerr := openRawH264(s.cfg.Path, s.cfg.FPS)
		switch {
		case rerr == nil && s.unchanged(raw.info):
			s.passH264(raw, raw.info)
			return nil
		case rerr == nil:
			why = s.changeReason(raw.info)
			raw.close()
		case !errors.Is(rerr, errNotAnnexB):
			return rerr
		default:
			why = "neither a container flowcamd reads (MP4, MOV, Matroska, AVI, raw MJPEG) nor raw H.264"
		}
	case !errors.Is(err, demux.ErrNotMJPEG):
		return err // missing, unreadable, empty, truncated headers: already names the file
	default:
		why = "its video is neither JPEG nor H.264, which RTP could carry as they are: " + err.Error()
	}
	return s.startDecoding(why)
}

// changeReason says why a file's own frames cannot go out as they are.
func (s *Source) changeReason(info demux.Info) string {
	own := fmt.Sprintf("its %s is %dx%d at %g fps", info.Codec, info.Width, info.Height, info.FPS)
	if !s.sameSize(info) {
		return fmt.Sprintf("%s and size is %s: scaling needs decoding", own, s.cfg.Size)
	}
	return fmt.Sprintf("%s and fps is %g: changing the rate of H.264 needs decoding", own, s.cfg.FPS)
}

func (s *Source) startDecoding(why string) error {
	dec, err := startDecoder(s.cfg, s.log)
	if err != nil {
		return err
	}
	s.r, s.info, s.size = dec, dec.info, dec.size
	s.log.Info("file source: decoding with ffmpeg", "codec", dec.info.Codec, "size", s.size, "fps", dec.fps, "reason", why)
	return nil
}

// sameSize reports whether the file plays at the configured size.
func (s *Source) sameSize(info demux.Info) bool {
	return s.cfg.Size == (capture.Size{}) || s.cfg.Size == (capture.Size{Width: info.Width, Height: info.Height})
}

// unchanged reports whether H.264 can go out as it is: neither scaled nor
// resampled, since dropping or repeating a frame breaks the ones after it.
func (s *Source) unchanged(info demux.Info) bool {
	return s.sameSize(info) && (s.cfg.FPS <= 0 || s.cfg.FPS == info.FPS)
}

// passH264 sends the file's H.264 access units as they are.
func (s *Source) passH264(r reader, info demux.Info) {
	s.info, s.passthrough, s.h264 = info, true, true
	s.size = capture.Size{Width: info.Width, Height: info.Height}
	s.r = r
	s.log.Info("file source: sending the file's own H.264", "container", info.Container, "size", s.size, "fps", info.FPS)
}

// ParameterSets are an H.264 file's SPS and PPS as its container (or its
// first access unit) gives them, for the stream description before the
// first frame; nil for other files.
func (s *Source) ParameterSets() [][]byte {
	if !s.h264 {
		return nil
	}
	return s.info.ParameterSets
}

// Codec says what the source delivers: H.264 when it passes a file's
// H.264 through, else JPEG or raw pictures.
func (s *Source) Codec() capture.Codec {
	if s.h264 {
		return capture.CodecH264
	}
	return capture.CodecJPEG
}

// Next returns the next frame at its due time. The frame stays owned by
// the source (the pipeline's Release is a no-op) until the next call.
func (s *Source) Next(ctx context.Context) (*capture.Frame, error) {
	var at time.Duration
	if s.passthrough && s.cfg.FPS > 0 && s.cfg.FPS != s.info.FPS {
		if err := s.resample(ctx, &at); err != nil {
			return nil, err
		}
	} else {
		f, t, err := s.nextInput(ctx)
		if err != nil {
			return nil, err
		}
		s.replace(f)
		at = t
	}
	return s.pace(ctx, at)
}

// replace makes f the frame being shown, releasing the previous one.
func (s *Source) replace(f *capture.Frame) {
	if s.cur != nil && s.cur != f {
		s.cur.Release()
	}
	s.cur = f
}

// nextInput reads the next frame in stream time (file time plus the
// passes already played), handling the end of the file, truncation and
// corrupt frames.
func (s *Source) nextInput(ctx context.Context) (*capture.Frame, time.Duration, error) {
	for {
		f, at, err := s.r.next(ctx)
		switch {
		case err == nil:
			s.last = max(s.last, at)
			return f, s.loopAt + at, nil
		case ctx.Err() != nil:
			return nil, 0, ctx.Err()
		case errors.Is(err, demux.ErrCorruptFrame):
			if n := s.corrupt.Add(1); n == 1 || n%100 == 0 {
				s.log.Warn("corrupt frame skipped", "err", err, "corrupt_total", n)
			}
			continue
		case errors.Is(err, demux.ErrTruncated):
			if !s.warnedTrunc {
				s.warnedTrunc = true
				s.log.Warn("file is truncated: playing the frames it has", "err", err)
			}
		case !errors.Is(err, io.EOF):
			return nil, 0, err
		}
		if err := s.endOfFile(ctx); err != nil {
			return nil, 0, err
		}
	}
}

// endOfFile loops, continuing the clock one frame period after the last
// frame so the restart is seamless, or without loop reports the end
// (capture.ErrEnded), after which the pipeline stops reading.
func (s *Source) endOfFile(ctx context.Context) error {
	if !s.cfg.Loop {
		if !s.ended {
			s.ended = true
			s.log.Info("file ended (loop is off)")
		}
		return capture.ErrEnded
	}
	if err := s.r.rewind(); err != nil {
		return fmt.Errorf("file %s: restart: %w", s.cfg.Path, err)
	}
	s.loops++
	s.loopAt += s.last + s.r.period()
	s.last = 0
	return nil
}

// resample converts passed-through frames to the configured rate: output
// frame k shows the newest input frame due by k/FPS, so frames repeat or
// drop as needed without re-encoding.
func (s *Source) resample(ctx context.Context, at *time.Duration) error {
	step := time.Duration(float64(time.Second) / s.cfg.FPS * s.cfg.Rate)
	t := time.Duration(s.outN) * step
	for s.cur == nil || s.nxt == nil || s.nxtAt <= t {
		f, ft, err := s.nextInput(ctx)
		if err != nil {
			return err
		}
		if s.cur == nil {
			s.cur, s.curAt = f, ft
			continue
		}
		if s.nxt != nil {
			s.replace(s.nxt)
			s.curAt = s.nxtAt
		}
		s.nxt, s.nxtAt = f, ft
	}
	s.outN++
	*at = t
	return nil
}

// pace waits for the frame's wall-clock due time and stamps it.
func (s *Source) pace(ctx context.Context, at time.Duration) (*capture.Frame, error) {
	pts := time.Duration(float64(at) / s.cfg.Rate)
	now := s.cfg.Clock.Now()
	if !s.started {
		s.start, s.started = now.Add(-pts), true
	}
	due := s.start.Add(pts)
	if late := now.Sub(due); late > time.Second {
		// The consumer stalled: re-anchor rather than burst to catch up.
		s.start = s.start.Add(late)
		due = now
	}
	if wait := due.Sub(now); wait > 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.cfg.Clock.After(wait):
		}
	}
	s.view = capture.Frame{JPEG: s.cur.JPEG, Image: s.cur.Image, H264: s.cur.H264, Key: s.cur.Key, PTS: pts, Captured: due, Seq: s.frames}
	s.frames++
	return &s.view, nil
}
