package daemon

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"flowcam/capture"
	"flowcam/capture/v4l2"
	"flowcam/stream/format/multiflow"
	"flowcam/stream/format/rtpjpeg"
)

// Config is the daemon's whole configuration, immutable once loaded.
type Config struct {
	Log       LogConfig       `mapstructure:"log"`
	RTSP      RTSPConfig      `mapstructure:"rtsp"`
	HTTP      HTTPConfig      `mapstructure:"http"`
	Multiflow MultiflowConfig `mapstructure:"multiflow"`
	V4L2      V4L2Config      `mapstructure:"v4l2"`
	Auth      AuthConfig      `mapstructure:"auth"`
	RTSPS     RTSPSConfig     `mapstructure:"rtsps"`
	Streams   []StreamConfig  `mapstructure:"-"`

	// Top-level stream keys: the default stream, and defaults for every
	// entry of the streams list.
	Path    string           `mapstructure:"path"`
	Source  string           `mapstructure:"source"`
	Size    string           `mapstructure:"size"`
	FPS     string           `mapstructure:"fps"`
	Loop    bool             `mapstructure:"loop"`
	Rate    float64          `mapstructure:"rate"`
	Quality int              `mapstructure:"quality"`
	Encoder string           `mapstructure:"encoder"`
	Idle    string           `mapstructure:"idle"`
	List    []map[string]any `mapstructure:"streams"`

	ShowVersion    bool   `mapstructure:"-"`
	ListInterfaces bool   `mapstructure:"-"`
	ListDevices    bool   `mapstructure:"-"`
	ListFormats    string `mapstructure:"-"`
	File           string `mapstructure:"-"`
	HashUser       string `mapstructure:"-"` // hash-password NAME
}

// LogConfig selects log verbosity and format.
type LogConfig struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// RTSPConfig configures the RTSP server.
type RTSPConfig struct {
	Addr           string        `mapstructure:"addr"`
	SessionTimeout time.Duration `mapstructure:"session_timeout"`
	RTCPInterval   time.Duration `mapstructure:"rtcp_interval"`
	WriteTimeout   time.Duration `mapstructure:"write_timeout"`
	MTU            int           `mapstructure:"mtu"`
	QueueFrames    int           `mapstructure:"queue_frames"`

	MaxSessions         int           `mapstructure:"max_sessions"`
	MaxSessionsPerIP    int           `mapstructure:"max_sessions_per_ip"`
	MaxConnections      int           `mapstructure:"max_connections"`
	MaxConnectionsPerIP int           `mapstructure:"max_connections_per_ip"`
	RequestsPerSecond   int           `mapstructure:"requests_per_second"`
	RequestTimeout      time.Duration `mapstructure:"request_timeout"`
	IdleTimeout         time.Duration `mapstructure:"idle_timeout"`
	MaxLineBytes        int           `mapstructure:"max_line_bytes"`
	MaxHeaderBytes      int           `mapstructure:"max_header_bytes"`
	MaxBodyBytes        int           `mapstructure:"max_body_bytes"`
	UDPPorts            string        `mapstructure:"udp_ports"`
	udpPorts            [2]int
}

// HTTPConfig configures the HTTP side: status page, MJPEG, snapshots,
// metrics and health check.
type HTTPConfig struct {
	Addr string `mapstructure:"addr"` // "" turns HTTP off
	// Public paths answer without credentials even when auth.users is
	// set, e.g. /healthz for a probe, /metrics for a scraper.
	Public []string `mapstructure:"public"`
	// MaxViewers caps the open /stream.mjpg responses overall: each holds
	// a connection and a frame copy. More get 503.
	MaxViewers int `mapstructure:"max_viewers"`
	// WriteTimeout bounds each write to a viewer; a viewer that cannot
	// take one frame in that time is dropped, not waited for.
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
}

// AuthConfig lists who may watch; no users means everyone may.
type AuthConfig struct {
	Realm         string        `mapstructure:"realm"`
	Users         []UserConfig  `mapstructure:"users"`
	NonceLifetime time.Duration `mapstructure:"nonce_lifetime"`
	MaxFailures   int           `mapstructure:"max_failures"`
	FailureWindow time.Duration `mapstructure:"failure_window"`
}

// UserConfig is one account, as `flowcamd hash-password` prints it.
type UserConfig struct {
	Name   string   `mapstructure:"name"`
	SHA256 string   `mapstructure:"sha256"`
	MD5    string   `mapstructure:"md5"`
	Paths  []string `mapstructure:"paths"`
}

// RTSPSConfig configures RTSP over TLS.
type RTSPSConfig struct {
	Enabled    bool   `mapstructure:"enabled"`
	Addr       string `mapstructure:"addr"`
	Cert       string `mapstructure:"cert"`
	Key        string `mapstructure:"key"`
	SelfSigned bool   `mapstructure:"self_signed"`
}

// MultiflowConfig configures multi-flow sessions (docs/multiflow.md).
type MultiflowConfig struct {
	Enabled    bool     `mapstructure:"enabled"`
	MaxFlows   int      `mapstructure:"max_flows"`
	Modes      []string `mapstructure:"modes"`
	Interfaces []string `mapstructure:"interfaces"`
}

// V4L2Config applies to every camera source.
type V4L2Config struct {
	PixelFormat string           `mapstructure:"pixel_format"`
	Buffers     int              `mapstructure:"buffers"`
	Watchdog    time.Duration    `mapstructure:"watchdog"`
	Controls    map[string]int64 `mapstructure:"controls"`

	Format    v4l2.FourCC    `mapstructure:"-"`
	Controls_ []v4l2.Control `mapstructure:"-"`
}

// StreamConfig is one served path, after defaults are applied.
type StreamConfig struct {
	Path    string
	Source  string
	Size    capture.Size // zero: a file's own size
	FPS     float64      // zero: a file's own rate
	Quality int
	Encoder string  // auto, libjpeg, hardware or passthrough
	Idle    string  // keep or stop: what the source does while nobody watches
	Loop    bool    // files: restart at the end
	Rate    float64 // files: playback speed
}

// Sizes and rates for sources that have none of their own.
var (
	defaultSize = capture.Size{Width: 1280, Height: 720}
	defaultFPS  = 25.0
)

// defaults are every key's default value; registering each one is also
// what lets FLOWCAM_* environment variables reach it.
var defaults = map[string]any{
	"log.level":                   "info",
	"log.format":                  "text",
	"rtsp.addr":                   ":8554",
	"rtsp.session_timeout":        60 * time.Second,
	"rtsp.rtcp_interval":          5 * time.Second,
	"rtsp.write_timeout":          5 * time.Second,
	"rtsp.mtu":                    rtpjpeg.DefaultMTU,
	"rtsp.queue_frames":           4,
	"rtsp.max_sessions":           64,
	"rtsp.max_sessions_per_ip":    16,
	"rtsp.max_connections":        256,
	"rtsp.max_connections_per_ip": 32,
	"rtsp.requests_per_second":    20,
	"rtsp.request_timeout":        10 * time.Second,
	"rtsp.idle_timeout":           60 * time.Second,
	"rtsp.max_line_bytes":         4096,
	"rtsp.max_header_bytes":       16384,
	"rtsp.max_body_bytes":         65536,
	"rtsp.udp_ports":              "30000-30999",
	"http.addr":                   ":8080",
	"http.public":                 []string{"/healthz"},
	"http.max_viewers":            32,
	"http.write_timeout":          10 * time.Second,
	"multiflow.enabled":           true,
	"multiflow.max_flows":         4,
	"multiflow.modes":             []string{"stripe", "duplicate", "failover"},
	"multiflow.interfaces":        []string{},
	"auth.realm":                  "flowcam",
	"auth.users":                  []map[string]any{},
	"auth.nonce_lifetime":         5 * time.Minute,
	"auth.max_failures":           5,
	"auth.failure_window":         time.Minute,
	"rtsps.enabled":               false,
	"rtsps.addr":                  ":8322",
	"rtsps.cert":                  "",
	"rtsps.key":                   "",
	"rtsps.self_signed":           false,
	"v4l2.pixel_format":           "auto",
	"v4l2.buffers":                4,
	"v4l2.watchdog":               2 * time.Second,
	"v4l2.controls":               map[string]int64{},
	"path":                        "/cam",
	"source":                      "pattern",
	"size":                        "auto",
	"fps":                         "auto",
	"loop":                        true,
	"rate":                        1.0,
	"quality":                     80,
	"encoder":                     "auto",
	"idle":                        "keep",
}

// flags maps command-line flags to config keys.
var flags = []struct{ name, key, usage string }{
	{"source", "source", "frame source: pattern, a V4L2 device such as /dev/video0, or a video file"},
	{"size", "size", "picture size WIDTHxHEIGHT (multiples of 8, at most 2040); auto: 1280x720, or a file's own"},
	{"fps", "fps", "frames per second; auto: 25, or a file's own"},
	{"loop", "loop", "files: restart at the end"},
	{"rate", "rate", "files: playback speed factor"},
	{"quality", "quality", "JPEG quality 1-100"},
	{"encoder", "encoder", "JPEG encoder: auto, libjpeg, hardware or passthrough"},
	{"path", "path", "RTSP path of the stream"},
	{"pixel-format", "v4l2.pixel_format", "camera pixel format: auto, MJPG, YUYV, UYVY, NV12 or YU12"},
	{"rtsp-addr", "rtsp.addr", "RTSP listen address host:port"},
	{"rtsps", "rtsps.enabled", "serve RTSP over TLS too (rtsps://) on rtsps.addr"},
	{"rtsps-addr", "rtsps.addr", "RTSPS listen address host:port"},
	{"session-timeout", "rtsp.session_timeout", "close sessions idle this long"},
	{"mtu", "rtsp.mtu", "largest RTP packet in bytes"},
	{"http-addr", "http.addr", "HTTP listen address host:port (status page, MJPEG, snapshot, metrics, health); empty: no HTTP"},
	{"log-level", "log.level", "debug, info, warn or error"},
	{"log-format", "log.format", "text or json"},
}

// sources are the accepted source values besides device paths.
const sourceHelp = "accepted values are pattern, a V4L2 device such as /dev/video0 or /dev/v4l/by-id/..., or a video file"

// LoadConfig builds the configuration from defaults, the config file,
// FLOWCAM_* environment variables and flags, in increasing precedence.
func LoadConfig(args []string, stderr io.Writer) (*Config, error) {
	v := viper.New()
	fs := pflag.NewFlagSet("flowcamd", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", os.Getenv("FLOWCAM_CONFIG"), "YAML config file (see configs/flowcamd.yaml)")
	version := fs.Bool("version", false, "print version and build information, then exit")
	listIfs := fs.Bool("list-interfaces", false, "list network interfaces (for multiflow.interfaces), then exit")
	listDevs := fs.Bool("list-devices", false, "list V4L2 video devices, then exit")
	listFmts := fs.String("list-formats", "", "list the formats, sizes and frame rates of a V4L2 `device`, then exit")
	for _, f := range flags {
		switch d := defaults[f.key].(type) {
		case int:
			fs.Int(f.name, d, f.usage)
		case float64:
			fs.Float64(f.name, d, f.usage)
		case time.Duration:
			fs.Duration(f.name, d, f.usage)
		case bool:
			fs.Bool(f.name, d, f.usage)
		default:
			fs.String(f.name, fmt.Sprint(d), f.usage)
		}
		v.BindPFlag(f.key, fs.Lookup(f.name))
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	hashUser := ""
	if fs.NArg() == 2 && fs.Arg(0) == "hash-password" {
		hashUser = fs.Arg(1)
	} else if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with --; the one command is: hash-password NAME)", fs.Arg(0))
	}
	for k, d := range defaults {
		v.SetDefault(k, d)
	}
	v.SetEnvPrefix("FLOWCAM")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	// An empty FLOWCAM_* variable counts as unset (an empty duration or
	// number means nothing), except for http.addr, where "" turns HTTP off
	// as --http-addr "" does.
	if addr, set := os.LookupEnv("FLOWCAM_HTTP_ADDR"); set && addr == "" && !fs.Changed("http-addr") {
		v.Set("http.addr", "")
	}
	cfg := &Config{ShowVersion: *version, ListInterfaces: *listIfs, ListDevices: *listDevs, ListFormats: *listFmts,
		File: *cfgFile, HashUser: hashUser}
	if *cfgFile != "" {
		v.SetConfigFile(*cfgFile)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config file %s: %w", *cfgFile, err)
		}
	}
	if err := v.UnmarshalExact(cfg); err != nil {
		msg := strings.TrimPrefix(err.Error(), "decoding failed due to the following error(s):\n\n")
		return nil, fmt.Errorf("config%s: %s (every key is documented in configs/flowcamd.yaml)", inFile(*cfgFile), msg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("config%s: %w", inFile(*cfgFile), err)
	}
	return cfg, nil
}

func inFile(f string) string {
	if f == "" {
		return ""
	}
	return " " + f
}

// problems collects every configuration error, so one run reports them all.
type problems []error

// bad records that key holds val, and says what it accepts.
func (p *problems) bad(key string, val any, accepted string) {
	*p = append(*p, fmt.Errorf("%s = %v: %s", key, val, accepted))
}

// validate checks every value and builds the stream list; each error names
// the key and what it accepts.
func (c *Config) validate() error {
	var p problems
	if !oneOf(c.Log.Level, "debug", "info", "warn", "error") {
		p.bad("log.level", quote(c.Log.Level), "accepted values are debug, info, warn, error")
	}
	if !oneOf(c.Log.Format, "text", "json") {
		p.bad("log.format", quote(c.Log.Format), "accepted values are text, json")
	}
	if _, port, err := net.SplitHostPort(c.RTSP.Addr); err != nil || !validPort(port) {
		p.bad("rtsp.addr", quote(c.RTSP.Addr), "must be host:port or :port, e.g. :8554")
	}
	if _, port, err := net.SplitHostPort(c.HTTP.Addr); c.HTTP.Addr != "" && (err != nil || !validPort(port)) {
		p.bad("http.addr", quote(c.HTTP.Addr), `must be host:port or :port, e.g. :8080, or "" for no HTTP`)
	}
	if c.HTTP.MaxViewers < 1 {
		p.bad("http.max_viewers", c.HTTP.MaxViewers, "must be at least 1, e.g. 32")
	}
	for _, d := range []struct {
		key string
		val time.Duration
	}{{"rtsp.session_timeout", c.RTSP.SessionTimeout}, {"rtsp.rtcp_interval", c.RTSP.RTCPInterval},
		{"rtsp.write_timeout", c.RTSP.WriteTimeout}, {"http.write_timeout", c.HTTP.WriteTimeout}} {
		if d.val <= 0 {
			p.bad(d.key, d.val, "must be a positive duration, e.g. 60s")
		}
	}
	if c.RTSP.MTU < rtpjpeg.MinMTU || c.RTSP.MTU > rtpjpeg.MaxMTU {
		p.bad("rtsp.mtu", c.RTSP.MTU, fmt.Sprintf("must be from %d to %d bytes", rtpjpeg.MinMTU, rtpjpeg.MaxMTU))
	}
	if c.RTSP.QueueFrames < 1 || c.RTSP.QueueFrames > 100 {
		p.bad("rtsp.queue_frames", c.RTSP.QueueFrames, "must be from 1 to 100")
	}
	if c.Multiflow.MaxFlows < 1 || c.Multiflow.MaxFlows > multiflow.MaxFlows {
		p.bad("multiflow.max_flows", c.Multiflow.MaxFlows, fmt.Sprintf("must be from 1 to %d", multiflow.MaxFlows))
	}
	for _, m := range c.Multiflow.Modes {
		if _, err := multiflow.ParseMode(m); err != nil {
			p.bad("multiflow.modes", quote(m), "accepted values are stripe, duplicate, failover")
		}
	}
	c.checkV4L2(&p)
	c.checkAccess(&p)
	c.checkGuard(&p)
	c.Streams = c.streams(&p)
	return errors.Join(p...)
}

func (c *Config) checkV4L2(p *problems) {
	v := &c.V4L2
	if !strings.EqualFold(v.PixelFormat, "auto") {
		f, err := v4l2.ParseFourCC(v.PixelFormat)
		if err != nil {
			p.bad("v4l2.pixel_format", quote(v.PixelFormat), "accepted values are auto, MJPG, YUYV, UYVY, NV12, YU12")
		}
		v.Format = f
	}
	if v.Buffers < 2 || v.Buffers > 32 {
		p.bad("v4l2.buffers", v.Buffers, "must be from 2 to 32")
	}
	if v.Watchdog < 100*time.Millisecond {
		p.bad("v4l2.watchdog", v.Watchdog, "must be at least 100ms, e.g. 2s")
	}
	v.Controls_ = nil
	for name, val := range v.Controls {
		ctl, err := v4l2.ParseControl(fmt.Sprintf("%s=%d", name, val))
		if err != nil || val < math.MinInt32 || val > math.MaxInt32 {
			p.bad("v4l2.controls."+name, val, "must be an integer the camera accepts")
			continue
		}
		v.Controls_ = append(v.Controls_, ctl)
	}
}

// streams applies the top-level stream keys to each entry of the streams
// list (or makes the single default stream) and checks them.
func (c *Config) streams(p *problems) []StreamConfig {
	entries := c.List
	if len(entries) == 0 {
		entries = []map[string]any{{}}
	}
	var out []StreamConfig
	seen := map[string]bool{}
	for i, e := range entries {
		prefix := ""
		if len(c.List) > 0 {
			prefix = fmt.Sprintf("streams[%d].", i)
		}
		raw := map[string]any{"path": c.Path, "source": c.Source, "size": c.Size, "fps": c.FPS, "quality": c.Quality,
			"loop": c.Loop, "rate": c.Rate, "encoder": c.Encoder, "idle": c.Idle}
		for k, val := range e {
			if _, ok := raw[k]; !ok {
				*p = append(*p, fmt.Errorf("%s%s: unknown key (stream keys are path, source, size, fps, quality, encoder, idle, loop, rate)", prefix, k))
				continue
			}
			raw[k] = val
		}
		s := parseStream(prefix, raw, p)
		if seen[s.Path] {
			p.bad(prefix+"path", quote(s.Path), "is used by another stream: paths must be unique")
		}
		seen[s.Path] = true
		out = append(out, s)
	}
	return out
}

func parseStream(prefix string, raw map[string]any, p *problems) StreamConfig {
	var s StreamConfig
	s.Path = "/" + strings.Trim(fmt.Sprint(raw["path"]), "/")
	if s.Path == "/" || strings.ContainsAny(s.Path, " ?#") {
		p.bad(prefix+"path", quote(fmt.Sprint(raw["path"])), "must be a URL path such as /cam")
	}
	s.Source = fmt.Sprint(raw["source"])
	if s.Source == "" {
		p.bad(prefix+"source", quote(s.Source), sourceHelp)
	}
	var err error
	if v := fmt.Sprint(raw["size"]); v != "auto" {
		if s.Size, err = parseSize(v); err != nil {
			p.bad(prefix+"size", quote(v), "must be auto or WIDTHxHEIGHT with multiples of 8 from 8 to 2040, e.g. 1280x720")
		}
	}
	if v := fmt.Sprint(raw["fps"]); v != "auto" {
		if s.FPS, err = strconv.ParseFloat(v, 64); err != nil || !(s.FPS > 0 && s.FPS <= 1000) {
			p.bad(prefix+"fps", v, "must be auto or a number above 0 and at most 1000, e.g. 25")
		}
	}
	if s.Quality, err = strconv.Atoi(fmt.Sprint(raw["quality"])); err != nil || s.Quality < 1 || s.Quality > 100 {
		p.bad(prefix+"quality", raw["quality"], "must be a whole number from 1 to 100, e.g. 80")
	}
	s.Encoder = fmt.Sprint(raw["encoder"])
	switch {
	case !oneOf(s.Encoder, encoderChoices...):
		p.bad(prefix+"encoder", quote(s.Encoder), "accepted values are auto, libjpeg, hardware, passthrough")
	case s.Encoder == "passthrough" && s.Source == "pattern":
		p.bad(prefix+"encoder", quote(s.Encoder), "the pattern source makes raw pictures, which must be encoded: use auto or libjpeg")
	}
	if s.Idle = fmt.Sprint(raw["idle"]); !oneOf(s.Idle, "keep", "stop") {
		p.bad(prefix+"idle", quote(s.Idle), "accepted values are keep, stop")
	}
	if s.Loop, err = strconv.ParseBool(fmt.Sprint(raw["loop"])); err != nil {
		p.bad(prefix+"loop", raw["loop"], "must be true or false")
	}
	if s.Rate, err = strconv.ParseFloat(fmt.Sprint(raw["rate"]), 64); err != nil || !(s.Rate > 0 && s.Rate <= 16) {
		p.bad(prefix+"rate", raw["rate"], "must be a speed factor above 0 and at most 16, e.g. 1 or 0.5")
	}
	if s.Source == "pattern" || strings.HasPrefix(s.Source, "/dev/") {
		// Pattern and cameras have no size of their own to fall back on.
		if s.Size == (capture.Size{}) {
			s.Size = defaultSize
		}
		if s.FPS == 0 {
			s.FPS = defaultFPS
		}
	}
	return s
}

func parseSize(v string) (capture.Size, error) {
	w, h, ok := strings.Cut(strings.ToLower(v), "x")
	width, err1 := strconv.Atoi(w)
	height, err2 := strconv.Atoi(h)
	if !ok || err1 != nil || err2 != nil {
		return capture.Size{}, fmt.Errorf("malformed size %q", v)
	}
	s := capture.Size{Width: width, Height: height}
	return s, s.Validate()
}

func oneOf(v string, set ...string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

func quote(s string) string { return strconv.Quote(s) }
