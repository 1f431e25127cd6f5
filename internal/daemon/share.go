package daemon

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"flowcam/capture"
	"flowcam/capture/v4l2"
)

// Paths with the same source, size, rate and idle setting share one
// capture: a camera or helper opens once and each path encodes its frames
// its own way (/cam as MJPEG, /cam/h264 through the board's H.264
// encoder), once for all its viewers. A device or helper cannot be opened
// twice, so paths that name one with different settings are refused at
// start (see checkShared).

// captureKey is what decides whether two paths can share a capture.
func captureKey(sc StreamConfig) string {
	return fmt.Sprintf("%q %v %v %v %v %v", sc.Source, sc.Size, sc.FPS, sc.Idle, sc.Loop, sc.Rate)
}

// exclusive reports a source only one capture can hold at a time.
func exclusive(source string) bool {
	return strings.HasPrefix(source, "/dev/") || isHelperSource(source)
}

// checkShared refuses a device or helper that two paths would open with
// different settings, naming the key to align.
func checkShared(streams []StreamConfig, prefix func(int) string, p *problems) {
	first := map[string]int{}
	for i, sc := range streams {
		if !exclusive(sc.Source) {
			continue
		}
		j, ok := first[sc.Source]
		if !ok {
			first[sc.Source] = i
			continue
		}
		o := streams[j]
		for _, k := range []struct {
			key       string
			mine, its any
		}{{"size", sc.Size, o.Size}, {"fps", sc.FPS, o.FPS}, {"idle", sc.Idle, o.Idle}} {
			if k.mine != k.its {
				p.bad(prefix(i)+k.key, k.mine, fmt.Sprintf("differs from path %s's %v, which captures %s too: a camera or helper "+
					"runs once for every path that uses it; give both paths the same %s", o.Path, k.its, sc.Source, k.key))
				break
			}
		}
	}
}

// group fills in, for every spec, the paths it shares its capture with
// and what a camera must give them: its own H.264 or raw pictures when
// every path is H.264, raw pictures for both encoders when JPEG and
// H.264 paths share it.
func group(specs []streamSpec) {
	paths := map[string][]string{}
	h264, other := map[string]bool{}, map[string]bool{}
	for _, sp := range specs {
		k := captureKey(sp.StreamConfig)
		paths[k] = append(paths[k], sp.Path)
		h264[k] = h264[k] || sp.Codec == CodecH264
		other[k] = other[k] || sp.Codec != CodecH264
	}
	for i := range specs {
		k := captureKey(specs[i].StreamConfig)
		if len(paths[k]) > 1 {
			sort.Strings(paths[k])
			specs[i].shared = strings.Join(paths[k], ",")
		}
		switch {
		case h264[k] && other[k]:
			specs[i].want = v4l2.WantRaw
		case h264[k]:
			specs[i].want = v4l2.WantH264
		}
	}
}

// sharedCapture is one source several paths read through a tee.
type sharedCapture struct {
	tee  *capture.Tee
	info capture.Source // what the source gives
	size capture.Size
	fps  float64

	mu       sync.Mutex
	watchers map[string]func() bool
}

// watched reports whether any path of the capture has a viewer: with
// idle: stop the source runs while one does.
func (s *sharedCapture) watched() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.watchers {
		if w() {
			return true
		}
	}
	return false
}

func (s *sharedCapture) watch(path string, w func() bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w == nil {
		delete(s.watchers, path)
		return
	}
	s.watchers[path] = w
}

// opened is a path's source: its own, or a branch of a shared one.
type opened struct {
	info   capture.Source // says what the source gives (codec, parameter sets)
	feed   capture.Source // what the path's pipeline reads
	size   capture.Size
	fps    float64
	shared *sharedCapture // nil when the path has the source to itself
	want   v4l2.Want      // what a camera must give
}

// openSource opens sp's source, or joins the capture a sibling path runs.
func (d *daemon) openSource(sp streamSpec, log *slog.Logger) (opened, error) {
	dev := d.cfg.devices()
	if sp.shared == "" {
		src, size, fps, err := buildSource(sp.StreamConfig, dev, sp.want, log)
		return opened{info: src, feed: src, size: size, fps: fps, want: sp.want}, err
	}
	key := captureKey(sp.StreamConfig)
	if sh := d.captures[key]; sh != nil {
		if br, ok := sh.tee.Branch(); ok {
			return opened{info: sh.info, feed: br, size: sh.size, fps: sh.fps, shared: sh}, nil
		}
	}
	src, size, fps, err := buildSource(sp.StreamConfig, dev, sp.want, log)
	if err != nil {
		return opened{}, err
	}
	sh := &sharedCapture{info: src, size: size, fps: fps, watchers: map[string]func() bool{}}
	feed := src
	if sp.Idle == IdleStop {
		if feed, err = onDemand(src, sp.StreamConfig, dev, sp.want, sh.watched, log); err != nil {
			return opened{}, err
		}
	}
	sh.tee = capture.NewTee(feed)
	d.captures[key] = sh
	log.Info("capture shared", "source", sp.Source, "paths", sp.shared)
	br, _ := sh.tee.Branch()
	return opened{info: src, feed: br, size: size, fps: fps, shared: sh}, nil
}
