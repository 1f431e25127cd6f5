package daemon

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"flowcam/capture"
	"flowcam/stream/server/publish"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "flowcamd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExampleConfigIsTheDefaults proves configs/flowcamd.yaml documents
// every key with its real default.
func TestExampleConfigIsTheDefaults(t *testing.T) {
	fromFile, err := LoadConfig([]string{"--config", "../../configs/flowcamd.yaml"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	builtin, err := LoadConfig(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	fromFile.File, fromFile.List = "", nil
	if !reflect.DeepEqual(fromFile, builtin) {
		t.Fatalf("example file differs from defaults:\nfile    %+v\ndefault %+v", fromFile, builtin)
	}
	example, _ := os.ReadFile("../../configs/flowcamd.yaml")
	for _, d := range defaults {
		key := d.key
		leaf := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(string(example), "\n"+leaf+":") && !strings.Contains(string(example), " "+leaf+":") {
			t.Errorf("key %s is not documented in configs/flowcamd.yaml", key)
		}
	}
}

func TestConfigSources(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		file  string
		check func(*Config) bool
	}{
		{"defaults", nil, nil, "", func(c *Config) bool {
			return c.RTSP.Addr == ":8554" && len(c.Streams) == 1 && reflect.DeepEqual(c.Streams[0], StreamConfig{
				Path: "/cam", Source: "pattern", Size: capture.Size{Width: 1280, Height: 720}, FPS: 25, Quality: 80,
				Threads: 1, Encoder: "auto", Codec: "auto", Idle: "keep", Loop: true, Rate: 1})
		}},
		{"publish flags", []string{"--publish", "rtsp://u:p@hub:8554/a", "--publish", "rtsps://hub:8322/b"}, nil, "", func(c *Config) bool {
			return reflect.DeepEqual(c.Streams[0].Publish, []publish.Target{{URL: "rtsp://u:p@hub:8554/a"}, {URL: "rtsps://hub:8322/b"}})
		}},
		{"record flags", []string{"--record", "--record-dir", "/srv/rec", "--path", "site/front"}, nil, "", func(c *Config) bool {
			r := c.Streams[0].Record
			return r.Enabled && r.Dir == "/srv/rec/site/front" && r.Format == RecordMKV && r.Segment == 10*time.Minute
		}},
		{"publish and record per stream", nil, nil, `
record:
  dir: /srv/rec
  segment: 10s
  keep_bytes: 2G
streams:
  - path: /a
    publish:
      - rtsp://hub/a
      - url: rtsp://hub/a2
        transport: udp
    record:
      enabled: true
      format: mp4
  - path: /b
`, func(c *Config) bool {
			a, b := c.Streams[0], c.Streams[1]
			return reflect.DeepEqual(a.Publish, []publish.Target{{URL: "rtsp://hub/a"}, {URL: "rtsp://hub/a2", Transport: publish.UDP}}) &&
				a.Record == RecordKeys{Enabled: true, Dir: "/srv/rec/a", Format: RecordMP4, Segment: 10 * time.Second, KeepBytes: 2 << 30} &&
				b.Publish == nil && !b.Record.Enabled
		}},
		{"flags", []string{"--size", "640x480", "--fps", "29.97", "--quality", "50", "--rtsp-addr", "127.0.0.1:9000",
			"--session-timeout", "3s", "--path", "front"}, nil, "", func(c *Config) bool {
			s := c.Streams[0]
			return s.Size == capture.Size{Width: 640, Height: 480} && s.FPS == 29.97 && s.Quality == 50 &&
				c.RTSP.Addr == "127.0.0.1:9000" && c.RTSP.SessionTimeout == 3*time.Second && s.Path == "/front"
		}},
		{"http", nil, nil, "", func(c *Config) bool { return c.HTTP.Addr == ":8080" }},
		{"http off", []string{"--http-addr", ""}, nil, "", func(c *Config) bool { return c.HTTP.Addr == "" }},
		{"http off from env", nil, map[string]string{"FLOWCAM_HTTP_ADDR": ""}, "", func(c *Config) bool { return c.HTTP.Addr == "" }},
		{"flag beats empty env", []string{"--http-addr", ":9080"}, map[string]string{"FLOWCAM_HTTP_ADDR": ""}, "",
			func(c *Config) bool { return c.HTTP.Addr == ":9080" }},
		{"other empty env is unset", nil, map[string]string{"FLOWCAM_RTSP_SESSION_TIMEOUT": "", "FLOWCAM_FPS": ""}, "",
			func(c *Config) bool { return c.RTSP.SessionTimeout == 60*time.Second && c.Streams[0].FPS == 25 }},
		{"http in file", nil, nil, "http:\n  addr: 127.0.0.1:9080\n", func(c *Config) bool { return c.HTTP.Addr == "127.0.0.1:9080" }},
		{"env", nil, map[string]string{"FLOWCAM_RTSP_ADDR": ":7000", "FLOWCAM_FPS": "10", "FLOWCAM_LOG_LEVEL": "debug"}, "",
			func(c *Config) bool {
				return c.RTSP.Addr == ":7000" && c.Streams[0].FPS == 10 && c.Log.Level == LogLevel(slog.LevelDebug)
			}},
		{"flag beats env beats file", []string{"--fps", "5"}, map[string]string{"FLOWCAM_FPS": "6", "FLOWCAM_QUALITY": "60"},
			"fps: 7\nquality: 70\nsize: 320x240\n",
			func(c *Config) bool {
				s := c.Streams[0]
				return s.FPS == 5 && s.Quality == 60 && s.Size.Width == 320
			}},
		{"streams inherit", nil, nil, "fps: 10\nencoder: libjpeg\nstreams:\n  - path: /a\n  - path: /b\n    size: 320x240\n    fps: 5\n    encoder: hardware\n",
			func(c *Config) bool {
				return len(c.Streams) == 2 && c.Streams[0].FPS == 10 && c.Streams[0].Size.Width == 1280 &&
					c.Streams[1].Path == "/b" && c.Streams[1].FPS == 5 && c.Streams[1].Size.Width == 320 &&
					c.Streams[0].Encoder == "libjpeg" && c.Streams[1].Encoder == "hardware"
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			args := c.args
			if c.file != "" {
				args = append(args, "--config", writeFile(t, c.file))
			}
			cfg, err := LoadConfig(args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(cfg) {
				t.Fatalf("got %+v", cfg)
			}
		})
	}
}

// TestConfigErrorsNameTheKey: every rejected value names its key and what
// the key accepts.
func TestConfigErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		args []string
		file string
		want []string
	}{
		{args: []string{"--fps", "0"}, want: []string{"fps = 0", "above 0"}},
		{args: []string{"--size", "1281x720"}, want: []string{`size = "1281x720"`, "multiples of 8"}},
		{args: []string{"--size", "4096x2160"}, want: []string{"size", "2040"}},
		{args: []string{"--size", "big"}, want: []string{"size", "WIDTHxHEIGHT"}},
		{args: []string{"--quality", "101"}, want: []string{"quality = 101", "1 to 100"}},
		{args: []string{"--jpeg-threads", "8"}, want: []string{"jpeg.threads = 8", "auto or a whole number from 1 to 4"}},
		{file: "jpeg:\n  threads: many\n", want: []string{`jpeg.threads = "many"`, "e.g. auto"}},
		{args: []string{"--source", ""}, want: []string{`source = ""`, "pattern"}},
		{args: []string{"--rate", "0"}, want: []string{"rate = 0", "speed factor"}},
		{args: []string{"--loop=maybe"}, want: []string{"loop"}},
		{args: []string{"--log-level", "loud"}, want: []string{"log.level", "debug, info, warn, error"}},
		{args: []string{"--rtsp-addr", "8554"}, want: []string{"rtsp.addr", ":8554"}},
		{args: []string{"--http-addr", "8080"}, want: []string{"http.addr", ":8080", `""`}},
		{file: "http:\n  max_viewers: 0\n", want: []string{"http.max_viewers", "at least 1"}},
		{file: "http:\n  write_timeout: 0s\n", want: []string{"http.write_timeout", "positive duration"}},
		{args: []string{"--mtu", "100"}, want: []string{"rtsp.mtu = 100", "220"}},
		{args: []string{"--session-timeout", "0s"}, want: []string{"rtsp.session_timeout", "positive"}},
		{args: []string{"stray"}, want: []string{"unexpected argument"}},
		{file: "rtsp:\n  adress: x\n", want: []string{"adress", "configs/flowcamd.yaml"}},
		{file: "fps: fast\n", want: []string{"fps"}},
		{file: "streams:\n  - path: /a\n  - path: /a\n", want: []string{"streams[1].path", "unique"}},
		{file: "streams:\n  - path: /a\n    source: /dev/video0\n  - path: /b\n    source: /dev/video0\n    fps: 10\n",
			want: []string{"streams[1].fps = 10", "differs from path /a's 25", "give both paths the same fps"}},
		{file: "streams:\n  - path: /a\n    colour: red\n", want: []string{"streams[0].colour", "unknown key"}},
		{file: "streams:\n  - path: /a\n    fps: -1\n", want: []string{"streams[0].fps = -1"}},
		{file: "{{{", want: []string{"flowcamd.yaml"}},
		{args: []string{"--fps", "0", "--quality", "0"}, want: []string{"fps = 0", "quality = 0"}},
		{args: []string{"--encoder", "gpu"}, want: []string{`encoder = "gpu"`, "auto, libjpeg, hardware, passthrough"}},
		{args: []string{"--encoder", "passthrough"}, want: []string{"encoder", "pattern source makes raw pictures"}},
		{args: []string{"--source", "libcamera", "--encoder", "passthrough"}, want: []string{"encoder", "libcamera.codec yuv420"}},
		{args: []string{"--source", "argus:x"}, want: []string{`source = "argus:x"`, "sensor number"}},
		{args: []string{"--source", `exec:ffmpeg "open`}, want: []string{"source", "quotes must be closed"}},
		{args: []string{"--pixel-format", "RGB3"}, want: []string{`v4l2.pixel_format = "RGB3"`, "auto, MJPG, YUYV"}},
		{args: []string{"--log-format", "xml"}, want: []string{`log.format = "xml"`, "text, json"}},
		{file: "idle: sometimes\n", want: []string{`idle = "sometimes"`, "keep, stop"}},
		{file: "multiflow:\n  modes: [stripe, spray]\n", want: []string{`multiflow.modes[1]`, "spray", "stripe, duplicate, failover"}},
		{file: "quality: fine\n", want: []string{`quality = "fine"`, "1 to 100"}},
		{file: "rtsp:\n  session_timeout: soon\n", want: []string{`rtsp.session_timeout = "soon"`, "duration"}},
		{file: "rtsp:\n  max_sessions: many\n", want: []string{`rtsp.max_sessions = "many"`, "whole number"}},
		{file: "rtsp:\n  udp_ports: 80-90\n", want: []string{`rtsp.udp_ports = "80-90"`, "FIRST-LAST"}},
		{file: "v4l2:\n  controls:\n    brightness: 99999999999\n", want: []string{"v4l2.controls.brightness = 99999999999"}},
		{file: "streams:\n  - path: /a\n    encoder: gpu\n  - path: /b\n    size: 1x1\n", want: []string{`streams[0].encoder = "gpu"`, `streams[1].size = "1x1"`}},
		{args: []string{"--publish", "http://hub/cam"}, want: []string{`publish[0] = "http://hub/cam"`, "rtsp://"}},
		{args: []string{"--publish", "rtsp://u:secret@/cam"}, want: []string{"publish[0]", "no host"}},
		{file: "streams:\n  - path: /a\n    publish:\n      - url: rtsps://hub/a\n        transport: udp\n",
			want: []string{"streams[0].publish[0]", "TCP only"}},
		{file: "rtsp:\n  multicast:\n    groups: 10.0.0.0/24\n", want: []string{"rtsp.multicast.groups", "multicast prefix"}},
		{file: "rtsp:\n  multicast:\n    groups: nonsense\n", want: []string{"rtsp.multicast.groups"}},
		{file: "rtsp:\n  multicast:\n    ports: 31001-31999\n", want: []string{"rtsp.multicast.ports", "even"}},
		{file: "rtsp:\n  multicast:\n    ttl: 0\n", want: []string{"rtsp.multicast.ttl", "1 (this network only)"}},
		{file: "record:\n  enabled: true\n  format: avi\n", want: []string{`record.format = "avi"`, "mkv, mp4"}},
		{file: "record:\n  enabled: true\n  segment: 10ms\n", want: []string{"record.segment", "at least 1s"}},
		{file: "record:\n  keep_bytes: lots\n", want: []string{"record.keep_bytes", "20G"}},
		{file: "streams:\n  - path: /a\n    record:\n      enabled: true\n      segmnt: 1m\n", want: []string{"streams[0].record.segmnt", "unknown key"}},
		{file: "colour: red\nrtsp:\n  adress: x\nfps: 0\n", want: []string{"colour: unknown key", "rtsp.adress: unknown key", "fps = 0"}},
	}
	for _, c := range cases {
		args := c.args
		if c.file != "" {
			args = append(args, "--config", writeFile(t, c.file))
		}
		_, err := LoadConfig(args, io.Discard)
		if err == nil {
			t.Errorf("%v %q: accepted", c.args, c.file)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v %q: error %q does not mention %q", c.args, c.file, err, w)
			}
		}
	}
}

// TestResolveLeavesSettings: resolving computes the effective config and
// leaves the decoded settings as they were read.
func TestResolveLeavesSettings(t *testing.T) {
	file := writeFile(t, "path: front\nstreams:\n  - path: /a/\n  - source: /dev/video0\n    path: b\n")
	cfg, err := LoadConfig([]string{"--config", file}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	before := cfg.Settings
	again := &Config{Settings: cfg.Settings}
	if err := again.resolve(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, again.Settings) || !reflect.DeepEqual(cfg.Streams, again.Streams) {
		t.Fatalf("resolve changed the settings or is not a function of them:\n%+v\n%+v", before, again.Settings)
	}
	if cfg.Path != "front" || *cfg.List[0].Path != "/a/" || cfg.Streams[0].Path != "/a" || cfg.Streams[1].Path != "/b" {
		t.Fatalf("settings %q %q, streams %+v", cfg.Path, *cfg.List[0].Path, cfg.Streams)
	}
	if cfg.Streams[1].Size != (capture.Size{Width: 1280, Height: 720}) || cfg.Settings.Size != (Size{}) {
		t.Fatalf("a camera's size is the default in the stream, auto in the settings: %+v %v", cfg.Streams[1], cfg.Settings.Size)
	}
}

// FuzzConfigFile: no file content may crash the loader.
func FuzzConfigFile(f *testing.F) {
	example, _ := os.ReadFile("../../configs/flowcamd.yaml")
	f.Add(string(example))
	f.Add("streams:\n  - path: /a\n    fps: 3\n")
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(p, []byte(body), 0o600)
		cfg, err := LoadConfig([]string{"--config", p}, io.Discard)
		if err == nil && len(cfg.Streams) == 0 {
			t.Fatal("accepted a config with no stream")
		}
	})
}
