package daemon

import (
	"net/netip"
	"time"

	"flowcam/capture"
	"flowcam/capture/child"
	"flowcam/capture/jpeg"
	"flowcam/capture/v4l2"
	"flowcam/stream/auth"
	"flowcam/stream/client/record"
	"flowcam/stream/format/multiflow"
	"flowcam/stream/format/rtpjpeg"
	"flowcam/stream/format/rtsp"
	"flowcam/stream/server/publish"
	"flowcam/stream/server/rtspserver"
	"flowcam/stream/server/web"
)

// Settings is the configuration as decoded from defaults, the config file,
// FLOWCAM_* environment variables and flags: every value typed, checked by
// its type as it was read, nothing derived.
type Settings struct {
	Log       LogConfig       `mapstructure:"log"`
	RTSP      RTSPConfig      `mapstructure:"rtsp"`
	HTTP      HTTPConfig      `mapstructure:"http"`
	Multiflow MultiflowConfig `mapstructure:"multiflow"`
	V4L2      V4L2Config      `mapstructure:"v4l2"`
	Auth      AuthConfig      `mapstructure:"auth"`
	RTSPS     RTSPSConfig     `mapstructure:"rtsps"`
	Exec      ExecConfig      `mapstructure:"exec"`
	Libcamera LibcameraConfig `mapstructure:"libcamera"`
	Argus     ArgusConfig     `mapstructure:"argus"`
	Helper    HelperConfig    `mapstructure:"helper"`
	ONVIF     ONVIFConfig     `mapstructure:"onvif"`
	JPEG      JPEGConfig      `mapstructure:"jpeg"`

	// The top-level stream keys: the default stream, and the defaults of
	// every entry of the streams list.
	StreamKeys `mapstructure:",squash"`
	List       []StreamEntry `mapstructure:"streams"`
}

// Config is what the daemon runs with: the settings, what they resolve
// to, and what the command line asked for besides serving. It is
// immutable once loaded.
type Config struct {
	Settings
	Streams []StreamConfig // every served path, top-level keys applied

	ShowVersion    bool
	ListInterfaces bool
	ListDevices    bool
	ListFormats    string
	File           string
	HashUser       string // hash-password NAME
}

// LogConfig selects log verbosity and format.
type LogConfig struct {
	Level  LogLevel  `mapstructure:"level"`
	Format LogFormat `mapstructure:"format"`
}

// RTSPConfig configures the RTSP server.
type RTSPConfig struct {
	Addr           string        `mapstructure:"addr"`
	SessionTimeout time.Duration `mapstructure:"session_timeout"`
	RTCPInterval   time.Duration `mapstructure:"rtcp_interval"`
	WriteTimeout   time.Duration `mapstructure:"write_timeout"`
	MTU            int           `mapstructure:"mtu"`
	QueueFrames    int           `mapstructure:"queue_frames"`
	// KeyFrameInterval bounds how often one viewer's PLI or FIR brings a
	// key frame (H.264 paths).
	KeyFrameInterval time.Duration `mapstructure:"keyframe_interval"`

	MaxSessions         int             `mapstructure:"max_sessions"`
	MaxSessionsPerIP    int             `mapstructure:"max_sessions_per_ip"`
	MaxConnections      int             `mapstructure:"max_connections"`
	MaxConnectionsPerIP int             `mapstructure:"max_connections_per_ip"`
	RequestsPerSecond   int             `mapstructure:"requests_per_second"`
	RequestTimeout      time.Duration   `mapstructure:"request_timeout"`
	IdleTimeout         time.Duration   `mapstructure:"idle_timeout"`
	MaxLineBytes        int             `mapstructure:"max_line_bytes"`
	MaxHeaderBytes      int             `mapstructure:"max_header_bytes"`
	MaxBodyBytes        int             `mapstructure:"max_body_bytes"`
	UDPPorts            PortRange       `mapstructure:"udp_ports"`
	Multicast           MulticastConfig `mapstructure:"multicast"`
}

// MulticastConfig is rtsp.multicast: RFC 2326 multicast for viewers that
// ask for it.
type MulticastConfig struct {
	Enabled bool         `mapstructure:"enabled"`
	Groups  netip.Prefix `mapstructure:"groups"` // one address per path
	Ports   PortRange    `mapstructure:"ports"`
	TTL     int          `mapstructure:"ttl"`
}

// JPEGConfig tunes libjpeg-turbo encoding of raw pictures.
type JPEGConfig struct {
	// Threads above 1 cut each picture into bands encoded in parallel and
	// joined with restart markers (RTP/JPEG types 64 and 65).
	Threads Threads `mapstructure:"threads"`
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
	// Password is the password itself, for ONVIF's WS-UsernameToken,
	// whose digests no stored hash can check; sha256 and md5 are then
	// optional (and must match it when given).
	Password string `mapstructure:"password"`
}

// ONVIFConfig configures ONVIF Profile S: the device and media services
// on the HTTP port, and WS-Discovery.
type ONVIFConfig struct {
	Enabled   bool   `mapstructure:"enabled"`
	Discovery bool   `mapstructure:"discovery"`
	Name      string `mapstructure:"name"` // the name NVRs show; "" is the host name
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
	Enabled    bool             `mapstructure:"enabled"`
	MaxFlows   int              `mapstructure:"max_flows"`
	Modes      []multiflow.Mode `mapstructure:"modes"`
	Interfaces []string         `mapstructure:"interfaces"`
}

// V4L2Config applies to every camera source.
type V4L2Config struct {
	PixelFormat PixelFormat   `mapstructure:"pixel_format"`
	Buffers     int           `mapstructure:"buffers"`
	Watchdog    time.Duration `mapstructure:"watchdog"`
	Controls    Controls      `mapstructure:"controls"`
}

// StreamKeys are the keys a stream has, as decoded.
type StreamKeys struct {
	Path    string  `mapstructure:"path"`
	Source  string  `mapstructure:"source"`
	Size    Size    `mapstructure:"size"`
	FPS     FPS     `mapstructure:"fps"`
	Loop    bool    `mapstructure:"loop"`
	Rate    Rate    `mapstructure:"rate"`
	Quality Quality `mapstructure:"quality"`
	Encoder Encoder `mapstructure:"encoder"`
	Codec   Codec   `mapstructure:"codec"`
	Idle    Idle    `mapstructure:"idle"`
	// Publish lists the hubs the path is pushed to (RTSP ANNOUNCE/RECORD).
	Publish []PublishTarget `mapstructure:"publish"`
	Record  RecordKeys      `mapstructure:"record"`
}

// PublishTarget is one entry of publish: a URL, or a map with the URL and
// how to reach it.
type PublishTarget struct {
	URL       string `mapstructure:"url"`
	Transport string `mapstructure:"transport"` // tcp (default) or udp
	// Fingerprint trusts a self-signed rtsps hub: its certificate's SHA-256.
	Fingerprint string `mapstructure:"fingerprint"`
}

// RecordKeys are a path's recording on the box, as decoded.
type RecordKeys struct {
	Enabled   bool          `mapstructure:"enabled"`
	Dir       string        `mapstructure:"dir"` // the path's files go in DIR/<path>/
	Format    RecordFormat  `mapstructure:"format"`
	Segment   time.Duration `mapstructure:"segment"`
	Keep      time.Duration `mapstructure:"keep"` // 0: no limit by age
	KeepBytes record.Bytes  `mapstructure:"keep_bytes"`
}

// RecordEntry is the record section of one entry of the streams list.
type RecordEntry struct {
	Enabled   *bool          `mapstructure:"enabled"`
	Dir       *string        `mapstructure:"dir"`
	Format    *RecordFormat  `mapstructure:"format"`
	Segment   *time.Duration `mapstructure:"segment"`
	Keep      *time.Duration `mapstructure:"keep"`
	KeepBytes *record.Bytes  `mapstructure:"keep_bytes"`
}

// StreamEntry is one entry of the streams list: the keys it sets; the
// others come from the top level.
type StreamEntry struct {
	Path    *string          `mapstructure:"path"`
	Source  *string          `mapstructure:"source"`
	Size    *Size            `mapstructure:"size"`
	FPS     *FPS             `mapstructure:"fps"`
	Loop    *bool            `mapstructure:"loop"`
	Rate    *Rate            `mapstructure:"rate"`
	Quality *Quality         `mapstructure:"quality"`
	Encoder *Encoder         `mapstructure:"encoder"`
	Codec   *Codec           `mapstructure:"codec"`
	Idle    *Idle            `mapstructure:"idle"`
	Publish *[]PublishTarget `mapstructure:"publish"`
	Record  RecordEntry      `mapstructure:"record"`
}

// StreamConfig is one served path as the daemon runs it.
type StreamConfig struct {
	Path    string
	Source  string
	Size    capture.Size // zero: a file's own size
	FPS     float64      // zero: a file's own rate
	Quality int
	Threads int // jpeg.threads, resolved
	Encoder Encoder
	Codec   Codec
	Idle    Idle
	Loop    bool    // files: restart at the end
	Rate    float64 // files: playback speed
	Publish []publish.Target
	Record  RecordKeys // Dir is the path's own directory
}

// Sizes and rates for sources that have none of their own.
var (
	defaultSize = capture.Size{Width: 1280, Height: 720}
	defaultFPS  = 25.0
)

// keyValues pairs config keys with values, in a stable order.
type keyValues []struct {
	key string
	val any
}

// get is the value of key.
func (kv keyValues) get(key string) any {
	for _, e := range kv {
		if e.key == key {
			return e.val
		}
	}
	return nil
}

// defaults are every key's default value, taken from the packages that
// own them; registering each one is also what lets FLOWCAM_* environment
// variables reach it.
var defaults = keyValues{
	{"log.level", "info"},
	{"log.format", string(LogText)},
	{"rtsp.addr", ":8554"},
	{"rtsp.session_timeout", rtspserver.DefaultSessionTimeout},
	{"rtsp.rtcp_interval", rtspserver.DefaultRTCPInterval},
	{"rtsp.write_timeout", rtspserver.DefaultWriteTimeout},
	{"rtsp.mtu", rtpjpeg.DefaultMTU},
	{"rtsp.queue_frames", rtspserver.DefaultQueueDepth},
	{"rtsp.keyframe_interval", rtspserver.DefaultKeyFrameInterval},
	{"rtsp.max_sessions", rtspserver.DefaultGuard.MaxSessions},
	{"rtsp.max_sessions_per_ip", rtspserver.DefaultGuard.MaxSessionsPerIP},
	{"rtsp.max_connections", rtspserver.DefaultGuard.MaxConns},
	{"rtsp.max_connections_per_ip", rtspserver.DefaultGuard.MaxConnsPerIP},
	{"rtsp.requests_per_second", rtspserver.DefaultGuard.RequestsPerSecond},
	{"rtsp.request_timeout", rtspserver.DefaultGuard.RequestTimeout},
	{"rtsp.idle_timeout", rtspserver.DefaultGuard.IdleTimeout},
	{"rtsp.max_line_bytes", rtsp.DefaultLimits.MaxLine},
	{"rtsp.max_header_bytes", rtsp.DefaultLimits.MaxHeaderBytes},
	{"rtsp.max_body_bytes", rtsp.DefaultLimits.MaxBody},
	{"rtsp.udp_ports", "30000-30999"},
	{"rtsp.multicast.enabled", false},
	{"rtsp.multicast.groups", "239.255.42.0/24"},
	{"rtsp.multicast.ports", "31000-31999"},
	{"rtsp.multicast.ttl", 16},
	{"http.addr", ":8080"},
	{"http.public", []string{"/healthz"}},
	{"http.max_viewers", web.DefaultMaxViewers},
	{"http.write_timeout", web.DefaultWriteTimeout},
	{"multiflow.enabled", true},
	{"multiflow.max_flows", rtspserver.DefaultMaxFlows},
	{"multiflow.modes", []string{"stripe", "duplicate", "failover"}},
	{"multiflow.interfaces", []string{}},
	{"auth.realm", "flowcam"},
	{"auth.users", []UserConfig{}},
	{"auth.nonce_lifetime", auth.DefaultNonceLifetime},
	{"auth.max_failures", auth.DefaultMaxFailures},
	{"auth.failure_window", auth.DefaultFailureWindow},
	{"onvif.enabled", true},
	{"onvif.discovery", true},
	{"onvif.name", ""},
	{"rtsps.enabled", false},
	{"rtsps.addr", ":8322"},
	{"rtsps.cert", ""},
	{"rtsps.key", ""},
	{"rtsps.self_signed", false},
	{"v4l2.pixel_format", "auto"},
	{"v4l2.buffers", v4l2.DefaultBuffers},
	{"v4l2.watchdog", v4l2.DefaultWatchdog},
	{"v4l2.controls", map[string]int64{}},
	{"exec.format", string(child.MJPEG)},
	{"exec.stride", 0},
	{"libcamera.codec", "yuv420"},
	{"libcamera.shutter", time.Duration(0)},
	{"libcamera.gain", 0.0},
	{"libcamera.awb", "auto"},
	{"libcamera.autofocus_mode", "default"},
	{"libcamera.hdr", "off"},
	{"libcamera.rotation", "0"},
	{"libcamera.hflip", false},
	{"libcamera.vflip", false},
	{"argus.encoder", "nvjpeg"},
	{"argus.exposure", time.Duration(0)},
	{"argus.gain", 0.0},
	{"argus.wbmode", "auto"},
	{"helper.watchdog", child.DefaultWatchdog},
	{"helper.start_timeout", child.DefaultStartTimeout},
	{"helper.max_frame_bytes", child.DefaultMaxFrame},
	{"helper.h264_bitrate", 0},
	{"helper.h264_gop", 50},
	{"helper.h264_profile", "constrained-baseline"},
	{"helper.h264_level", "4.0"},
	{"path", "/cam"},
	{"source", "pattern"},
	{"size", "auto"},
	{"fps", "auto"},
	{"loop", true},
	{"rate", 1.0},
	{"quality", jpeg.DefaultQuality},
	{"jpeg.threads", "1"},
	{"encoder", string(EncoderAuto)},
	{"codec", string(CodecAuto)},
	{"idle", string(IdleKeep)},
	{"publish", []string{}},
	{"record.enabled", false},
	{"record.dir", "/var/lib/flowcam/recordings"},
	{"record.format", string(RecordMKV)},
	{"record.segment", 10 * time.Minute},
	{"record.keep", time.Duration(0)},
	{"record.keep_bytes", "0"},
}

// flags maps command-line flags to config keys.
var flags = []struct{ name, key, usage string }{
	{"source", "source", "frame source: pattern, a V4L2 device such as /dev/video0, libcamera[:N], argus:N, exec:COMMAND, or a video file"},
	{"size", "size", "picture size WIDTHxHEIGHT (multiples of 8, at most 2040); auto: 1280x720, or a file's own"},
	{"fps", "fps", "frames per second; auto: 25, or a file's own"},
	{"loop", "loop", "files: restart at the end"},
	{"rate", "rate", "files: playback speed factor"},
	{"quality", "quality", "JPEG quality 1-100"},
	{"jpeg-threads", "jpeg.threads", "cores per JPEG frame: 1-4 or auto; above 1, RTP/JPEG gets restart markers (types 64/65), which ffmpeg's RTSP client cannot play"},
	{"encoder", "encoder", "JPEG encoder: auto, libjpeg, hardware or passthrough"},
	{"codec", "codec", "what the path sends: auto (H.264 when the source gives it, else MJPEG), mjpeg or h264"},
	{"path", "path", "RTSP path of the stream"},
	{"publish", "publish", "push the stream to a hub: rtsp[s]://[user:pass@]host:port/path (repeat for several)"},
	{"record", "record.enabled", "record the stream on the box into record.dir, in segments"},
	{"record-dir", "record.dir", "where recordings go; each path gets its own directory"},
	{"pixel-format", "v4l2.pixel_format", "camera pixel format: auto, MJPG, YUYV, UYVY, NV12, YU12 or H264"},
	{"rtsp-addr", "rtsp.addr", "RTSP listen address host:port"},
	{"multicast", "rtsp.multicast.enabled", "serve RTSP multicast to viewers that ask for it (rtsp.multicast.groups)"},
	{"onvif", "onvif.enabled", "serve ONVIF Profile S (device and media services on the HTTP port) for NVRs"},
	{"onvif-discovery", "onvif.discovery", "answer ONVIF WS-Discovery probes and announce the camera (UDP 3702)"},
	{"rtsps", "rtsps.enabled", "serve RTSP over TLS too (rtsps://) on rtsps.addr"},
	{"rtsps-addr", "rtsps.addr", "RTSPS listen address host:port"},
	{"session-timeout", "rtsp.session_timeout", "close sessions idle this long"},
	{"mtu", "rtsp.mtu", "largest RTP packet in bytes"},
	{"http-addr", "http.addr", "HTTP listen address host:port (status page, MJPEG, snapshot, metrics, health); empty: no HTTP"},
	{"log-level", "log.level", "debug, info, warn or error"},
	{"log-format", "log.format", "text or json"},
}
