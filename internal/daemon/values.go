package daemon

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"flowcam/capture"
	"flowcam/capture/jpeg"
	"flowcam/capture/v4l2"
)

// The types below are configuration values that check themselves as they
// are decoded (encoding.TextUnmarshaler), so a bad value is refused where
// it is read, with the key (added by the loader) and what it accepts.

// valueError is a refused value: what was given and what is accepted.
type valueError struct {
	given    string
	accepted string
}

func (e *valueError) Error() string { return shown(e.given) + ": " + e.accepted }

// shown prints a value the way a user would write it: numbers bare,
// anything else quoted so that "" and " x" are visible.
func shown(v string) string {
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return v
	}
	return strconv.Quote(v)
}

func refuse(b []byte, accepted string) error {
	return &valueError{given: string(b), accepted: accepted}
}

// choice decodes one of a fixed set of words.
func choice(b []byte, set ...string) (string, error) {
	for _, s := range set {
		if string(b) == s {
			return s, nil
		}
	}
	return "", refuse(b, "accepted values are "+strings.Join(set, ", "))
}

// LogLevel is log.level: debug, info, warn or error.
type LogLevel slog.Level

func (l *LogLevel) UnmarshalText(b []byte) error {
	s, err := choice(b, "debug", "info", "warn", "error")
	if err != nil {
		return err
	}
	var v slog.Level
	v.UnmarshalText([]byte(s)) // every word above is one slog knows
	*l = LogLevel(v)
	return nil
}

func (l LogLevel) MarshalText() ([]byte, error) { return []byte(l.String()), nil }
func (l LogLevel) String() string               { return strings.ToLower(slog.Level(l).String()) }

// LogFormat is log.format.
type LogFormat string

const (
	LogText LogFormat = "text"
	LogJSON LogFormat = "json"
)

func (f *LogFormat) UnmarshalText(b []byte) error {
	s, err := choice(b, string(LogText), string(LogJSON))
	*f = LogFormat(s)
	return err
}

// Encoder is a stream's JPEG encoder choice.
type Encoder string

const (
	EncoderAuto        Encoder = "auto"        // the board's engine if there is one, else libjpeg
	EncoderLibjpeg     Encoder = "libjpeg"     // libjpeg-turbo (Go's image/jpeg without cgo)
	EncoderHardware    Encoder = "hardware"    // the board's engine, or fail
	EncoderPassthrough Encoder = "passthrough" // the camera's or file's own JPEG, never re-encoded
)

func (e *Encoder) UnmarshalText(b []byte) error {
	s, err := choice(b, string(EncoderAuto), string(EncoderLibjpeg), string(EncoderHardware), string(EncoderPassthrough))
	*e = Encoder(s)
	return err
}

// Codec is what a path sends.
type Codec string

const (
	CodecAuto  Codec = "auto"  // H.264 when the source gives H.264, else MJPEG
	CodecMJPEG Codec = "mjpeg" // RFC 2435 JPEG
	CodecH264  Codec = "h264"  // RFC 6184 H.264, from a source that gives it
)

func (c *Codec) UnmarshalText(b []byte) error {
	s, err := choice(b, string(CodecAuto), string(CodecMJPEG), string(CodecH264))
	*c = Codec(s)
	return err
}

// H264Profile is helper.h264_profile: what the board's H.264 encoder
// makes. Constrained baseline is what every player decodes.
type H264Profile string

func (p *H264Profile) UnmarshalText(b []byte) error {
	s, err := choice(b, "constrained-baseline", "baseline", "main", "high")
	*p = H264Profile(s)
	return err
}

// v4l2 is the profile's V4L2_MPEG_VIDEO_H264_PROFILE_* menu index.
func (p H264Profile) v4l2() int {
	return map[H264Profile]int{"baseline": 0, "constrained-baseline": 1, "main": 2, "high": 4}[p]
}

// H264Level is helper.h264_level: the H.264 level the board's encoder
// declares, or auto for the driver's choice.
type H264Level string

// h264Levels are the levels V4L2 names, in its menu's order
// (V4L2_MPEG_VIDEO_H264_LEVEL_1_0 is 0).
var h264Levels = []string{"1.0", "1b", "1.1", "1.2", "1.3", "2.0", "2.1", "2.2", "3.0", "3.1", "3.2", "4.0", "4.1", "4.2", "5.0", "5.1"}

func (l *H264Level) UnmarshalText(b []byte) error {
	s, err := choice(b, append([]string{"auto"}, h264Levels...)...)
	*l = H264Level(s)
	return err
}

// v4l2 is the level's V4L2 menu index, -1 for auto.
func (l H264Level) v4l2() int { return slices.Index(h264Levels, string(l)) }

// Idle is what a stream's source does while nobody watches.
type Idle string

const (
	IdleKeep Idle = "keep" // keep capturing: the first picture is instant
	IdleStop Idle = "stop" // close the source (a camera's LED goes off) until a viewer comes
)

func (i *Idle) UnmarshalText(b []byte) error {
	s, err := choice(b, string(IdleKeep), string(IdleStop))
	*i = Idle(s)
	return err
}

// RecordFormat is record.format: the container of recordings.
type RecordFormat string

const (
	RecordMKV RecordFormat = "mkv" // Matroska: plays while written, survives a power cut
	RecordMP4 RecordFormat = "mp4" // fragmented MP4
)

func (f *RecordFormat) UnmarshalText(b []byte) error {
	s, err := choice(b, string(RecordMKV), string(RecordMP4))
	*f = RecordFormat(s)
	return err
}

// UnmarshalText takes a publish entry given as a bare URL.
func (t *PublishTarget) UnmarshalText(b []byte) error {
	*t = PublishTarget{URL: string(b)}
	return nil
}

// PixelFormat is v4l2.pixel_format; zero means auto (the daemon's order
// of preference).
type PixelFormat v4l2.FourCC

func (p *PixelFormat) UnmarshalText(b []byte) error {
	if strings.EqualFold(string(b), "auto") {
		*p = 0
		return nil
	}
	f, err := v4l2.ParseFourCC(string(b))
	if err != nil {
		return refuse(b, "accepted values are auto, MJPG, YUYV, UYVY, NV12, YU12, H264")
	}
	*p = PixelFormat(f)
	return nil
}

func (p PixelFormat) MarshalText() ([]byte, error) {
	if p == 0 {
		return []byte("auto"), nil
	}
	return []byte(v4l2.FourCC(p).String()), nil
}

// Size is a stream's picture size; zero means auto (a file's own, else
// the default).
type Size capture.Size

func (s *Size) UnmarshalText(b []byte) error {
	const help = "must be auto or WIDTHxHEIGHT with multiples of 8 from 8 to 2040, e.g. 1280x720"
	if string(b) == "auto" {
		*s = Size{}
		return nil
	}
	w, h, ok := strings.Cut(strings.ToLower(string(b)), "x")
	width, err1 := strconv.Atoi(w)
	height, err2 := strconv.Atoi(h)
	v := capture.Size{Width: width, Height: height}
	if !ok || err1 != nil || err2 != nil || v.Validate() != nil {
		return refuse(b, help)
	}
	*s = Size(v)
	return nil
}

func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s Size) String() string {
	if s == (Size{}) {
		return "auto"
	}
	return capture.Size(s).String()
}

// FPS is a stream's frame rate; zero means auto (a file's own, else the
// default).
type FPS float64

func (f *FPS) UnmarshalText(b []byte) error {
	if string(b) == "auto" {
		*f = 0
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || !(v > 0 && v <= 1000) {
		return refuse(b, "must be auto or a number above 0 and at most 1000, e.g. 25")
	}
	*f = FPS(v)
	return nil
}

func (f FPS) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

func (f FPS) String() string {
	if f == 0 {
		return "auto"
	}
	return strconv.FormatFloat(float64(f), 'g', -1, 64)
}

// Quality is a JPEG quality, 1 to 100.
type Quality int

func (q *Quality) UnmarshalText(b []byte) error {
	v, err := strconv.Atoi(string(b))
	if err != nil || v < 1 || v > 100 {
		return refuse(b, "must be a whole number from 1 to 100, e.g. 80")
	}
	*q = Quality(v)
	return nil
}

// Threads is jpeg.threads: how many goroutines encode a frame, "auto"
// (the cores, up to jpeg.MaxThreads) or 1 to jpeg.MaxThreads.
type Threads int

func (t *Threads) UnmarshalText(b []byte) error {
	if string(b) == "auto" {
		*t = Threads(jpeg.AutoThreads())
		return nil
	}
	v, err := strconv.Atoi(string(b))
	if err != nil || v < 1 || v > jpeg.MaxThreads {
		return refuse(b, fmt.Sprintf("must be auto or a whole number from 1 to %d, e.g. auto", jpeg.MaxThreads))
	}
	*t = Threads(v)
	return nil
}

// Rate is a file's playback speed factor.
type Rate float64

func (r *Rate) UnmarshalText(b []byte) error {
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || !(v > 0 && v <= 16) {
		return refuse(b, "must be a speed factor above 0 and at most 16, e.g. 1 or 0.5")
	}
	*r = Rate(v)
	return nil
}

// PortRange is rtsp.udp_ports: the inclusive range media sockets bind in;
// zero means any port the kernel picks.
type PortRange [2]int

func (p *PortRange) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*p = PortRange{}
		return nil
	}
	lo, hi, ok := strings.Cut(string(b), "-")
	first, err1 := strconv.Atoi(strings.TrimSpace(lo))
	last, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if !ok || err1 != nil || err2 != nil || first < 1024 || last > 65535 || last-first < 3 {
		return refuse(b, `must be FIRST-LAST with 1024 <= FIRST, LAST <= 65535 and room for two pairs, e.g. "30000-30999", or ""`)
	}
	*p = PortRange{first, last}
	return nil
}

func (p PortRange) MarshalText() ([]byte, error) {
	if p == (PortRange{}) {
		return nil, nil
	}
	return fmt.Appendf(nil, "%d-%d", p[0], p[1]), nil
}

// Controls is v4l2.controls: control names to values, checked against
// the names V4L2 knows.
type Controls map[string]int64

// Parse turns the map into controls, in name order, or says which one is
// wrong.
func (c Controls) Parse() ([]v4l2.Control, error) {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []v4l2.Control
	for _, n := range names {
		v := c[n]
		ctl, err := v4l2.ParseControl(fmt.Sprintf("%s=%d", n, v))
		if err != nil || v < -1<<31 || v > 1<<31-1 {
			return nil, fmt.Errorf("v4l2.controls.%s = %d: must be an integer the camera accepts", n, v)
		}
		out = append(out, ctl)
	}
	return out, nil
}
