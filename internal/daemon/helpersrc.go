package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"flowcam/capture/child"
	"flowcam/capture/csi"
)

// Sources that run a helper process: exec:COMMAND, libcamera[:CAMERA],
// argus:SENSOR.
const (
	execPrefix      = "exec:"
	libcameraSource = "libcamera"
	argusPrefix     = "argus:"
)

// isHelperSource reports whether src runs a helper.
func isHelperSource(src string) bool {
	return strings.HasPrefix(src, execPrefix) || src == libcameraSource ||
		strings.HasPrefix(src, libcameraSource+":") || strings.HasPrefix(src, argusPrefix)
}

// ExecConfig describes what an exec: source writes.
type ExecConfig struct {
	Format child.Format `mapstructure:"format"`
	Stride int          `mapstructure:"stride"` // raw rows this many bytes apart; 0: packed
}

// LibcameraConfig applies to libcamera sources.
type LibcameraConfig struct {
	Codec         LibcameraCodec `mapstructure:"codec"`
	Shutter       time.Duration  `mapstructure:"shutter"` // 0: automatic exposure
	Gain          float64        `mapstructure:"gain"`    // 0: automatic gain
	AWB           AWB            `mapstructure:"awb"`
	AutofocusMode AutofocusMode  `mapstructure:"autofocus_mode"`
	HDR           HDR            `mapstructure:"hdr"`
	Rotation      Rotation       `mapstructure:"rotation"`
	HFlip         bool           `mapstructure:"hflip"`
	VFlip         bool           `mapstructure:"vflip"`
}

// ArgusConfig applies to Jetson CSI sources.
type ArgusConfig struct {
	Encoder  ArgusEncoder  `mapstructure:"encoder"`
	Exposure time.Duration `mapstructure:"exposure"` // 0: automatic
	Gain     float64       `mapstructure:"gain"`     // 0: automatic
	WBMode   WBMode        `mapstructure:"wbmode"`
}

// HelperConfig supervises every helper.
type HelperConfig struct {
	Watchdog     time.Duration `mapstructure:"watchdog"`
	StartTimeout time.Duration `mapstructure:"start_timeout"`
	MaxFrame     int           `mapstructure:"max_frame_bytes"`
	// H.264 from helpers that encode it (libcamera.codec or argus.encoder
	// h264) and the board's encoder: bits per second (0: the encoder's
	// default; for the board's, about 2 Mbit/s at 720p25, scaled by the
	// pixel rate) and frames between key frames; the profile and level
	// are the board encoder's.
	H264Bitrate int         `mapstructure:"h264_bitrate"`
	H264GOP     int         `mapstructure:"h264_gop"`
	H264Profile H264Profile `mapstructure:"h264_profile"`
	H264Level   H264Level   `mapstructure:"h264_level"`
}

// Devices are the sections a camera or helper source is built from; a
// reload restarts such a stream when they change.
type Devices struct {
	V4L2      V4L2Config
	Exec      ExecConfig
	Libcamera LibcameraConfig
	Argus     ArgusConfig
	Helper    HelperConfig
}

func (s *Settings) devices() Devices {
	return Devices{V4L2: s.V4L2, Exec: s.Exec, Libcamera: s.Libcamera, Argus: s.Argus, Helper: s.Helper}
}

// LibcameraCodec is what the libcamera helper hands over.
type LibcameraCodec string

func (c *LibcameraCodec) UnmarshalText(b []byte) error {
	s, err := choice(b, "yuv420", "mjpeg", "h264")
	*c = LibcameraCodec(s)
	return err
}

// AWB is libcamera's white balance mode.
type AWB string

func (a *AWB) UnmarshalText(b []byte) error {
	s, err := choice(b, "auto", "incandescent", "tungsten", "fluorescent", "indoor", "daylight", "cloudy")
	*a = AWB(s)
	return err
}

// AutofocusMode is libcamera's autofocus mode (cameras with a lens motor).
type AutofocusMode string

func (m *AutofocusMode) UnmarshalText(b []byte) error {
	s, err := choice(b, "default", "manual", "auto", "continuous")
	*m = AutofocusMode(s)
	return err
}

// HDR is libcamera's HDR mode.
type HDR string

func (h *HDR) UnmarshalText(b []byte) error {
	s, err := choice(b, "off", "auto", "sensor", "single-exp")
	*h = HDR(s)
	return err
}

// Rotation is the picture's rotation in degrees: 0 or 180.
type Rotation int

func (r *Rotation) UnmarshalText(b []byte) error {
	s, err := choice(b, "0", "180")
	v, _ := strconv.Atoi(s)
	*r = Rotation(v)
	return err
}

// ArgusEncoder is who makes a Jetson camera's JPEG.
type ArgusEncoder string

func (e *ArgusEncoder) UnmarshalText(b []byte) error {
	s, err := choice(b, "nvjpeg", "raw", "h264")
	*e = ArgusEncoder(s)
	return err
}

// WBMode is nvarguscamerasrc's white balance mode.
type WBMode string

func (m *WBMode) UnmarshalText(b []byte) error {
	s, err := choice(b, "off", "auto", "incandescent", "fluorescent", "warm-fluorescent", "daylight",
		"cloudy-daylight", "twilight", "shade")
	*m = WBMode(s)
	return err
}

// checkHelperSource checks a helper source's own part of the source key.
func checkHelperSource(prefix string, sc StreamConfig, dev Devices, p *problems) {
	switch {
	case strings.HasPrefix(sc.Source, execPrefix):
		words, err := child.SplitCommand(strings.TrimPrefix(sc.Source, execPrefix))
		if err != nil || len(words) == 0 {
			p.bad(prefix+"source", quote(sc.Source), `exec: needs a command, e.g. "exec:ffmpeg -i rtsp://cam/ -f mjpeg -": quotes must be closed`)
		}
		if dev.Exec.Format != child.MJPEG && sc.Encoder == EncoderPassthrough {
			p.bad(prefix+"encoder", quote(string(sc.Encoder)), "exec.format "+string(dev.Exec.Format)+" is raw pictures, which must be encoded: use auto or libjpeg")
		}
	case sc.Encoder == EncoderPassthrough && (sc.Source == libcameraSource || strings.HasPrefix(sc.Source, libcameraSource+":")) && dev.Libcamera.Codec != "mjpeg":
		p.bad(prefix+"encoder", quote(string(sc.Encoder)), "libcamera.codec yuv420 hands over raw pictures, which must be encoded: use auto or libjpeg, or libcamera.codec: mjpeg")
	case strings.HasPrefix(sc.Source, argusPrefix):
		if n, err := strconv.Atoi(strings.TrimPrefix(sc.Source, argusPrefix)); err != nil || n < 0 || n > 255 {
			p.bad(prefix+"source", quote(sc.Source), "argus:N takes a sensor number from 0 to 255, e.g. argus:0")
		}
		if sc.Encoder == EncoderPassthrough && dev.Argus.Encoder == "raw" {
			p.bad(prefix+"encoder", quote(string(sc.Encoder)), "argus.encoder raw hands over raw pictures, which must be encoded: use auto or libjpeg, or argus.encoder: nvjpeg")
		}
	}
}

// helperSource starts the helper a source names.
func helperSource(sc StreamConfig, dev Devices, log *slog.Logger) (*child.Source, error) {
	cfg := child.Config{Size: sc.Size, Watchdog: dev.Helper.Watchdog, StartTimeout: dev.Helper.StartTimeout,
		MaxFrame: dev.Helper.MaxFrame, MaxFPS: float64(sc.FPS), Logger: log}
	var err error
	switch {
	case strings.HasPrefix(sc.Source, execPrefix):
		cfg.Command, err = child.SplitCommand(strings.TrimPrefix(sc.Source, execPrefix))
		cfg.Name, cfg.Format, cfg.Stride = "exec", dev.Exec.Format, dev.Exec.Stride
	case strings.HasPrefix(sc.Source, argusPrefix):
		cfg, err = argusHelper(cfg, sc, dev.Argus, dev.Helper)
	default:
		cfg, err = libcameraHelper(cfg, sc, dev.Libcamera, dev.Helper)
	}
	if err != nil {
		return nil, err
	}
	if cfg.Camera != "" {
		log = log.With("camera", cfg.Camera)
		cfg.Logger = log
	}
	log.Info("starting capture helper", "helper", cfg.Name, "command", child.QuoteCommand(cfg.Command),
		"format", string(cfg.Format), "size", sc.Size.String(), "fps", sc.FPS, "stride", cfg.Stride)
	src, err := child.New(cfg)
	if errors.Is(err, child.ErrNotInstalled) {
		return nil, fmt.Errorf("%w (%s)", err, installHint(sc.Source))
	}
	return src, err
}

func installHint(src string) string {
	switch {
	case strings.HasPrefix(src, argusPrefix):
		return "install JetPack's nvidia-l4t-gstreamer"
	case strings.HasPrefix(src, libcameraSource):
		return "install rpicam-apps on Raspberry Pi OS, or gstreamer1.0-libcamera elsewhere"
	}
	return "install the program or give its full path"
}

func argusHelper(cfg child.Config, sc StreamConfig, a ArgusConfig, h HelperConfig) (child.Config, error) {
	n, _ := strconv.Atoi(strings.TrimPrefix(sc.Source, argusPrefix))
	r := csi.ArgusRequest{Sensor: n, Size: sc.Size, FPS: sc.FPS, Raw: a.Encoder == "raw", Quality: sc.Quality,
		Exposure: a.Exposure, Gain: a.Gain, WBMode: string(a.WBMode),
		H264: csi.H264{On: a.Encoder == "h264", Bitrate: h.H264Bitrate, GOP: h.H264GOP}}
	if r.WBMode == "auto" {
		r.WBMode = ""
	}
	cfg.Name, cfg.Command, cfg.FrameFD, cfg.Format = "nvarguscamerasrc", csi.ArgusCommand(r), csi.ArgusFrameFD, child.MJPEG
	cfg.Camera = fmt.Sprintf("sensor-id %d", n)
	// An Argus client killed before it let go can leave nvargus-daemon
	// stuck until it restarts: give it time to stop on SIGINT.
	cfg.StopGrace = 800 * time.Millisecond
	switch {
	case r.Raw:
		cfg.Format = child.I420
	case r.H264.On:
		cfg.Format = child.H264
	}
	return cfg, nil
}

// libcameraHelper picks the tool that is installed: rpicam-vid, then
// libcamera-vid, then libcamera's GStreamer element.
func libcameraHelper(cfg child.Config, sc StreamConfig, l LibcameraConfig, h HelperConfig) (child.Config, error) {
	r := csi.Request{Camera: strings.TrimPrefix(strings.TrimPrefix(sc.Source, libcameraSource), ":"), Size: sc.Size,
		FPS: sc.FPS, MJPEG: l.Codec == "mjpeg", Quality: sc.Quality, Controls: csi.Controls{Shutter: l.Shutter,
			Gain: l.Gain, AWB: string(l.AWB), AutofocusMode: string(l.AutofocusMode), HDR: string(l.HDR),
			Rotation: int(l.Rotation), HFlip: l.HFlip, VFlip: l.VFlip}}
	if r.AWB == "auto" {
		r.AWB = ""
	}
	if r.AutofocusMode == "default" {
		r.AutofocusMode = ""
	}
	r.H264 = csi.H264{On: l.Codec == "h264", Bitrate: h.H264Bitrate, GOP: h.H264GOP}
	cfg.Format = child.I420
	switch {
	case r.MJPEG:
		cfg.Format = child.MJPEG
	case r.H264.On:
		cfg.Format = child.H264
	}
	for _, tool := range []csi.Tool{csi.RpicamVid, csi.LibcameraVid} {
		if _, err := exec.LookPath(string(tool)); err == nil {
			camera, err := rpicamCamera(r.Camera)
			if err != nil {
				return cfg, err
			}
			cfg.Name, cfg.Camera, cfg.Command = string(tool), camera, csi.RpicamCommand(tool, r)
			cfg.Stride = csi.RpicamStride(sc.Size.Width, localISP())
			return cfg, nil
		}
	}
	if gstHasElement("libcamerasrc") {
		var err error
		if r.Camera, cfg.Camera, err = libcameraCamera(r.Camera); err != nil {
			return cfg, err
		}
		cfg.Name, cfg.Command = "libcamerasrc", csi.GstLibcameraCommand(r)
		return cfg, nil
	}
	return cfg, fmt.Errorf("source %s: no libcamera helper found: %w (%s)", sc.Source, child.ErrNotInstalled, installHint(sc.Source))
}

// rpicamCamera describes the camera rpicam-vid will open ("" is its
// first), for the log, and refuses a camera number rpicam-hello does not
// list, naming the cameras that exist: a CSI camera does not come and go,
// so a wrong number is a configuration error, not something to retry.
func rpicamCamera(camera string) (string, error) {
	out, tool := runFirst([][]string{{"rpicam-hello", "--list-cameras"}, {"libcamera-hello", "--list-cameras"}})
	index := cmpString(camera, "0")
	// Only a list the tool printed in full can refuse a camera: a tool
	// that failed, or an old one that prints elsewhere, leaves it to the
	// helper to say.
	if tool == "" || !strings.Contains(out, "Available cameras") {
		return "camera " + index, nil
	}
	cams := csi.ParseRpicamList(out)
	for _, c := range cams {
		if strconv.Itoa(c.Index) == index {
			return describeCamera(c), nil
		}
	}
	return "", fmt.Errorf("libcamera:%s: no such camera (%s); cameras: %s", index, tool, cameraNames(cams, "libcamera:"))
}

func describeCamera(c csi.Camera) string { return fmt.Sprintf("%d: %s (%s)", c.Index, c.Model, c.ID) }

func cmpString(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// localISP says which Raspberry Pi ISP this is, as rpicam-apps finds out:
// by the name of its V4L2 node.
func localISP() csi.ISP {
	names, _ := filepath.Glob("/sys/class/video4linux/video*/name")
	for _, n := range names {
		// The back end's nodes are pispbe-input, pispbe-output0, ...
		if b, err := os.ReadFile(n); err == nil && strings.HasPrefix(strings.TrimSpace(string(b)), "pispbe") {
			return csi.ISPPiSP
		}
	}
	return csi.ISPVC4
}

// gstHasElement asks gst-inspect whether a GStreamer element is installed.
// Not with --exists: that also demands the plugin's own version be at
// least GStreamer's (1.22), which libcamera's (0.x) and NVIDIA's plugins
// never are. The first call may build the plugin registry, which takes a
// while on a small board.
func gstHasElement(name string) bool {
	if _, err := exec.LookPath("gst-launch-1.0"); err != nil {
		return false
	}
	cmd, cancel := probe(30*time.Second, "gst-inspect-1.0", name)
	defer cancel()
	return cmd.Run() == nil
}

// libcameraCamera resolves the camera libcamerasrc is to open: an id as
// given; cam -l's 1-based number to its id, or the cameras that exist; and
// none to the first camera cam -l lists, so that the log names it. It
// returns the id to pass (empty: libcamerasrc's own first) and a
// description for the log.
func libcameraCamera(camera string) (id, desc string, err error) {
	if strings.Contains(camera, "/") {
		return camera, camera, nil
	}
	cmd, cancel := probe(30*time.Second, "cam", "-l")
	out, err := cmd.Output()
	cancel()
	cams := csi.ParseCamList(string(out))
	switch {
	case camera == "" && (err != nil || len(cams) == 0):
		return "", "libcamera's first camera", nil // the helper says what is wrong, and is retried
	case camera == "":
		return cams[0].ID, describeCamera(cams[0]), nil
	case err != nil:
		return "", "", fmt.Errorf("libcamera:%s: cameras are numbered by cam -l (libcamera-tools), which failed: %v; or give the camera id", camera, err)
	}
	for _, c := range cams {
		if strconv.Itoa(c.Index) == camera {
			return c.ID, describeCamera(c), nil
		}
	}
	return "", "", fmt.Errorf("libcamera:%s: no such camera; cameras: %s", camera, cameraNames(cams, "libcamera:"))
}

func cameraNames(cams []csi.Camera, prefix string) string {
	if len(cams) == 0 {
		return "none"
	}
	var s []string
	for _, c := range cams {
		s = append(s, fmt.Sprintf("%s%d (%s, %s)", prefix, c.Index, c.Model, c.ID))
	}
	return strings.Join(s, ", ")
}
