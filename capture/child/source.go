package child

import (
	"errors"
	"fmt"
	"image"
	"log/slog"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"flowcam/capture"
)

// Defaults for Config fields left zero.
const (
	DefaultWatchdog     = 2 * time.Second  // a running helper silent this long is restarted
	DefaultStartTimeout = 10 * time.Second // a camera stack may take this long to its first frame
	DefaultMaxFrame     = 8 << 20          // the largest MJPEG picture accepted
)

// Config describes a helper and what it writes.
type Config struct {
	Name    string   // shown in logs and on the status page, e.g. "rpicam-vid"
	Camera  string   // the camera it opens, as the daemon's log names it
	Command []string // the program and its arguments; never run through a shell
	Format  Format
	// Size is the picture size: what raw frames hold, and the size of the
	// "no signal" card for any format.
	Size capture.Size
	// Stride is the distance between rows of the first plane of a raw
	// frame, for helpers that pad rows; 0 means packed.
	Stride int
	// FrameFD is where frames come out: 1 (stdout, the default), or 3 for
	// helpers that print text on stdout; their stdout then goes to the log.
	FrameFD  int
	MaxFrame int // MJPEG: DefaultMaxFrame when 0
	// MaxFPS drops frames that come faster than this rate (0: keep all),
	// for helpers that cannot be told a rate, such as libcamerasrc before
	// libcamera 0.1, which delivers whatever the camera runs at.
	MaxFPS        float64
	Watchdog      time.Duration // DefaultWatchdog when 0
	StartTimeout  time.Duration // DefaultStartTimeout when 0
	NoSignalEvery time.Duration // one "no signal" card this often while down; 1 s
	// StopGrace is how long a helper has to stop after SIGINT before it is
	// killed; 300 ms when 0 (Argus clients need longer to let go cleanly).
	StopGrace time.Duration
	Logger    *slog.Logger
}

// Stats count what happened to the helper.
type Stats struct {
	Frames   uint64 // frames delivered
	Restarts uint64 // times the helper was started again after a failure
	NoSignal uint64 // "no signal" cards sent while it was down
	Corrupt  uint64 // damaged pictures and H.264 NAL units dropped
	Stale    uint64 // frames replaced by a newer one before they were taken
	Skipped  uint64 // frames dropped to keep to MaxFPS
}

// Source reads frames from a supervised helper; see the package comment.
type Source struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	stderr   *stderrLog
	stride   int
	frameLen int
	raw      *capture.Pool
	jpegs    *capture.JPEGPool
	noSignal *capture.Pool
	start0   time.Time

	ru                          *run
	retryAt, signalAt, downFrom time.Time
	backoff                     time.Duration
	quickExits                  int
	nextDue                     time.Time // MaxFPS: when the next frame is due
	everRan                     bool

	mu      sync.Mutex
	problem string

	frames, restarts, nosignal, corrupt, stale, skipped atomic.Uint64
}

// ErrNotInstalled is wrapped when the helper's program cannot be found.
var ErrNotInstalled = errors.New("not installed")

// New checks the configuration, finds the program and starts it. A helper
// that fails after starting is not an error here: it is restarted while
// "no signal" cards go out.
func New(cfg Config) (*Source, error) {
	s, err := newSource(cfg)
	if err != nil {
		return nil, err
	}
	if s.ru, err = s.start(); err != nil {
		s.noFrames(err)
		s.down(err)
	} else {
		s.everRan = true
	}
	return s, nil
}

func newSource(cfg Config) (*Source, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath(cfg.Command[0]); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", cfg.Name, cfg.Command[0], ErrNotInstalled)
	}
	s := &Source{cfg: cfg, log: cfg.Logger.With("helper", cfg.Name), now: time.Now, jpegs: capture.NewJPEGPool(3)}
	s.stderr = newStderrLog(s.log)
	s.noSignal = capture.NewPool(cfg.Size, image.YCbCrSubsampleRatio420, 2)
	if cfg.Format.raw() {
		s.stride = max(cfg.Stride, cfg.Format.minStride(cfg.Size.Width))
		s.frameLen = cfg.Format.frameLen(cfg.Size, s.stride)
		s.raw = capture.NewPool(cfg.Size, cfg.Format.ratio(), 3)
	}
	s.start0 = s.now()
	s.downFrom = s.start0
	return s, nil
}

func (c Config) withDefaults() (Config, error) {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return c, errors.New("child: no command")
	}
	if c.Name == "" {
		c.Name = c.Command[0]
	}
	if err := c.Size.Validate(); err != nil {
		return c, fmt.Errorf("%s: %w", c.Name, err)
	}
	switch {
	case c.Format == "":
		return c, fmt.Errorf("%s: no format", c.Name)
	case c.Format.raw() && c.Stride != 0 && c.Stride < c.Format.minStride(c.Size.Width):
		return c, fmt.Errorf("%s: stride %d is shorter than a row of %d pixels", c.Name, c.Stride, c.Size.Width)
	case c.FrameFD != 0 && c.FrameFD != 1 && c.FrameFD != 3:
		return c, fmt.Errorf("%s: frames come out on fd 1 or 3, not %d", c.Name, c.FrameFD)
	}
	c.MaxFrame = cmp(c.MaxFrame, DefaultMaxFrame)
	c.Watchdog = cmp(c.Watchdog, DefaultWatchdog)
	c.StartTimeout = cmp(c.StartTimeout, DefaultStartTimeout)
	c.NoSignalEvery = cmp(c.NoSignalEvery, time.Second)
	c.StopGrace = cmp(c.StopGrace, 300*time.Millisecond)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// cmp is v, or d when v is not set.
func cmp[T int | time.Duration](v, d T) T {
	if v <= 0 {
		return d
	}
	return v
}

// Codec says what the helper's frames are: H.264 for format h264, else
// raw pictures or JPEG.
func (s *Source) Codec() capture.Codec {
	if s.cfg.Format == H264 {
		return capture.CodecH264
	}
	return capture.CodecJPEG
}

// Stats returns the counters.
func (s *Source) Stats() Stats {
	return Stats{Frames: s.frames.Load(), Restarts: s.restarts.Load(), NoSignal: s.nosignal.Load(),
		Corrupt: s.corrupt.Load(), Stale: s.stale.Load(), Skipped: s.skipped.Load()}
}

// Reconnects counts restarts after failures (the status page's column).
func (s *Source) Reconnects() uint64 { return s.restarts.Load() }

// Problem says why the helper keeps failing (it exited at once three times
// in a row, with its last stderr lines); empty while it works.
func (s *Source) Problem() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.problem
}

// Close stops the helper.
func (s *Source) Close() error {
	if s.ru != nil {
		s.ru.stop(s.cfg.StopGrace)
		s.ru = nil
	}
	return nil
}

// Corrupt counts the damaged pictures and H.264 NAL units dropped.
func (s *Source) Corrupt() uint64 { return s.corrupt.Load() }
