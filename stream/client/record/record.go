// Package record writes frames to files that play and seek anywhere:
// Matroska (.mkv) or fragmented MP4 (.mp4), each frame stamped with its own
// RTP time, optionally cut into segments named by the wall clock and pruned
// by age or total size. A write that fails (a full disk) stops the
// recording, says why, and leaves the stream running. It is the client's
// recorder (flowcam pull -o) and the daemon's (record: per path) alike.
package record

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"flowcam/stream/client/playout"
	"flowcam/stream/client/rtspclient"
)

// clockRate is the RTP clock of video, which the files keep.
const clockRate = 90000

// Container is a file format, chosen by the file name's extension.
type Container string

const (
	Matroska Container = "mkv"
	MP4      Container = "mp4" // fragmented
)

// ContainerOf returns the container a file name asks for, or "" when it
// names none (a raw stream: .mjpeg, .h264, a pipe).
func ContainerOf(name string) Container {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".mkv":
		return Matroska
	case ".mp4":
		return MP4
	}
	return ""
}

// Options describe a recording.
type Options struct {
	// Path is the file name. With Segment it is a pattern: %Y %m %d %H %M
	// %S are the segment's start (local time); without any, -%Y%m%d-%H%M%S
	// goes before the extension.
	Path      string
	Segment   time.Duration // start a new file this often (at a key frame); 0: one file
	Keep      time.Duration // delete segments older than this; 0: keep
	KeepBytes int64         // delete the oldest segments while all take more; 0: no limit
	Logger    *slog.Logger
	Now       func() time.Time // the wall clock, for names and ages
}

// DefaultPattern is what a segmented recording's name gets when it has none.
const DefaultPattern = "-%Y%m%d-%H%M%S"

// ErrOptions marks options that cannot make a recording.
var ErrOptions = errors.New("recording")

// errBadFrame marks a frame the container cannot take: skipped, not fatal.
var errBadFrame = errors.New("frame skipped")

// muxer is one open file of a container.
type muxer interface {
	// write adds a frame: its presentation time on the 90 kHz clock from
	// the file's start, whether it is a key frame, the bytes to store, and
	// for H.264 its NAL units.
	write(pts int64, key bool, payload []byte, au [][]byte) error
	close() error // writes what is held back
}

// Recorder is a pull's sink that writes a recording.
type Recorder struct {
	o         Options
	container Container
	pattern   string

	track    track
	file     *file
	mux      muxer
	segStart int64 // presentation time of the file's first frame
	lastKey  int64 // presentation time of the previous key frame
	clock    unwrapper
	sps, pps []byte // from the description, for key frames without them

	mu      sync.Mutex
	failed  error  // the recording stopped
	current string // the file being written
}

// New checks the options; the first file opens at the first key frame.
func New(o Options) (*Recorder, error) {
	r := &Recorder{o: o, container: ContainerOf(o.Path), pattern: o.Path}
	if r.container == "" {
		return nil, fmt.Errorf("%w: %s: the name must end in .mkv or .mp4", ErrOptions, o.Path)
	}
	if o.Segment < 0 || o.Keep < 0 || o.KeepBytes < 0 {
		return nil, fmt.Errorf("%w: --segment, --keep and --keep-bytes must not be negative", ErrOptions)
	}
	if (o.Keep > 0 || o.KeepBytes > 0) && o.Segment == 0 {
		return nil, fmt.Errorf("%w: --keep and --keep-bytes delete old segments: give --segment too", ErrOptions)
	}
	if o.Segment > 0 && !strings.Contains(o.Path, "%") {
		ext := filepath.Ext(o.Path)
		r.pattern = strings.TrimSuffix(o.Path, ext) + DefaultPattern + ext
	}
	if st, err := os.Stat(filepath.Dir(r.pattern)); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: %s: no such directory", ErrOptions, filepath.Dir(r.pattern))
	}
	if r.o.Logger == nil {
		r.o.Logger = slog.New(slog.DiscardHandler)
	}
	if r.o.Now == nil {
		r.o.Now = time.Now
	}
	return r, nil
}

// Problem says why the recording stopped, or "" while it runs.
func (r *Recorder) Problem() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed == nil {
		return ""
	}
	return "recording stopped: " + r.failed.Error()
}

// Current is the file being written, or "" before the first.
func (r *Recorder) Current() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current
}

// WriteFrame records one frame. It fails only for the pull's sake never:
// a recording that cannot go on stops and says so through Problem.
func (r *Recorder) WriteFrame(f *playout.Frame) error {
	if r.stopped() {
		return nil
	}
	pts := r.clock.extend(f.Timestamp)
	switch {
	case r.mux == nil && !f.Key:
		return nil // a file starts at a key frame
	case r.mux == nil:
		r.open(pts, f.Data)
	case r.o.Segment > 0 && f.Key && pts-r.segStart >= r.segmentTicks(pts):
		if err := r.closeFile(); err != nil {
			r.fail(err)
			return nil
		}
		r.open(pts, f.Data)
	}
	if r.mux == nil {
		return nil
	}
	payload, au, err := r.track.sample(f.Data)
	if err == nil {
		err = r.mux.write(pts-r.segStart, f.Key, payload, au)
	}
	switch {
	case errors.Is(err, errBadFrame):
		r.o.Logger.Warn("recording: frame skipped", "file", r.file.Name(), "err", err)
	case err != nil:
		r.fail(err)
	}
	return nil
}

// segmentTicks is how long a segment runs, on the 90 kHz clock, when the
// key frame at pts may end it: Segment, less half the time since the
// previous key frame. The segment ends at the key frame nearest its due
// time, so one due exactly then but stamped a few milliseconds early (a
// live source's timestamps jitter) still ends it, rather than the segment
// running a whole group of pictures longer.
func (r *Recorder) segmentTicks(pts int64) int64 {
	slack := max(pts-r.lastKey, 0) / 2
	r.lastKey = pts
	return int64(r.o.Segment.Seconds()*clockRate) - slack
}

// open starts a file at a key frame.
func (r *Recorder) open(pts int64, data []byte) {
	t, err := probe(data, r.sps, r.pps)
	if errors.Is(err, errNoParameterSets) {
		r.o.Logger.Warn("recording waits for a key frame with its parameter sets", "err", err)
		return
	}
	if err != nil {
		r.fail(err)
		return
	}
	f, err := create(expand(r.pattern, r.o.Now()))
	if err != nil {
		r.fail(err)
		return
	}
	name, file := f.Name(), &file{f: f}
	var mux muxer
	if r.container == Matroska {
		mux, err = newMKV(file, t)
	} else {
		mux, err = newMP4(file, t)
	}
	if err != nil {
		file.Close()
		r.fail(fmt.Errorf("%s: %w", name, err))
		return
	}
	r.track, r.file, r.mux, r.segStart, r.lastKey = t, file, mux, pts, pts
	r.mu.Lock()
	r.current = name
	r.mu.Unlock()
	r.o.Logger.Info("recording", "file", name, "container", string(r.container), "width", t.width, "height", t.height)
	r.prune()
}

// Close writes what is held back and closes the file.
func (r *Recorder) Close() error {
	if r.stopped() || r.mux == nil {
		return nil
	}
	return r.closeFile()
}

func (r *Recorder) closeFile() error {
	err := r.mux.close()
	if err != nil {
		r.file.cut() // the last cluster or fragment did not fit: the file ends at the one before
	} else {
		err = r.file.Close()
	}
	r.mux = nil
	if err != nil {
		return fmt.Errorf("%s: %w", r.file.Name(), err)
	}
	return nil
}

// create makes a new file named name, or name-1, name-2... before the
// extension when that exists: a segment never overwrites another (two
// can start within the second their names tell).
func create(name string) (*os.File, error) {
	ext := filepath.Ext(name)
	for i := 0; ; i++ {
		try := name
		if i > 0 {
			try = fmt.Sprintf("%s-%d%s", strings.TrimSuffix(name, ext), i, ext)
		}
		f, err := os.OpenFile(try, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, os.ErrExist) || i >= 1000 {
			return f, err
		}
	}
}

// Describe takes the stream's description: H.264 parameter sets for a
// server that gives them only there (sprop-parameter-sets).
func (r *Recorder) Describe(d *rtspclient.Description) {
	if d != nil {
		r.sps, r.pps = d.SPS, d.PPS
	}
}

func (r *Recorder) stopped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed != nil
}

// fail stops the recording; the file keeps what was written whole.
func (r *Recorder) fail(err error) {
	if r.mux != nil {
		r.mux = nil
		r.file.cut()
	}
	r.o.Logger.Error("recording stopped; the stream goes on", "err", err)
	r.mu.Lock()
	r.failed = err
	r.mu.Unlock()
}

// file is a recording's file. Headers, clusters and fragments each reach
// it in one Write; after a failed one (a full disk) cut takes the file
// back to the end of the last whole one, so it plays to the end.
type file struct {
	f    *os.File
	good int64 // bytes written whole
}

func (f *file) Write(b []byte) (int, error) {
	n, err := f.f.Write(b)
	if err == nil {
		f.good += int64(n)
	}
	return n, err
}

func (f *file) Name() string { return f.f.Name() }
func (f *file) Close() error { return f.f.Close() }

func (f *file) cut() {
	f.f.Truncate(f.good)
	f.f.Close()
}

// unwrapper extends 32-bit RTP timestamps, which wrap every 13 hours at
// 90 kHz and go back for B-frames, to 64 bits.
type unwrapper struct {
	last    uint32
	ext     int64
	started bool
}

func (u *unwrapper) extend(ts uint32) int64 {
	if !u.started {
		u.last, u.ext, u.started = ts, int64(ts), true
		return u.ext
	}
	u.ext += int64(int32(ts - u.last))
	u.last = ts
	return u.ext
}

// A fragment or cluster is written whole, so a power loss costs the one
// being gathered: about a second, since the next one starts at the first
// key frame a second in. A stream whose key frames come further apart is
// cut at fragmentMax regardless (well inside Matroska's 32 s block
// offsets).
const (
	fragmentMin = clockRate      // 1 s
	fragmentMax = 10 * clockRate // 10 s
)

// cut reports whether a new fragment starts with the next frame, span
// after the current one started.
func cut(key bool, span int64) bool {
	return (key && span >= fragmentMin) || span >= fragmentMax
}
