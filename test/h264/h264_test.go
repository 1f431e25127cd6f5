// Package h264_test serves H.264 with flowcamd, passed through from an
// x264 pipeline (exec:) and from files, and plays it with ffmpeg (UDP and
// TCP), GStreamer, gortsplib and OpenCV: size, frame count, moving pictures, and
// viewers that join in the middle of a group of pictures.
package h264_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"flowcam/capture/h264"
	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/player"
)

// x264Helper writes 320x240 H.264 at 25 fps, a key frame a second, with
// access unit delimiters so that each frame is known complete at once.
const x264Helper = "ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i testsrc2=size=320x240:rate=25 " +
	"-c:v libx264 -preset ultrafast -tune zerolatency -g 25 -bf 0 -x264-params aud=1 -f h264 -"

// start runs the daemon with the given config body.
func start(t *testing.T, body string) *daemon.Daemon {
	t.Helper()
	return daemon.StartConfig(t, body, "--http-addr", "127.0.0.1:0")
}

func startExec(t *testing.T) *daemon.Daemon {
	need.Tool(t, "ffmpeg")
	return start(t, fmt.Sprintf("size: 320x240\nfps: 25\nsource: %q\nexec:\n  format: h264\n", "exec:"+x264Helper))
}

// TestExecH264Plays: ffmpeg over TCP and UDP, GStreamer and gortsplib
// play the x264 helper's stream, passed through as H.264.
func TestExecH264Plays(t *testing.T) {
	d := startExec(t)
	for _, tr := range []string{"tcp", "udp"} {
		t.Run("ffmpeg over "+tr, func(t *testing.T) { ffmpegPlays(t, d.URL("/cam"), tr, 50) })
	}
	t.Run("GStreamer", func(t *testing.T) {
		need.Tool(t, "gst-launch-1.0")
		if out, err := player.GStreamerH264(context.Background(), d.URL("/cam"), 25, "video/x-raw,width=320,height=240"); err != nil {
			t.Fatalf("GStreamer: %v\n%s", err, out)
		}
	})
	t.Run("gortsplib", func(t *testing.T) { gortsplibPlays(t, d.URL("/cam")) })
	t.Run("OpenCV", func(t *testing.T) { openCVPlays(t, d.URL("/cam"), "udp") })
	if !strings.Contains(d.Logs(), `"codec":"h264"`) {
		t.Errorf("the log does not say the path is H.264:\n%s", daemon.Tail(d.Logs(), 20))
	}
}

// ffmpegPlays decodes n frames with ffmpeg: 320x240 H.264 without a
// decoder complaint, all n of them, and moving.
func ffmpegPlays(t *testing.T, url, transport string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := player.FFmpeg(ctx, url, transport, n, "h264", "320x240")
	if err != nil {
		t.Fatal(err)
	}
	if d.Frames != n || d.Distinct < n*3/4 {
		t.Fatalf("%d frames decoded, %d distinct, want %d moving ones", d.Frames, d.Distinct, n)
	}
}

// gortsplibPlays: the description carries the parameter sets, the first
// access unit is a key frame with them in front, and 50 units arrive.
func gortsplibPlays(t *testing.T, url string) {
	aus, sps, pps, err := player.AccessUnits(url, gortsplib.TransportTCP, 50, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if w, hgt, err := h264.PictureSize(sps); err != nil || w != 320 || hgt != 240 || pps == nil {
		t.Fatalf("SDP parameter sets: %dx%d %v, pps %x", w, hgt, err, pps)
	}
	if !h264.Key(aus[0]) || h264.ParameterSet(aus[0], h264.TypeSPS) == nil {
		t.Fatalf("the first access unit is not a key frame with its parameter sets: NAL types %v", types(aus[0]))
	}
	keys := 0
	for _, au := range aus {
		if h264.Key(au) {
			keys++
		}
	}
	if keys < 2 || keys > 3 {
		t.Fatalf("%d key frames in 50 units of a stream with one a second", keys)
	}
}

// openCVPlays reads 30 frames with OpenCV: 320x240 H.264, all of them,
// and moving.
func openCVPlays(t *testing.T, url, transport string) {
	t.Helper()
	need.PythonModule(t, player.Python, "cv2")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := player.OpenCV(ctx, url, transport, 30)
	if err != nil {
		t.Fatal(err)
	}
	if r.Codec != "h264" || r.Width != 320 || r.Height != 240 || r.Frames != 30 || r.Distinct < 20 {
		t.Fatalf("OpenCV read %d %dx%d %q frames, %d distinct; want 30 moving 320x240 h264 ones", r.Frames, r.Width, r.Height, r.Codec, r.Distinct)
	}
}

func types(au [][]byte) []int {
	var out []int
	for _, n := range au {
		out = append(out, int(n[0]&0x1F))
	}
	return out
}

// TestJoinMidGOP: viewers that arrive at any point of a group of pictures
// decode their first frame without an error, since they start at the kept
// key frame.
func TestJoinMidGOP(t *testing.T) {
	d := startExec(t)
	ffmpegPlays(t, d.URL("/cam"), "tcp", 5) // the stream is up
	for i := range 4 {
		time.Sleep(230 * time.Millisecond) // spread the joins over the second-long group
		t.Run(fmt.Sprintf("join %d", i), func(t *testing.T) { ffmpegPlays(t, d.URL("/cam"), "udp", 5) })
	}
}

// TestFileH264Plays: H.264 files (MP4 with its parameter sets out of band,
// Matroska, raw Annex B) are served as they are and play everywhere.
func TestFileH264Plays(t *testing.T) {
	need.Tool(t, "ffmpeg")
	for _, name := range []string{"clip.mp4", "clip.mkv", "clip.h264"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			out, err := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
				"-t", "4", "-c:v", "libx264", "-g", "25", "-bf", "0", "-pix_fmt", "yuv420p", path).CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			d := start(t, fmt.Sprintf("source: %q\nloop: true\n", path))
			ffmpegPlays(t, d.URL("/cam"), "tcp", 30)
			ffmpegPlays(t, d.URL("/cam"), "udp", 30)
			if out, err := player.GStreamerH264(context.Background(), d.URL("/cam"), 25, "video/x-raw,width=320,height=240"); err != nil {
				t.Fatalf("GStreamer: %v\n%s", err, out)
			}
			gortsplibPlays(t, d.URL("/cam"))
			openCVPlays(t, d.URL("/cam"), "tcp")
			if strings.Contains(d.Logs(), "decoding with ffmpeg") {
				t.Fatalf("the file was decoded, not passed through:\n%s", daemon.Tail(d.Logs(), 10))
			}
		})
	}
}

// TestPLI: a viewer's PLI brings a key frame within the next five access
// units (200 ms of a 25 fps stream) although the source's own come ten
// seconds apart, and a hundred PLIs in a second bring no more key frames
// than the one-a-second limit allows; a FIR, a second on, brings one too.
func TestPLI(t *testing.T) {
	need.Tool(t, "ffmpeg")
	helper := strings.Replace(x264Helper, "-g 25", "-g 250", 1)
	d := start(t, fmt.Sprintf("size: 320x240\nfps: 25\nsource: %q\nexec:\n  format: h264\n", "exec:"+helper))
	v := newKeyWatcher(t, d.URL("/cam"))
	v.waitUnits(t, 40) // 1.6 s into the ten-second group
	mark := v.units()
	v.pli(t)
	v.waitUnits(t, mark+5)
	if k := v.keysIn(mark, mark+5); k == 0 {
		t.Fatalf("no key frame among the 5 access units after a PLI")
	}
	v.waitUnits(t, v.units()+30) // past the replayed group
	start := v.units()
	for range 100 {
		v.pli(t)
		time.Sleep(10 * time.Millisecond)
	}
	v.waitUnits(t, v.units()+5)
	if k := v.keysIn(start, v.units()); k > 2 {
		t.Fatalf("100 PLIs in a second brought %d key frames, want at most 2 (one a second)", k)
	}
	v.waitUnits(t, v.units()+30) // a second on: the limit allows another
	mark = v.units()
	v.fir(t)
	v.waitUnits(t, mark+5)
	if k := v.keysIn(mark, mark+5); k == 0 {
		t.Fatalf("no key frame among the 5 access units after a FIR")
	}
}

// keyWatcher is a gortsplib viewer that records which access units are
// key frames and can send PLI and FIR.
type keyWatcher struct {
	c    *gortsplib.Client
	medi *description.Media
	mu   sync.Mutex
	keys []bool
	ssrc uint32
}

func newKeyWatcher(t *testing.T, url string) *keyWatcher {
	tr := gortsplib.TransportTCP
	v := &keyWatcher{c: &gortsplib.Client{Transport: &tr}}
	u, err := base.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.c.Start(u.Scheme, u.Host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.c.Close)
	desc, _, err := v.c.Describe(u)
	if err != nil {
		t.Fatal(err)
	}
	var forma *format.H264
	if v.medi = desc.FindFormat(&forma); v.medi == nil {
		t.Fatal("no H.264 track")
	}
	if err := v.c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		t.Fatal(err)
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		t.Fatal(err)
	}
	v.c.OnPacketRTP(v.medi, forma, func(p *rtp.Packet) {
		v.mu.Lock()
		defer v.mu.Unlock()
		v.ssrc = p.SSRC
		if au, err := dec.Decode(p); err == nil {
			v.keys = append(v.keys, h264.Key(au))
		}
	})
	if _, err := v.c.Play(nil); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v *keyWatcher) units() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.keys)
}

func (v *keyWatcher) waitUnits(t *testing.T, n int) {
	t.Helper()
	if !eventually.Wait(time.Minute, func() bool { return v.units() >= n }) {
		t.Fatalf("%d of %d access units", v.units(), n)
	}
}

func (v *keyWatcher) keysIn(from, to int) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, k := range v.keys[from:min(to, len(v.keys))] {
		if k {
			n++
		}
	}
	return n
}

func (v *keyWatcher) pli(t *testing.T) {
	v.mu.Lock()
	ssrc := v.ssrc
	v.mu.Unlock()
	if err := v.c.WritePacketRTCP(v.medi, &rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: ssrc}); err != nil {
		t.Fatal(err)
	}
}

// fir sends a Full Intra Request (RFC 5104), which asks for the same.
func (v *keyWatcher) fir(t *testing.T) {
	v.mu.Lock()
	ssrc := v.ssrc
	v.mu.Unlock()
	fir := &rtcp.FullIntraRequest{SenderSSRC: 1, FIR: []rtcp.FIREntry{{SSRC: ssrc, SequenceNumber: 1}}}
	if err := v.c.WritePacketRTCP(v.medi, fir); err != nil {
		t.Fatal(err)
	}
}

// TestHTTPSideOfAnH264Path: the status shows the codec and a bit rate far
// below MJPEG's, /metrics the codec, and the page and /snapshot.jpg say
// why there is no picture rather than wait for one.
func TestHTTPSideOfAnH264Path(t *testing.T) {
	d := startExec(t)
	ffmpegPlays(t, d.URL("/cam"), "tcp", 30) // a second and more of frames
	body := func(path string) (int, string) {
		res, err := http.Get(d.HTTPURL(path))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	var st struct {
		Paths []struct {
			Codec   string  `json:"codec"`
			Bitrate float64 `json:"bitrate_bps"`
		} `json:"paths"`
	}
	_, js := body("/status.json")
	if err := json.Unmarshal([]byte(js), &st); err != nil || len(st.Paths) != 1 {
		t.Fatalf("status.json: %v\n%s", err, js)
	}
	if p := st.Paths[0]; p.Codec != "h264" || p.Bitrate <= 0 || p.Bitrate > 2e6 {
		t.Fatalf("codec %q at %.0f bit/s, want h264 and some hundreds of kbit/s", p.Codec, p.Bitrate)
	}
	t.Logf("320x240 x264 ultrafast at 25 fps: %.0f kbit/s of RTP payload", st.Paths[0].Bitrate/1000)
	if _, m := body("/metrics"); !strings.Contains(m, `flowcam_path_codec_info{codec="h264",path="/cam"} 1`) {
		t.Fatal("/metrics does not give the codec")
	}
	if code, b := body("/snapshot.jpg"); code != http.StatusNotImplemented || !strings.Contains(b, "H.264") {
		t.Fatalf("/snapshot.jpg: %d %s", code, b)
	}
	if _, page := body("/"); !strings.Contains(page, "no live picture for /cam") {
		t.Fatal("the status page does not say why there is no picture")
	}
}

// TestPullH264: flowcam pull assembles access units from an H.264 path
// over UDP, TCP and two multi-flow flows, and writes an Annex B stream
// that ffmpeg decodes whole: the size, some seventy frames, no decoder
// complaint. A file with B-frames (x264's defaults: three, as a pyramid)
// is written in decoding order, which differs from the order the frames
// play in.
func TestPullH264(t *testing.T) {
	d := startExec(t)
	clip := filepath.Join(t.TempDir(), "bframes.mp4")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-t", "4", "-c:v", "libx264", "-g", "50", "-pix_fmt", "yuv420p", clip).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	withB := start(t, fmt.Sprintf("source: %q\nloop: true\n", clip))
	client, err := daemon.ClientBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		url  string
		args []string
	}{
		{"udp", d.URL("/cam"), []string{"--transport", "udp"}},
		{"tcp", d.URL("/cam"), []string{"--transport", "tcp"}},
		{"two flows, duplicated", d.URL("/cam"), []string{"--flows", "2", "--mode", "duplicate"}},
		{"B-frames, udp", withB.URL("/cam"), []string{"--transport", "udp"}},
		{"B-frames, two flows", withB.URL("/cam"), []string{"--flows", "2", "--mode", "duplicate"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "pulled.h264")
			args := append([]string{"pull", c.url, "--duration", "3s", "-o", out}, c.args...)
			if b, err := exec.Command(client, args...).CombinedOutput(); err != nil {
				t.Fatalf("flowcam pull: %v\n%s", err, b)
			}
			if n := decodeWhole(t, out); n < 50 {
				t.Fatalf("%d frames in 3 s of a 25 fps stream", n)
			}
		})
	}
}

// decodeWhole decodes an Annex B file with ffmpeg, fails on any complaint
// of its decoder or a size other than 320x240, and counts the frames.
func decodeWhole(t *testing.T, path string) int {
	t.Helper()
	probe, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-f", "h264", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, probe)
	}
	if !regexp.MustCompile(`Video: h264 .*320x240`).Match(probe) {
		t.Fatalf("not 320x240 H.264:\n%s", probe)
	}
	if m := regexp.MustCompile(`(?m)^\[h264 @ .*$`).FindAllString(string(probe), -1); len(m) > 0 {
		t.Fatalf("ffmpeg's decoder complained:\n%s", strings.Join(m, "\n"))
	}
	m := regexp.MustCompile(`frame=\s*(\d+)`).FindAllSubmatch(probe, -1)
	if len(m) == 0 {
		t.Fatalf("no frame count:\n%s", probe)
	}
	n, _ := strconv.Atoi(string(m[len(m)-1][1]))
	return n
}

// TestMJPEGFromH264Refused: codec: mjpeg with a source of H.264 fails at
// start: flowcamd passes H.264 through and has no decoder to make JPEG.
func TestMJPEGFromH264Refused(t *testing.T) {
	need.Tool(t, "ffmpeg")
	bin, err := daemon.Binary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := filepath.Join(t.TempDir(), "flowcamd.yaml")
	body := fmt.Sprintf("size: 320x240\nfps: 25\ncodec: mjpeg\nsource: %q\nexec:\n  format: h264\n", "exec:"+x264Helper)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, bin, "--config", cfg, "--rtsp-addr", "127.0.0.1:0", "--http-addr", "").CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("flowcamd ran (%v) with codec mjpeg and an H.264 source:\n%s", err, out)
	}
	for _, want := range []string{"codec: mjpeg", "gives H.264", "codec: auto or h264"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the error does not mention %q:\n%s", want, out)
		}
	}
}

// TestNoEncoderForRawPictures: codec: h264 with a source of raw pictures,
// on a machine without an H.264 encoder (this one: no V4L2 memory-to-
// memory device makes H.264), fails at start and says what would do.
func TestNoEncoderForRawPictures(t *testing.T) {
	bin, err := daemon.Binary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--source", "pattern", "--codec", "h264",
		"--rtsp-addr", "127.0.0.1:0", "--http-addr", "").CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("flowcamd ran (%v) with codec h264 and the pattern:\n%s", err, out)
	}
	for _, want := range []string{"codec: h264", "no H.264 encoder", "exec.format: h264", "bcm2835-codec", "codec: mjpeg"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the error does not mention %q:\n%s", want, out)
		}
	}
}

// damagePy sets the forbidden bit of every 20th non-IDR slice of an
// Annex B stream on its way through, as a bit error on a camera's link
// would.
const damagePy = `import sys
out = sys.stdout.buffer
data, n = b"", 0
mark = b"\x00\x00\x01\x41"
while True:
    chunk = sys.stdin.buffer.read1(65536)
    if not chunk:
        break
    data += chunk
    cut = len(data) - len(mark) + 1
    i = data.find(mark)
    while 0 <= i < cut:
        n += 1
        if n % 20 == 0:
            data = data[:i + 3] + b"\xc1" + data[i + 4:]
        i = data.find(mark, i + 1)
    out.write(data[:cut])
    out.flush()
    data = data[cut:]
`

// TestDamagedNALs: NAL units with the forbidden bit set are dropped, not
// sent, and /metrics counts them; the stream goes on.
func TestDamagedNALs(t *testing.T) {
	need.Tool(t, "ffmpeg")
	need.Tool(t, "python3")
	dir := t.TempDir()
	damage, script := filepath.Join(dir, "damage.py"), filepath.Join(dir, "helper.sh")
	if err := os.WriteFile(damage, []byte(damagePy), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte("exec "+x264Helper+" | python3 "+damage+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := start(t, fmt.Sprintf("size: 320x240\nfps: 25\nsource: %q\nexec:\n  format: h264\n", "exec:sh "+script))
	aus, _, _, err := player.AccessUnits(d.URL("/cam"), gortsplib.TransportTCP, 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for i, au := range aus {
		for _, n := range au {
			if h264.Damaged(n) {
				t.Fatalf("access unit %d has a damaged NAL unit %x", i, n[:min(len(n), 4)])
			}
		}
	}
	var corrupt float64
	eventually.Require(t, time.Minute, func() bool {
		corrupt, _ = d.Metric(`flowcam_source_corrupt_total{path="/cam"}`)
		return corrupt >= 3
	}, "/metrics counts %v damaged units after 100 access units of which every 20th slice was damaged", corrupt)
	t.Logf("%d access units played, %v damaged NAL units dropped and counted", len(aus), corrupt)
}
