package client

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"flowcam/stream/client/pull"
	"flowcam/stream/client/record"
	"flowcam/stream/format/multiflow"
)

// Config is one invocation of the client.
type Config struct {
	Command   string // pull, or relay: pull and serve again over RTSP
	URL       string
	Flows     int
	Via       []string
	Mode      multiflow.Mode
	ModeSet   bool
	Transport pull.Transport
	Latency   time.Duration
	// LatencyMode fixed keeps the play-out delay at Latency instead of
	// adapting it.
	LatencyMode LatencyMode
	Weights     []float64
	Duration    time.Duration
	Output      string // "" none, "-" stdout, else a file
	Segment     time.Duration
	Keep        time.Duration
	KeepBytes   record.Bytes
	StatsJSON   string
	RTSPAddr    string // relay: where it serves
	HTTPAddr    string // the live page's address; "" for none
	RelayPath   string // relay: the path it serves
	Publish     string // relay: an RTSP server to push the stream into (ANNOUNCE, RECORD)
	ConfigFile  string // YAML with the flags' values, for a service
	// Auth is the relay's accounts, from the config file's auth section
	// (flowcamd's format); none lets everyone watch.
	Auth AuthConfig
	// RTSP is the relay server's limits, from the config file's rtsp
	// section (flowcamd's keys); zero values keep flowcamd's defaults.
	RTSP     RTSPLimits
	LogLevel slog.Level
	Version  bool
}

// LatencyMode is --latency-mode.
type LatencyMode string

const (
	LatencyAdaptive LatencyMode = "adaptive" // follows the paths' spread and jitter, up to --latency
	LatencyFixed    LatencyMode = "fixed"    // always --latency
)

// UnmarshalText accepts adaptive or fixed.
func (m *LatencyMode) UnmarshalText(b []byte) error {
	switch v := LatencyMode(b); v {
	case LatencyAdaptive, LatencyFixed:
		*m = v
		return nil
	}
	return fmt.Errorf("%q: accepted values are adaptive, fixed", b)
}

// MarshalText writes the mode's name.
func (m LatencyMode) MarshalText() ([]byte, error) { return []byte(m), nil }

const usage = `usage: flowcam pull URL [flags]
       flowcam relay URL [--rtsp-addr :8554] [flags]

pull: pulls an RTSP MJPEG or H.264 stream and plays it out by its RTP clock. Against
flowcamd, --flows N (or --via) carries it over several network paths at once; any
other server gets one plain flow.
relay: pulls the same way and serves what it plays again as plain RTSP (UDP and TCP),
for any player or NVR.

flags:
`

// ParseArgs reads "pull URL [flags]".
func ParseArgs(args []string, stderr io.Writer) (*Config, error) {
	fs := pflag.NewFlagSet("flowcam", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	cfg := &Config{}
	define(fs, cfg)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if cfg.Version {
		return cfg, nil
	}
	rest := fs.Args()
	if cfg.ConfigFile != "" {
		url, err := readFile(fs, cfg.ConfigFile, cfg)
		if err != nil {
			return nil, err
		}
		if len(rest) == 1 && url != "" {
			rest = append(rest, url)
		}
	}
	if len(rest) != 2 || (rest[0] != "pull" && rest[0] != "relay") {
		fs.Usage()
		return nil, errors.New("expected: flowcam pull URL [flags], or flowcam relay URL [flags]")
	}
	cfg.Command, cfg.URL = rest[0], rest[1]
	cfg.ModeSet = fs.Changed("mode")
	if cfg.Publish != "" && !fs.Changed("rtsp-addr") {
		cfg.RTSPAddr = "" // publishing instead of serving
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if len(cfg.Weights) > 0 {
		cfg.Flows = len(cfg.Weights) // --flows 1 is the default: the weights say how many
	}
	return cfg, nil
}

// define declares the flags, with their defaults.
func define(fs *pflag.FlagSet, cfg *Config) {
	fs.IntVar(&cfg.Flows, "flows", 1, "flows (network paths) to ask for, 1 to 8")
	fs.StringSliceVar(&cfg.Via, "via", nil, "client interfaces for the flows, e.g. eth0,wlan0")
	fs.TextVar(&cfg.Mode, "mode", multiflow.Stripe, "multi-flow mode: stripe, duplicate or failover")
	fs.TextVar(&cfg.Transport, "transport", pull.UDP, "plain RTSP transport: udp or tcp")
	fs.DurationVar(&cfg.Latency, "latency", 150*time.Millisecond,
		"most play-out delay: time for late and reordered packets (the delay itself with --latency-mode fixed)")
	fs.TextVar(&cfg.LatencyMode, "latency-mode", LatencyAdaptive,
		"adaptive: the delay follows the paths' spread and jitter, up to --latency; fixed: always --latency")
	fs.Float64SliceVar(&cfg.Weights, "weights", nil,
		"stripe with these fixed shares, one per flow (e.g. 1,1), instead of measured ones: a baseline")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: until interrupted)")
	fs.StringVarP(&cfg.Output, "output", "o", "", "write the stream to FILE: a recording with the frames' times if it ends in .mkv (Matroska) or .mp4 (fragmented MP4), "+
		"else back to back (- for stdout): MJPEG (ffplay -f mjpeg -), or H.264 Annex B from an H.264 path (ffplay -f h264 -)")
	fs.DurationVar(&cfg.Segment, "segment", 0, "with -o FILE.mkv or .mp4: start a new file this often, named by its start (-o cam-%Y%m%d-%H%M%S.mkv)")
	fs.DurationVar(&cfg.Keep, "keep", 0, "with --segment: delete segments older than this (e.g. 24h)")
	fs.TextVar(&cfg.KeepBytes, "keep-bytes", record.Bytes(0), "with --segment: delete the oldest segments while all take more than this (e.g. 20G)")
	fs.StringVar(&cfg.StatsJSON, "stats-json", "", "write a final JSON report to FILE")
	fs.TextVar(&cfg.LogLevel, "log-level", slog.LevelWarn, "debug, info, warn or error")
	fs.BoolVar(&cfg.Version, "version", false, "print the version and exit")
	fs.StringVar(&cfg.ConfigFile, "config", "", "read flags from this YAML file (keys are the flags' names, and url); the command line wins")
	fs.StringVar(&cfg.RTSPAddr, "rtsp-addr", ":8554", "relay: serve the stream at this address")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "", "serve a live page here (picture, charts, /stats.json, /metrics), e.g. 127.0.0.1:8081")
	fs.StringVar(&cfg.RelayPath, "path", "/cam", "relay: serve the stream at this path")
	fs.StringVar(&cfg.Publish, "publish", "", "relay: push the stream into this RTSP server (ANNOUNCE/RECORD, e.g. rtsp://user:pass@hub:8554/cam), "+
		"instead of serving it unless --rtsp-addr is given too")
}

// check refuses what no single flag's type can: ranges and combinations.
func (c *Config) check() error {
	if err := c.checkWeights(); err != nil {
		return err
	}
	if c.Flows < 1 || c.Flows > multiflow.MaxFlows {
		return fmt.Errorf("--flows %d: must be from 1 to %d", c.Flows, multiflow.MaxFlows)
	}
	if c.Latency < 0 || c.Duration < 0 {
		return errors.New("--latency and --duration must not be negative")
	}
	if !strings.HasPrefix(c.URL, "rtsp://") {
		return fmt.Errorf("URL %q: must start with rtsp://", c.URL)
	}
	if c.Command == "relay" && !strings.HasPrefix(c.RelayPath, "/") {
		return fmt.Errorf("--path %q: must start with /", c.RelayPath)
	}
	if c.Publish != "" && (c.Command != "relay" || !strings.HasPrefix(c.Publish, "rtsp://")) {
		return fmt.Errorf("--publish %q: flowcam relay only, and an rtsp:// URL", c.Publish)
	}
	return nil
}

// checkWeights accepts one positive weight per flow, in stripe mode.
func (c Config) checkWeights() error {
	if len(c.Weights) == 0 {
		return nil
	}
	if c.Mode != multiflow.Stripe {
		return fmt.Errorf("--weights: only with --mode stripe (a fixed split), not %s", c.Mode)
	}
	if len(c.Weights) < 2 || len(c.Weights) > multiflow.MaxFlows {
		return fmt.Errorf("--weights %v: give one weight per flow, 2 to %d", c.Weights, multiflow.MaxFlows)
	}
	for _, w := range c.Weights {
		if !(w > 0 && w <= 1000) {
			return fmt.Errorf("--weights %v: each weight must be above 0 and at most 1000", c.Weights)
		}
	}
	if c.Flows != 1 && c.Flows != len(c.Weights) {
		return fmt.Errorf("--weights: %d weights for --flows %d", len(c.Weights), c.Flows)
	}
	return nil
}

// readFile sets the flags a YAML file gives and the command line does
// not, and returns its url. A key that names no flag is refused, naming it.
func readFile(fs *pflag.FlagSet, path string, cfg *Config) (string, error) {
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return "", fmt.Errorf("--config %s: %w", path, err)
	}
	if err := readAuth(v, path, &cfg.Auth); err != nil {
		return "", err
	}
	if err := readRTSP(v, path, &cfg.RTSP); err != nil {
		return "", err
	}
	for _, key := range v.AllKeys() {
		f := fs.Lookup(key)
		switch {
		case key == "url", strings.HasPrefix(key, "auth."), strings.HasPrefix(key, "rtsp."):
			continue
		case f == nil || key == "config" || key == "version":
			return "", fmt.Errorf("--config %s: unknown key %q: the keys are url and the flags' names (flows, via, mode, publish, rtsp-addr, output, ...)", path, key)
		case fs.Changed(key):
			continue
		}
		val := v.Get(key)
		if val == nil {
			return "", fmt.Errorf("--config %s: %s has no value: give one or leave the key out", path, key)
		}
		if list, ok := val.([]any); ok {
			parts := make([]string, len(list))
			for i, e := range list {
				parts[i] = fmt.Sprint(e)
			}
			val = strings.Join(parts, ",")
		}
		if err := fs.Set(key, fmt.Sprint(val)); err != nil {
			return "", fmt.Errorf("--config %s: %s: %w", path, key, err)
		}
	}
	return v.GetString("url"), nil
}

// AuthConfig is the relay's auth section, as flowcamd's: `flowcamd
// hash-password NAME` prints a users entry (for the realm "flowcam").
type AuthConfig struct {
	Realm string `mapstructure:"realm"`
	Users []struct {
		Name   string   `mapstructure:"name"`
		SHA256 string   `mapstructure:"sha256"`
		MD5    string   `mapstructure:"md5"`
		Paths  []string `mapstructure:"paths"`
	} `mapstructure:"users"`
}

// readAuth reads the auth section, if the file has one.
func readAuth(v *viper.Viper, path string, into *AuthConfig) error {
	into.Realm = "flowcam"
	if !v.IsSet("auth") {
		return nil
	}
	if err := v.UnmarshalKey("auth", into); err != nil {
		return fmt.Errorf("--config %s: auth: %w", path, err)
	}
	return nil
}

// RTSPLimits are the relay server's limits, named as flowcamd's rtsp keys.
type RTSPLimits struct {
	MaxSessions         int           `mapstructure:"max_sessions"`
	MaxSessionsPerIP    int           `mapstructure:"max_sessions_per_ip"`
	MaxConnections      int           `mapstructure:"max_connections"`
	MaxConnectionsPerIP int           `mapstructure:"max_connections_per_ip"`
	RequestsPerSecond   int           `mapstructure:"requests_per_second"`
	SessionTimeout      time.Duration `mapstructure:"session_timeout"`
}

// readRTSP reads the rtsp section, if the file has one, refusing a key
// it does not know and a value below 1.
func readRTSP(v *viper.Viper, path string, into *RTSPLimits) error {
	if !v.IsSet("rtsp") {
		return nil
	}
	var known map[string]any
	mapstructure.Decode(RTSPLimits{}, &known)
	for key := range v.GetStringMap("rtsp") {
		if _, ok := known[key]; !ok {
			return fmt.Errorf("--config %s: unknown key \"rtsp.%s\": the relay takes rtsp.max_sessions, max_sessions_per_ip, "+
				"max_connections, max_connections_per_ip, requests_per_second and session_timeout", path, key)
		}
	}
	if err := v.UnmarshalKey("rtsp", into); err != nil {
		return fmt.Errorf("--config %s: rtsp: %w", path, err)
	}
	for key, val := range map[string]int{"max_sessions": into.MaxSessions, "max_sessions_per_ip": into.MaxSessionsPerIP,
		"max_connections": into.MaxConnections, "max_connections_per_ip": into.MaxConnectionsPerIP,
		"requests_per_second": into.RequestsPerSecond, "session_timeout": int(into.SessionTimeout)} {
		if v.IsSet("rtsp."+key) && val < 1 {
			return fmt.Errorf("--config %s: rtsp.%s = %v: must be at least 1 (leave it out for flowcamd's default)", path, key, v.Get("rtsp."+key))
		}
	}
	return nil
}
