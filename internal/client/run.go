package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"flowcam/internal/buildinfo"
	"flowcam/internal/client/livepage"
	"flowcam/internal/client/relay"
	"flowcam/platform/netif"
	"flowcam/stream/auth"
	"flowcam/stream/client/playout"
	"flowcam/stream/client/pull"
	"flowcam/stream/client/record"
	"flowcam/stream/client/rtspclient"
	"flowcam/stream/server/rtspserver"
)

// Run pulls the stream the config names.
func Run(ctx context.Context, cfg *Config, stdout, stderr io.Writer) error {
	if cfg.Version {
		fmt.Fprintf(stdout, "flowcam %s\n", buildinfo.Read())
		return nil
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	via, err := paths(cfg.Via)
	if err != nil {
		return err
	}
	sink, page, closeSinks, err := sinks(cfg, stdout, log)
	defer closeSinks()
	if err != nil {
		return err
	}
	status := statusLine(stderr)
	if page != nil {
		status = both(status, page.Observe)
	}
	rep, err := pull.Run(ctx, pull.Config{URL: cfg.URL, Flows: cfg.Flows, Via: via, Mode: cfg.Mode,
		ModeSet: cfg.ModeSet, Transport: cfg.Transport, Latency: cfg.Latency, FixedLatency: cfg.LatencyMode == LatencyFixed,
		Weights: cfg.Weights, Duration: cfg.Duration, Logger: log}, sink, status)
	if isTerminal(stderr) {
		fmt.Fprintln(stderr)
	}
	if rep != nil && cfg.StatsJSON != "" {
		if werr := writeJSON(cfg.StatsJSON, rep); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// paths resolves --via names to interfaces, failing with the list of the
// ones that exist.
func paths(names []string) ([]pull.Path, error) {
	if len(names) == 0 {
		return nil, nil
	}
	ifs, err := netif.Lookup(names...)
	if err != nil {
		return nil, fmt.Errorf("--via: %w", err)
	}
	out := make([]pull.Path, len(ifs))
	for i, ifc := range ifs {
		out[i] = pull.Path{Name: ifc.Name, Prefixes: ifc.Addrs, ListenPacket: netif.ListenPacket(ifc.Name)}
	}
	return out, nil
}

// sinks opens where the frames go: the output, the live page, and for
// relay the RTSP server and the hub it publishes to. The returned func
// closes them.
func sinks(cfg *Config, stdout io.Writer, log *slog.Logger) (pull.Sink, *livepage.Page, func(), error) {
	var out fanout
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	add := func(s pull.Sink, c func()) { out, closers = append(out, s), append(closers, c) }
	if cfg.Command == "relay" && cfg.RTSPAddr != "" {
		rl, err := listenRelay(cfg, log)
		if err != nil {
			return nil, nil, closeAll, err
		}
		add(rl, func() { rl.Close() })
	}
	if cfg.Command == "relay" && cfg.Publish != "" {
		pub := relay.Publish(cfg.Publish, log)
		add(pub, func() { pub.Close() })
	}
	problem := func() string { return "" }
	if cfg.Output != "" || (len(out) == 0 && cfg.HTTPAddr == "") {
		file, closeFile, err := openSink(cfg, stdout, log)
		if err != nil {
			return nil, nil, closeAll, err
		}
		add(file, closeFile)
		if pr, ok := file.(interface{ Problem() string }); ok {
			problem = pr.Problem
		}
	}
	var page *livepage.Page
	if cfg.HTTPAddr != "" {
		var err error
		if page, err = livepage.Listen(livepage.Config{Addr: cfg.HTTPAddr, URL: cfg.URL, Problem: problem, Logger: log}); err != nil {
			return nil, nil, closeAll, err
		}
		add(page, func() { page.Close() })
	}
	if len(out) == 1 {
		return out[0], page, closeAll, nil
	}
	return out, page, closeAll, nil
}

// listenRelay starts the relay's RTSP server, with its accounts.
func listenRelay(cfg *Config, log *slog.Logger) (*relay.Relay, error) {
	l := cfg.RTSP
	srv := rtspserver.Config{SessionTimeout: l.SessionTimeout, Guard: rtspserver.Guard{MaxSessions: l.MaxSessions,
		MaxSessionsPerIP: l.MaxSessionsPerIP, MaxConns: l.MaxConnections, MaxConnsPerIP: l.MaxConnectionsPerIP,
		RequestsPerSecond: l.RequestsPerSecond}}
	au, err := cfg.Auth.authenticator(log)
	if err != nil {
		return nil, err
	}
	if au != nil {
		srv.Auth = au
	}
	return relay.Listen(relay.Config{Addr: cfg.RTSPAddr, Path: cfg.RelayPath, Server: srv, Logger: log})
}

// both calls two status functions, either of which may be nil.
func both(a, b func(pull.Snapshot)) func(pull.Snapshot) {
	return func(s pull.Snapshot) {
		for _, f := range []func(pull.Snapshot){a, b} {
			if f != nil {
				f(s)
			}
		}
	}
}

// fanout hands every frame, and the description, to several sinks. Only
// the output's error ends the pull: a relay or hub has its own recovery.
type fanout []pull.Sink

func (f fanout) Describe(d *rtspclient.Description) {
	for _, s := range f {
		if ds, ok := s.(pull.Describer); ok {
			ds.Describe(d)
		}
	}
}

func (f fanout) WriteFrame(fr *playout.Frame) error {
	var err error
	for _, s := range f {
		if e := s.WriteFrame(fr); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// frameSink writes frames back to back: for MJPEG the stream ffplay -f
// mjpeg and most MJPEG tools read, for H.264 an Annex B elementary stream
// (.h264, ffplay -f h264), since each access unit comes with its start
// codes.
type frameSink struct{ w io.Writer }

func (s frameSink) WriteFrame(f *playout.Frame) error {
	_, err := s.w.Write(f.Data)
	return err
}

func openSink(cfg *Config, stdout io.Writer, log *slog.Logger) (pull.Sink, func(), error) {
	output := cfg.Output
	if record.ContainerOf(output) != "" {
		rec, err := record.New(record.Options{Path: output, Segment: cfg.Segment, Keep: cfg.Keep,
			KeepBytes: int64(cfg.KeepBytes), Logger: log})
		if err != nil {
			return nil, nil, fmt.Errorf("-o: %w", err)
		}
		return rec, func() {
			if err := rec.Close(); err != nil {
				log.Error("recording: closing", "err", err)
			}
		}, nil
	}
	if cfg.Segment > 0 || cfg.Keep > 0 || cfg.KeepBytes > 0 {
		return nil, nil, fmt.Errorf("--segment, --keep and --keep-bytes: only with -o FILE.mkv or FILE.mp4, not %q", output)
	}
	switch output {
	case "":
		return frameSink{io.Discard}, func() {}, nil
	case "-":
		return frameSink{stdout}, func() {}, nil
	}
	f, err := os.Create(output)
	if err != nil {
		return nil, nil, fmt.Errorf("-o: %w", err)
	}
	return frameSink{f}, func() { f.Close() }, nil
}

func writeJSON(path string, rep *pull.Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--stats-json: %w", err)
	}
	return nil
}

// statusLine returns a one-line live status for a terminal, and nothing
// otherwise (logs and pipes stay clean).
func statusLine(w io.Writer) func(pull.Snapshot) {
	if !isTerminal(w) {
		return nil
	}
	return func(s pull.Snapshot) {
		var b strings.Builder
		fmt.Fprintf(&b, "\r\033[K%5.0fs  frames %d  %2.0f fps  lost %d  skipped %d  latency %d ms (delay %d ms)",
			s.Elapsed.Seconds(), s.Stats.FramesComplete, s.FPS,
			s.Stats.FramesIncomplete+s.Stats.FramesLate+s.Stats.FramesMissing, s.Stats.FramesSkipped,
			s.Latency.Milliseconds(), s.Delay.Milliseconds())
		if s.Notice != nil && s.Notice.Permille < 1000 {
			fmt.Fprintf(&b, "  | server sends %s", s.Notice)
		}
		for _, p := range s.Paths {
			fmt.Fprintf(&b, "  | %s %.1f Mbit/s %.1f%% loss", p.Name, p.Bitrate/1e6, p.Loss*100)
		}
		io.WriteString(w, b.String())
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// authenticator checks the relay's viewers against the auth section;
// nil without users.
func (a AuthConfig) authenticator(log *slog.Logger) (*auth.Authenticator, error) {
	if len(a.Users) == 0 {
		return nil, nil
	}
	users := make([]auth.User, len(a.Users))
	for i, u := range a.Users {
		users[i] = auth.User{Name: u.Name, SHA256: u.SHA256, MD5: u.MD5, Paths: u.Paths}
	}
	au, err := auth.New(auth.Config{Realm: a.Realm, Users: users, Logger: log.With("component", "auth")})
	if err != nil {
		return nil, fmt.Errorf("--config: auth: %w (flowcamd hash-password NAME prints a valid entry)", err)
	}
	return au, nil
}
