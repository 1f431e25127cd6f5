package file

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"flowcam/capture"
	"flowcam/capture/file/demux"
)

// decoder runs ffmpeg to turn any video into constant-rate planar YUV on a
// pipe, and restarts it (from where it was) if it dies.
type decoder struct {
	cfg    Config
	log    *slog.Logger
	ffmpeg string
	info   demux.Info
	size   capture.Size
	fps    float64
	pool   *capture.Pool

	cmd    *exec.Cmd
	out    *bufio.Reader
	stderr *tail
	base   time.Duration // file position the current process started at
	n      uint64        // frames read from the current process

	restarts uint64
	backoff  time.Duration
}

// startDecoder probes the file and starts ffmpeg at its beginning.
func startDecoder(cfg Config, log *slog.Logger) (*decoder, error) {
	bin := cfg.FFmpeg
	if bin == "" {
		bin = "ffmpeg"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("file %s needs decoding, but %w", cfg.Path, ErrNoFFmpeg)
	}
	if _, err := os.Stat(cfg.Path); err != nil {
		return nil, fmt.Errorf("file %s: %w", cfg.Path, err)
	}
	info, err := probe(path, cfg.Path)
	if err != nil {
		return nil, err
	}
	d := &decoder{cfg: cfg, log: log, ffmpeg: path, info: info}
	d.size, d.fps = outputSize(cfg.Size, info), cfg.FPS
	if d.fps <= 0 {
		d.fps = info.FPS
	}
	if d.fps <= 0 {
		d.fps = 25
	}
	d.pool = capture.NewPool(d.size, image.YCbCrSubsampleRatio420, 3)
	if err := d.startAt(0); err != nil {
		return nil, err
	}
	return d, nil
}

// outputSize keeps the file's size unless asked otherwise, made to fit
// RTP/JPEG: multiples of 8, at most 2040 either way, aspect kept.
func outputSize(want capture.Size, info demux.Info) capture.Size {
	if want != (capture.Size{}) {
		return want
	}
	w, h := float64(info.Width), float64(info.Height)
	if w == 0 || h == 0 {
		return capture.Size{Width: 640, Height: 480}
	}
	if scale := math.Min(1, capture.MaxDimension/math.Max(w, h)); scale < 1 {
		w, h = w*scale, h*scale
	}
	return capture.Size{Width: max(8, int(w)/8*8), Height: max(8, int(h)/8*8)}
}

// probe asks ffprobe (beside ffmpeg) about the first video stream.
func probe(ffmpeg, path string) (demux.Info, error) {
	ffprobe := strings.TrimSuffix(ffmpeg, "ffmpeg") + "ffprobe"
	out, err := exec.Command(ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
		"stream=codec_name,width,height,avg_frame_rate,r_frame_rate:format=duration,format_name", "-of", "json", path).Output()
	if err != nil {
		msg := err.Error()
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		return demux.Info{}, fmt.Errorf("file %s: not a video ffmpeg can read: %s", path, msg)
	}
	var p struct {
		Streams []struct {
			Codec         string `json:"codec_name"`
			Width, Height int
			Avg           string `json:"avg_frame_rate"`
			Real          string `json:"r_frame_rate"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
			Name     string `json:"format_name"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &p); err != nil || len(p.Streams) == 0 {
		return demux.Info{}, fmt.Errorf("file %s: has no video stream", path)
	}
	st := p.Streams[0]
	dur, _ := strconv.ParseFloat(p.Format.Duration, 64)
	fps := rate(st.Avg)
	if fps <= 0 || fps > 1000 {
		fps = rate(st.Real)
	}
	return demux.Info{Container: p.Format.Name, Codec: st.Codec, Width: st.Width, Height: st.Height,
		FPS: fps, Duration: time.Duration(dur * float64(time.Second))}, nil
}

// rate parses ffprobe's "30000/1001".
func rate(s string) float64 {
	n, d, ok := strings.Cut(s, "/")
	num, err1 := strconv.ParseFloat(n, 64)
	den, err2 := strconv.ParseFloat(d, 64)
	if !ok || err1 != nil || err2 != nil || den == 0 {
		return 0
	}
	return num / den
}

// startAt starts ffmpeg at a position in the file. Its fps filter turns
// variable-rate video into the output rate without changing its speed, and
// scale gives full-range YCbCr, what JPEG expects.
func (d *decoder) startAt(pos time.Duration) error {
	args := []string{"-hide_banner", "-nostdin", "-v", "error"}
	if pos > 0 {
		args = append(args, "-ss", strconv.FormatFloat(pos.Seconds(), 'f', 3, 64))
	}
	args = append(args, "-i", d.cfg.Path, "-an", "-sn", "-dn", "-vf",
		fmt.Sprintf("fps=%g,scale=%d:%d:out_range=full,format=yuvj420p", d.fps, d.size.Width, d.size.Height),
		"-f", "rawvideo", "-pix_fmt", "yuvj420p", "pipe:1")
	cmd := exec.Command(d.ffmpeg, args...)
	cmd.SysProcAttr = childAttr() // killed with the daemon
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	d.stderr = newTail(d.log)
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("file %s: start ffmpeg: %w", d.cfg.Path, err)
	}
	d.cmd, d.out, d.base, d.n = cmd, bufio.NewReaderSize(stdout, 1<<20), pos, 0
	return nil
}

func (d *decoder) stop() {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Kill()
	d.cmd.Wait()
	d.cmd = nil
}

// next reads one frame. A clean ffmpeg exit is the end of the file; a
// crash is logged and ffmpeg restarted where it stopped, with backoff.
func (d *decoder) next(ctx context.Context) (*capture.Frame, time.Duration, error) {
	for {
		f := d.pool.Get()
		err := d.read(f.Image)
		if err == nil {
			at := d.base + time.Duration(float64(d.n)*float64(time.Second)/d.fps)
			d.n++
			d.backoff = 0
			return f, at, nil
		}
		f.Release()
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, 0, err
		}
		werr := d.cmd.Wait()
		d.cmd = nil
		if werr == nil {
			return nil, 0, io.EOF
		}
		if err := d.restart(ctx, werr); err != nil {
			return nil, 0, err
		}
	}
}

func (d *decoder) restart(ctx context.Context, cause error) error {
	pos := d.base + time.Duration(float64(d.n)*float64(time.Second)/d.fps)
	d.backoff = min(max(2*d.backoff, 250*time.Millisecond), 5*time.Second)
	d.restarts++
	d.log.Warn("ffmpeg died: restarting where it stopped", "err", cause, "stderr", d.stderr.String(),
		"at", pos.Round(time.Millisecond), "retry_in", d.backoff)
	t := time.NewTimer(d.backoff)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	return d.startAt(pos)
}

// read fills the picture's planes row by row from the raw yuv420p stream.
func (d *decoder) read(img *image.YCbCr) error {
	w, h := d.size.Width, d.size.Height
	for y := 0; y < h; y++ {
		if _, err := io.ReadFull(d.out, img.Y[y*img.YStride:y*img.YStride+w]); err != nil {
			return err
		}
	}
	for _, plane := range [][]byte{img.Cb, img.Cr} {
		for y := 0; y < h/2; y++ {
			if _, err := io.ReadFull(d.out, plane[y*img.CStride:y*img.CStride+w/2]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *decoder) rewind() error {
	d.stop()
	return d.startAt(0)
}

func (d *decoder) close() error {
	d.stop()
	return nil
}

func (d *decoder) period() time.Duration { return time.Duration(float64(time.Second) / d.fps) }
func (d *decoder) restartCount() uint64  { return d.restarts }

// tail logs ffmpeg's stderr at debug level and keeps its last lines for
// error messages.
type tail struct {
	log   *slog.Logger
	mu    sync.Mutex
	lines []string
	part  []byte
}

func newTail(log *slog.Logger) *tail { return &tail{log: log} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		i := strings.IndexByte(string(t.part), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := strings.TrimSpace(string(t.part[:i]))
		t.part = t.part[i+1:]
		t.log.Debug("ffmpeg", "line", line)
		if t.lines = append(t.lines, line); len(t.lines) > 5 {
			t.lines = t.lines[1:]
		}
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, " | ")
}
