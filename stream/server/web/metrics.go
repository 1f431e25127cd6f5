package web

import (
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is /metrics: a collector that reads the daemon's counters when
// Prometheus scrapes (nothing on the frame path but the encode-time
// histogram), plus Go runtime and process metrics.
type metrics struct {
	http.Handler
	encode *prometheus.HistogramVec
	wire   *prometheus.HistogramVec
}

func newMetrics(s *Server) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{encode: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "flowcam_encode_duration_seconds",
		Help: "Time to encode or transcode one frame to JPEG (passthrough frames are not counted).",
		// 0.5 ms (a small frame in hardware) to about 1 s (a huge frame on
		// a slow board's CPU).
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12),
	}, []string{"path"}), wire: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "flowcam_capture_to_wire_seconds",
		Help: "Time from a frame's capture until its last packet went to the kernel for the last viewer that got it.",
		// 0.25 ms to about 1 s.
		Buckets: prometheus.ExponentialBuckets(0.00025, 2, 13),
	}, []string{"path"})}
	reg.MustRegister(m.encode, m.wire, &collector{s: s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.Handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
	return m
}

// encodeObserver binds the path's histogram once, so each observation is
// a lock-free update that allocates nothing.
func (m *metrics) encodeObserver(path string) func(time.Duration) {
	h, err := m.encode.GetMetricWithLabelValues(path)
	if err != nil {
		// A path that is no valid label value (not UTF-8) goes unmeasured.
		return func(time.Duration) {}
	}
	return func(d time.Duration) { h.Observe(d.Seconds()) }
}

// wireObserver is encodeObserver for the capture-to-wire histogram.
func (m *metrics) wireObserver(path string) func(time.Duration) {
	h, err := m.wire.GetMetricWithLabelValues(path)
	if err != nil {
		return func(time.Duration) {}
	}
	return func(d time.Duration) { h.Observe(d.Seconds()) }
}

func (m *metrics) forget(path string) {
	m.encode.DeleteLabelValues(path)
	m.wire.DeleteLabelValues(path)
}

// Every series the collector reports, by label set.
var (
	pathLabels    = []string{"path"}
	sessionLabels = []string{"session", "path", "transport"}
	flowLabels    = []string{"session", "path", "flow", "interface"}

	descBuild = prometheus.NewDesc("flowcam_build_info", "Always 1; labels say what runs where.",
		[]string{"version", "board"}, nil)
	descStart = prometheus.NewDesc("flowcam_start_time_seconds", "When the daemon started, in Unix seconds.", nil, nil)

	descCaptured    = pathDesc("frames_captured_total", "Frames the source delivered.")
	descEncoded     = pathDesc("frames_encoded_total", "Raw frames compressed to JPEG.")
	descPassthrough = pathDesc("frames_passthrough_total", "Source JPEG frames sent as they came.")
	descTranscoded  = pathDesc("frames_transcoded_total", "Source JPEG frames re-encoded because RTP/JPEG cannot carry them.")
	descDropped     = pathDesc("frames_dropped_total", "Frames lost to encoder errors or corrupt source JPEG.")
	descSourceErrs  = pathDesc("source_errors_total", "Failed reads from the source (retried).")
	descReconnects  = pathDesc("source_reconnects_total", "Times a camera was reopened after a failure.")
	descCorrupt     = pathDesc("source_corrupt_total", "Damaged input the source skipped: JPEG frames, H.264 NAL units.")
	descAlive       = pathDesc("pipeline_alive", "1 while the path's pipeline delivers frames, else 0.")
	descHTTPViewers = pathDesc("http_viewers", "Open MJPEG responses.")
	descPathBytes   = pathDesc("path_bytes_total", "RTP payload bytes of the path's frames, before fan-out: rate() is its bit rate.")
	descPathCodec   = prometheus.NewDesc("flowcam_path_codec_info", "Always 1; the label says what the path sends (mjpeg or h264).",
		[]string{"path", "codec"}, nil)
	descSessions = prometheus.NewDesc("flowcam_sessions", "Open RTSP sessions.", []string{"path", "transport"}, nil)

	descPubUp         = publishDesc("publish_up", "1 while the path is being published to the target (RECORD accepted), else 0.")
	descPubBytes      = publishDesc("publish_bytes_total", "RTP bytes sent to the publish target.")
	descPubReconnects = publishDesc("publish_reconnects_total", "Publish sessions to the target that failed or were lost.")
	descRecUp         = pathDesc("recording_up", "1 while the path's recording on the box runs, 0 once it stopped (a full disk).")
	descRecDropped    = pathDesc("recording_dropped_frames_total", "Frames the recording skipped because the disk was behind.")

	descSessFrames  = sessionDesc("session_frames_total", "Frames sent to the session.")
	descSessPackets = sessionDesc("session_packets_total", "RTP packets sent to the session.")
	descSessBytes   = sessionDesc("session_bytes_total", "RTP payload and header bytes sent to the session.")
	descSessDropped = sessionDesc("session_dropped_frames_total", "Frames the session skipped because it lagged.")
	descSessLoss    = sessionDesc("session_rtcp_fraction_lost", "Fraction of packets lost, from the latest RTCP receiver report.")
	descSessJitter  = sessionDesc("session_rtcp_jitter_seconds", "Interarrival jitter, from the latest RTCP receiver report.")
	descSessRTT     = sessionDesc("session_rtt_seconds", "Round-trip time measured from RTCP sender and receiver reports.")
	descSessSkipped = sessionDesc("session_skipped_frames_total", "Frames not sent because the session's paths could not carry them.")
	descSessSent    = sessionDesc("session_sent_ratio", "Share of the source's frames sent to the session over the last second.")
	descSessStream  = sessionDesc("session_stream_bits_per_second", "What sending every frame to the session would take.")
	descSessCap     = sessionDesc("session_capacity_bits_per_second", "What the session's paths are estimated to carry.")
	descSessReason  = prometheus.NewDesc("flowcam_session_rate_reason",
		"1 for why the session's frames were skipped over the last second: full rate, capacity, delay or no path.",
		append(slices.Clone(sessionLabels), "reason"), nil)

	descFlowPackets = flowDesc("flow_packets_total", "RTP packets sent on one flow of a multi-flow session.")
	descFlowBytes   = flowDesc("flow_bytes_total", "Bytes sent on one flow of a multi-flow session.")
	descFlowLoss    = flowDesc("flow_loss_ratio", "Smoothed fraction of packets lost on the flow.")
	descFlowJitter  = flowDesc("flow_jitter_seconds", "Interarrival jitter on the flow.")
	descFlowRTT     = flowDesc("flow_rtt_seconds", "Smoothed round-trip time of the flow.")
	descFlowUsable  = flowDesc("flow_usable", "1 while the flow is heard from and may carry traffic.")
	descFlowRate    = flowDesc("flow_rate_bits_per_second", "What the flow is sent at now.")
	descFlowCap     = flowDesc("flow_capacity_bits_per_second", "The flow's estimated deliverable rate.")
	descFlowQueue   = flowDesc("flow_queue_delay_seconds", "The flow's standing queue, above its delay floor.")
)

func pathDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("flowcam_"+name, help, pathLabels, nil)
}

func publishDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("flowcam_"+name, help, []string{"path", "target"}, nil)
}

func sessionDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("flowcam_"+name, help, sessionLabels, nil)
}

func flowDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("flowcam_"+name, help, flowLabels, nil)
}

// collector turns one status snapshot into series at scrape time, so
// sessions that ended leave no stale series behind.
type collector struct{ s *Server }

// transports are reported for every path, zero included, so a dashboard
// never sees a series vanish when the last viewer leaves.
var transports = []string{"udp", "tcp", "multiflow", "multicast"}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBuild, descStart, descCaptured, descEncoded, descPassthrough,
		descTranscoded, descDropped, descSourceErrs, descReconnects, descCorrupt, descAlive, descHTTPViewers, descPathBytes, descPathCodec, descSessions,
		descPubUp, descPubBytes, descPubReconnects, descRecUp, descRecDropped,
		descSessFrames, descSessPackets, descSessBytes, descSessDropped, descSessLoss, descSessJitter, descSessRTT,
		descSessSkipped, descSessSent, descSessStream, descSessCap, descSessReason,
		descFlowPackets, descFlowBytes, descFlowLoss, descFlowJitter, descFlowRTT, descFlowUsable,
		descFlowRate, descFlowCap, descFlowQueue} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.status()
	ch <- constMetric(descBuild, prometheus.GaugeValue, 1, st.Version, st.Board)
	if !st.Started.IsZero() {
		ch <- constMetric(descStart, prometheus.GaugeValue, float64(st.Started.UnixNano())/1e9)
	}
	sessions := map[[2]string]int{}
	for _, p := range st.Paths {
		collectPath(ch, &p)
		for _, t := range transports {
			sessions[[2]string{p.Path, t}] = 0
		}
	}
	for i := range st.Sessions {
		ss := &st.Sessions[i]
		sessions[[2]string{ss.Path, ss.Transport}]++
		collectSession(ch, ss)
	}
	for k, n := range sessions {
		ch <- constMetric(descSessions, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}

func collectPath(ch chan<- prometheus.Metric, p *PathStatus) {
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- constMetric(d, prometheus.CounterValue, float64(v), p.Path)
	}
	s := p.Pipeline
	counter(descCaptured, s.Captured)
	counter(descEncoded, s.Encoded)
	counter(descPassthrough, s.Passthrough)
	counter(descTranscoded, s.Transcoded)
	counter(descDropped, s.Dropped)
	counter(descSourceErrs, s.SourceErrs)
	if p.Reconnects != nil {
		counter(descReconnects, *p.Reconnects)
	}
	if p.Corrupt != nil {
		counter(descCorrupt, *p.Corrupt)
	}
	ch <- constMetric(descAlive, prometheus.GaugeValue, bool01(p.Alive), p.Path)
	ch <- constMetric(descHTTPViewers, prometheus.GaugeValue, float64(p.HTTPViewers), p.Path)
	counter(descPathBytes, p.Bytes)
	if p.Codec != "" {
		ch <- constMetric(descPathCodec, prometheus.GaugeValue, 1, p.Path, p.Codec)
	}
	for _, t := range p.Publish {
		ch <- constMetric(descPubUp, prometheus.GaugeValue, bool01(t.State == "publishing"), p.Path, t.Target)
		ch <- constMetric(descPubBytes, prometheus.CounterValue, float64(t.Bytes), p.Path, t.Target)
		ch <- constMetric(descPubReconnects, prometheus.CounterValue, float64(t.Reconnects), p.Path, t.Target)
	}
	if r := p.Recording; r != nil {
		ch <- constMetric(descRecUp, prometheus.GaugeValue, bool01(r.Problem == ""), p.Path)
		counter(descRecDropped, r.Dropped)
	}
}

func collectSession(ch chan<- prometheus.Metric, ss *SessionStatus) {
	metric := func(d *prometheus.Desc, t prometheus.ValueType, v float64) {
		ch <- constMetric(d, t, v, ss.ID, ss.Path, ss.Transport)
	}
	metric(descSessFrames, prometheus.CounterValue, float64(ss.Frames))
	metric(descSessPackets, prometheus.CounterValue, float64(ss.Packets))
	metric(descSessBytes, prometheus.CounterValue, float64(ss.Bytes))
	metric(descSessDropped, prometheus.CounterValue, float64(ss.Dropped))
	metric(descSessLoss, prometheus.GaugeValue, ss.FractionLost)
	metric(descSessJitter, prometheus.GaugeValue, ss.Jitter.Seconds())
	metric(descSessRTT, prometheus.GaugeValue, ss.RTT.Seconds())
	if r := ss.Rate; r != nil {
		metric(descSessSkipped, prometheus.CounterValue, float64(ss.Skipped))
		metric(descSessSent, prometheus.GaugeValue, r.SentFraction)
		metric(descSessStream, prometheus.GaugeValue, r.StreamBps)
		metric(descSessCap, prometheus.GaugeValue, r.CapacityBps)
		ch <- constMetric(descSessReason, prometheus.GaugeValue, 1, ss.ID, ss.Path, ss.Transport, r.Reason)
	}
	collectFlows(ch, ss)
}

func collectFlows(ch chan<- prometheus.Metric, ss *SessionStatus) {
	for i := range ss.Flows {
		f := &ss.Flows[i]
		flow := func(d *prometheus.Desc, t prometheus.ValueType, v float64) {
			ch <- constMetric(d, t, v, ss.ID, ss.Path, strconv.Itoa(f.Index), f.Interface)
		}
		flow(descFlowPackets, prometheus.CounterValue, float64(f.Packets))
		flow(descFlowBytes, prometheus.CounterValue, float64(f.Bytes))
		flow(descFlowLoss, prometheus.GaugeValue, f.Loss)
		flow(descFlowJitter, prometheus.GaugeValue, f.Jitter.Seconds())
		flow(descFlowRTT, prometheus.GaugeValue, f.RTT.Seconds())
		flow(descFlowUsable, prometheus.GaugeValue, bool01(f.Usable))
		flow(descFlowRate, prometheus.GaugeValue, f.RateBps)
		flow(descFlowCap, prometheus.GaugeValue, f.Capacity)
		flow(descFlowQueue, prometheus.GaugeValue, f.Queue.Seconds())
	}
}

// constMetric reports a bad label value (say, a path that is not UTF-8)
// as a scrape error for that series instead of panicking.
func constMetric(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
