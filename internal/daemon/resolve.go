package daemon

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"flowcam/capture"
	"flowcam/stream/format/multiflow"
	"flowcam/stream/format/rtpjpeg"
	"flowcam/stream/server/publish"
)

// problems collects every configuration error, so one run reports them all.
type problems []error

// bad records that key holds val, and says what it accepts.
func (p *problems) bad(key string, val any, accepted string) {
	*p = append(*p, fmt.Errorf("%s = %v: %s", key, val, accepted))
}

// resolve checks what no single value's type can (ranges that depend on
// the key, combinations of keys) and computes what the daemon runs with:
// the streams with the top-level keys applied.
// The decoded settings are left as they were read.
func (c *Config) resolve() error {
	var p problems
	s := &c.Settings
	s.checkListeners(&p)
	s.checkLimits(&p)
	s.checkAccess(&p)
	s.checkGuard(&p)
	s.RTSP.Multicast.check(&p)
	if _, err := s.V4L2.Controls.Parse(); err != nil {
		p = append(p, err)
	}
	c.Streams = s.streams(&p)
	return errors.Join(p...)
}

func (s *Settings) checkListeners(p *problems) {
	if _, port, err := net.SplitHostPort(s.RTSP.Addr); err != nil || !validPort(port) {
		p.bad("rtsp.addr", quote(s.RTSP.Addr), "must be host:port or :port, e.g. :8554")
	}
	if _, port, err := net.SplitHostPort(s.HTTP.Addr); s.HTTP.Addr != "" && (err != nil || !validPort(port)) {
		p.bad("http.addr", quote(s.HTTP.Addr), `must be host:port or :port, e.g. :8080, or "" for no HTTP`)
	}
	if s.HTTP.MaxViewers < 1 {
		p.bad("http.max_viewers", s.HTTP.MaxViewers, "must be at least 1, e.g. 32")
	}
}

func (s *Settings) checkLimits(p *problems) {
	for _, d := range []struct {
		key string
		val time.Duration
	}{{"rtsp.session_timeout", s.RTSP.SessionTimeout}, {"rtsp.rtcp_interval", s.RTSP.RTCPInterval},
		{"rtsp.write_timeout", s.RTSP.WriteTimeout}, {"http.write_timeout", s.HTTP.WriteTimeout}} {
		if d.val <= 0 {
			p.bad(d.key, d.val, "must be a positive duration, e.g. 60s")
		}
	}
	if s.RTSP.MTU < rtpjpeg.MinMTU || s.RTSP.MTU > rtpjpeg.MaxMTU {
		p.bad("rtsp.mtu", s.RTSP.MTU, fmt.Sprintf("must be from %d to %d bytes", rtpjpeg.MinMTU, rtpjpeg.MaxMTU))
	}
	if s.RTSP.QueueFrames < 1 || s.RTSP.QueueFrames > 100 {
		p.bad("rtsp.queue_frames", s.RTSP.QueueFrames, "must be from 1 to 100")
	}
	if s.Multiflow.MaxFlows < 1 || s.Multiflow.MaxFlows > multiflow.MaxFlows {
		p.bad("multiflow.max_flows", s.Multiflow.MaxFlows, fmt.Sprintf("must be from 1 to %d", multiflow.MaxFlows))
	}
	if v := s.V4L2; v.Buffers < 2 || v.Buffers > 32 {
		p.bad("v4l2.buffers", v.Buffers, "must be from 2 to 32")
	}
	for _, d := range []struct {
		key string
		val time.Duration
	}{{"v4l2.watchdog", s.V4L2.Watchdog}, {"helper.watchdog", s.Helper.Watchdog}, {"helper.start_timeout", s.Helper.StartTimeout}} {
		if d.val < 100*time.Millisecond {
			p.bad(d.key, d.val, "must be at least 100ms, e.g. 2s")
		}
	}
	if s.Exec.Stride < 0 {
		p.bad("exec.stride", s.Exec.Stride, "must be 0 (packed rows) or the bytes between rows, e.g. 1344")
	}
	if s.Helper.MaxFrame < 64<<10 {
		p.bad("helper.max_frame_bytes", s.Helper.MaxFrame, "must be at least 65536, e.g. 8388608")
	}
	if s.Helper.H264GOP < 1 || s.Helper.H264GOP > 1000 {
		p.bad("helper.h264_gop", s.Helper.H264GOP, "must be 1 to 1000 frames between key frames, e.g. 50")
	}
	if s.Helper.H264Bitrate < 0 {
		p.bad("helper.h264_bitrate", s.Helper.H264Bitrate, "must be 0 (the encoder's default) or bits per second, e.g. 4000000")
	}
}

// streams applies the top-level stream keys to each entry of the streams
// list (or makes the single default stream) and checks them.
func (s *Settings) streams(p *problems) []StreamConfig {
	entries := s.List
	if len(entries) == 0 {
		entries = []StreamEntry{{}}
	}
	var out []StreamConfig
	seen := map[string]bool{}
	for i, e := range entries {
		prefix := ""
		if len(s.List) > 0 {
			prefix = fmt.Sprintf("streams[%d].", i)
		}
		sc := streamConfig(e.over(s.StreamKeys), prefix, p)
		sc.Threads = int(s.JPEG.Threads)
		checkHelperSource(prefix, sc, s.devices(), p)
		if seen[sc.Path] {
			p.bad(prefix+"path", quote(sc.Path), "is used by another stream: paths must be unique")
		}
		seen[sc.Path] = true
		out = append(out, sc)
	}
	checkShared(out, func(i int) string {
		if len(s.List) == 0 {
			return ""
		}
		return fmt.Sprintf("streams[%d].", i)
	}, p)
	return out
}

// over is k with the keys this entry sets replaced.
func (e StreamEntry) over(k StreamKeys) StreamKeys {
	if e.Path != nil {
		k.Path = *e.Path
	}
	if e.Source != nil {
		k.Source = *e.Source
	}
	if e.Size != nil {
		k.Size = *e.Size
	}
	if e.FPS != nil {
		k.FPS = *e.FPS
	}
	if e.Loop != nil {
		k.Loop = *e.Loop
	}
	if e.Rate != nil {
		k.Rate = *e.Rate
	}
	if e.Quality != nil {
		k.Quality = *e.Quality
	}
	if e.Encoder != nil {
		k.Encoder = *e.Encoder
	}
	if e.Codec != nil {
		k.Codec = *e.Codec
	}
	if e.Idle != nil {
		k.Idle = *e.Idle
	}
	if e.Publish != nil {
		k.Publish = *e.Publish
	}
	k.Record = e.Record.over(k.Record)
	return k
}

// over is k with the keys this record section sets replaced.
func (e RecordEntry) over(k RecordKeys) RecordKeys {
	if e.Enabled != nil {
		k.Enabled = *e.Enabled
	}
	if e.Dir != nil {
		k.Dir = *e.Dir
	}
	if e.Format != nil {
		k.Format = *e.Format
	}
	if e.Segment != nil {
		k.Segment = *e.Segment
	}
	if e.Keep != nil {
		k.Keep = *e.Keep
	}
	if e.KeepBytes != nil {
		k.KeepBytes = *e.KeepBytes
	}
	return k
}

// publishTargets checks a path's publish entries.
func publishTargets(list []PublishTarget, prefix string, p *problems) []publish.Target {
	var out []publish.Target
	for i, e := range list {
		t := publish.Target{URL: e.URL, Transport: publish.Transport(e.Transport), Fingerprint: e.Fingerprint}
		if err := t.Check(); err != nil {
			p.bad(fmt.Sprintf("%spublish[%d]", prefix, i), quote(t.Redacted()),
				strings.TrimPrefix(err.Error(), publish.ErrTarget.Error()+": ")+
					" (e.g. rtsp://user:pass@hub:8554/cam, or url:, transport: udp, fingerprint: for a self-signed rtsps hub)")
		}
		out = append(out, t)
	}
	return out
}

// recording checks a path's record section and gives the path its own
// directory under record.dir.
func recording(k RecordKeys, path, prefix string, p *problems) RecordKeys {
	if !k.Enabled {
		return RecordKeys{}
	}
	if k.Dir == "" {
		p.bad(prefix+"record.dir", quote(k.Dir), "must name a directory, e.g. /var/lib/flowcam/recordings")
	}
	if k.Segment < time.Second {
		p.bad(prefix+"record.segment", k.Segment, "must be at least 1s, e.g. 10m")
	}
	if k.Keep < 0 || k.KeepBytes < 0 {
		p.bad(prefix+"record.keep", k.Keep, "record.keep and record.keep_bytes must not be negative (0: no limit)")
	}
	k.Dir = filepath.Join(k.Dir, strings.Trim(path, "/"))
	return k
}

// streamConfig checks what the keys' types cannot and fills in the size
// and rate of sources that have none of their own.
func streamConfig(k StreamKeys, prefix string, p *problems) StreamConfig {
	sc := StreamConfig{Path: "/" + strings.Trim(k.Path, "/"), Source: k.Source, Size: capture.Size(k.Size),
		FPS: float64(k.FPS), Quality: int(k.Quality), Encoder: k.Encoder, Codec: k.Codec, Idle: k.Idle, Loop: k.Loop, Rate: float64(k.Rate)}
	sc.Publish = publishTargets(k.Publish, prefix, p)
	sc.Record = recording(k.Record, sc.Path, prefix, p)
	if sc.Path == "/" || strings.ContainsAny(sc.Path, " ?#") {
		p.bad(prefix+"path", quote(k.Path), "must be a URL path such as /cam")
	}
	if sc.Source == "" {
		p.bad(prefix+"source", quote(sc.Source), sourceHelp)
	}
	if sc.Encoder == EncoderPassthrough && sc.Source == "pattern" {
		p.bad(prefix+"encoder", quote(string(sc.Encoder)), "the pattern source makes raw pictures, which must be encoded: use auto or libjpeg")
	}
	if sc.Source == "pattern" || strings.HasPrefix(sc.Source, "/dev/") || isHelperSource(sc.Source) {
		// Pattern, cameras and helpers have no size of their own to fall back on.
		if sc.Size == (capture.Size{}) {
			sc.Size = defaultSize
		}
		if sc.FPS == 0 {
			sc.FPS = defaultFPS
		}
	}
	return sc
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

func quote(s string) string { return strconv.Quote(s) }
