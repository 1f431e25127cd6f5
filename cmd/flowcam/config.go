package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"flowcam/stream/multiflow"
)

// Config is one invocation of the client.
type Config struct {
	URL       string
	Flows     int
	Via       []string
	Mode      multiflow.Mode
	ModeSet   bool
	Transport string
	Latency   time.Duration
	Duration  time.Duration
	Output    string // "" none, "-" stdout, else a file
	StatsJSON string
	LogLevel  slog.Level
	Version   bool
}

const usage = `usage: flowcam pull URL [flags]

Pulls an RTSP MJPEG stream and plays it out by its RTP clock. Against flowcamd,
--flows N (or --via) carries it over several network paths at once; any other
server gets one plain flow.

flags:
`

// parseArgs reads "pull URL [flags]".
func parseArgs(args []string, stderr io.Writer) (*Config, error) {
	fs := pflag.NewFlagSet("flowcam", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	cfg := &Config{}
	fs.IntVar(&cfg.Flows, "flows", 1, "flows (network paths) to ask for, 1 to 8")
	fs.StringSliceVar(&cfg.Via, "via", nil, "client interfaces for the flows, e.g. eth0,wlan0")
	mode := fs.String("mode", "stripe", "multi-flow mode: stripe, duplicate or failover")
	fs.StringVar(&cfg.Transport, "transport", "udp", "plain RTSP transport: udp or tcp")
	fs.DurationVar(&cfg.Latency, "latency", 150*time.Millisecond, "play-out delay: time for late and reordered packets")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: until interrupted)")
	fs.StringVarP(&cfg.Output, "output", "o", "", "write the MJPEG stream to FILE, or - for stdout (ffplay -f mjpeg -)")
	fs.StringVar(&cfg.StatsJSON, "stats-json", "", "write a final JSON report to FILE")
	level := fs.String("log-level", "warn", "debug, info, warn or error")
	fs.BoolVar(&cfg.Version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if cfg.Version {
		return cfg, nil
	}
	rest := fs.Args()
	if len(rest) != 2 || rest[0] != "pull" {
		fs.Usage()
		return nil, errors.New("expected: flowcam pull URL [flags]")
	}
	cfg.URL = rest[1]
	return cfg, cfg.check(fs, *mode, *level)
}

func (c *Config) check(fs *pflag.FlagSet, mode, level string) error {
	var err error
	if c.Mode, err = multiflow.ParseMode(mode); err != nil {
		return fmt.Errorf("--mode: %w", err)
	}
	c.ModeSet = fs.Changed("mode")
	if c.Flows < 1 || c.Flows > multiflow.MaxFlows {
		return fmt.Errorf("--flows %d: must be from 1 to %d", c.Flows, multiflow.MaxFlows)
	}
	if c.Transport != "udp" && c.Transport != "tcp" {
		return fmt.Errorf("--transport %q: accepted values are udp, tcp", c.Transport)
	}
	if c.Latency < 0 || c.Duration < 0 {
		return errors.New("--latency and --duration must not be negative")
	}
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("--log-level %q: accepted values are debug, info, warn, error", level)
	}
	if !strings.HasPrefix(c.URL, "rtsp://") {
		return fmt.Errorf("URL %q: must start with rtsp://", c.URL)
	}
	return nil
}
