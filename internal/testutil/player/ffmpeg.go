package player

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// Decoded is what ffmpeg made of a stream: frames decoded, how many of them
// differ (a moving picture), and its log.
type Decoded struct {
	Frames, Distinct int
	Log              string
}

// FFmpeg decodes n frames of url with ffmpeg over transport (tcp or udp).
// It fails when ffmpeg does, when the stream is not codec ("mjpeg",
// "h264") at size ("320x240"), or when ffmpeg's decoder complained: a
// viewer must never meet "non-existing PPS" or "no frame!", which a start
// anywhere but at a key frame brings.
func FFmpeg(ctx context.Context, url, transport string, n int, codec, size string) (Decoded, error) {
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-rtsp_transport", transport,
		"-i", url, "-frames:v", fmt.Sprint(n), "-f", "framemd5", "-")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	d := Decoded{}
	err := cmd.Run()
	d.Log = stderr.String()
	if err != nil {
		return d, fmt.Errorf("ffmpeg: %w\n%s", err, d.Log)
	}
	if !regexp.MustCompile(`Video: ` + codec + ` .*` + size).MatchString(d.Log) {
		return d, fmt.Errorf("no %s %s stream:\n%s", size, codec, d.Log)
	}
	if m := regexp.MustCompile(`(?m)^\[`+codec+` @ .*$`).FindAllString(d.Log, -1); len(m) > 0 {
		return d, fmt.Errorf("ffmpeg's decoder complained:\n%s", strings.Join(m, "\n"))
	}
	sums := map[string]bool{}
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Split(line, ","); !strings.HasPrefix(line, "#") && len(f) == 6 {
			sums[strings.TrimSpace(f[5])] = true
			d.Frames++
		}
	}
	d.Distinct = len(sums)
	return d, nil
}
