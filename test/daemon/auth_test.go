package daemon_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/player"
	"flowcam/internal/testutil/rawrtsp"
	"flowcam/stream/auth"
	"flowcam/stream/format/rtsp"
)

// authConfig has alice (every path) and bob (/yard only), and RTSPS with a
// self-signed certificate made on first start.
func authConfig(t *testing.T, maxFailures int) string {
	t.Helper()
	dir := t.TempDir()
	aSHA, aMD5 := auth.HashPassword("alice", "flowcam", "s3cret")
	bSHA, bMD5 := auth.HashPassword("bob", "flowcam", "hunter2")
	cfg := "size: 320x240\nstreams:\n  - path: /cam\n  - path: /yard\n" +
		"auth:\n  max_failures: " + strconv.Itoa(maxFailures) + "\n  users:\n" +
		"    - {name: alice, sha256: " + aSHA + ", md5: " + aMD5 + "}\n" +
		"    - {name: bob, sha256: " + bSHA + ", md5: " + bMD5 + ", paths: [/yard]}\n" +
		"rtsps:\n  enabled: true\n  addr: 127.0.0.1:0\n  self_signed: true\n" +
		"  cert: " + filepath.Join(dir, "tls.crt") + "\n  key: " + filepath.Join(dir, "tls.key") + "\n"
	path := filepath.Join(dir, "flowcamd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// logged finds a JSON log line's field.
func logged(t *testing.T, d *daemon.Daemon, msg, key string) string {
	t.Helper()
	if err := d.WaitLog(`"msg":"`+msg+`"`, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(d.Logs(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			if v, ok := rec[key].(string); ok {
				return v
			}
		}
	}
	t.Fatalf("no %q log line with %s", msg, key)
	return ""
}

// TestPlayersAuthenticate: ffmpeg (RTSP and RTSPS), GStreamer and our own
// client play with rtsp://user:pass@host/...; the refusals carry the right
// status.
func TestPlayersAuthenticate(t *testing.T) {
	d, err := daemon.Start(bin, "--config", authConfig(t, 100))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	tlsAddr := logged(t, d, "rtsps listening", "addr")
	withUser := func(scheme, addr, user, path string) string { return scheme + "://" + user + "@" + addr + path }

	t.Run("ffmpeg rtsp", func(t *testing.T) { ffmpegFrames(t, withUser("rtsp", d.Addr, "alice:s3cret", "/cam"), "udp") })
	t.Run("ffmpeg rtsps", func(t *testing.T) { ffmpegFrames(t, withUser("rtsps", tlsAddr, "alice:s3cret", "/cam"), "tcp") })
	t.Run("gstreamer", func(t *testing.T) {
		need(t, "gst-launch-1.0")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if out, err := player.GStreamer(ctx, withUser("rtsp", d.Addr, "bob:hunter2", "/yard"), 10, ""); err != nil {
			t.Fatalf("%v\n%s\nflowcamd log:\n%s", err, out, daemon.Tail(d.Logs(), 20))
		}
	})
	t.Run("flowcam", func(t *testing.T) {
		client, err := daemon.ClientBinary(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		stats := filepath.Join(t.TempDir(), "stats.json")
		out, err := exec.Command(client, "pull", withUser("rtsp", d.Addr, "alice:s3cret", "/cam"), "--duration", "2s",
			"-o", os.DevNull, "--stats-json", stats).CombinedOutput()
		b, _ := os.ReadFile(stats)
		if err != nil || !regexp.MustCompile(`"frames_complete":\s*[1-9]`).Match(b) {
			t.Fatalf("flowcam pull: %v\n%s\n%s", err, out, b)
		}
		if strings.Contains(string(b)+string(out), "s3cret") {
			t.Error("the password leaked into the report or the log")
		}
	})
	t.Run("refusals", func(t *testing.T) { refusals(t, d) })
}

func ffmpegFrames(t *testing.T, url, transport string) {
	t.Helper()
	need(t, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-rtsp_transport", transport, "-i", url,
		"-frames:v", "10", "-f", "null", "-").CombinedOutput()
	if err != nil || !regexp.MustCompile(`frame=\s*10 `).Match(out) {
		t.Fatalf("ffmpeg %s: %v\n%s", url, err, out)
	}
}

// refusals walks the answers a player gets wrong: no credentials, a wrong
// password, a path the user may not watch, and a replayed request.
func refusals(t *testing.T, d *daemon.Daemon) {
	c, err := rawrtsp.Dial(d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	url := d.URL("/cam")
	res, err := c.Do(rtsp.Describe, url)
	if err != nil || res.Status != 401 {
		t.Fatalf("no credentials: %v %v", res, err)
	}
	ch, err := auth.ChooseChallenge(res.Header.Values("WWW-Authenticate"))
	if err != nil {
		t.Fatal(err)
	}
	answer := func(user, pass, u string, nc uint32) rtsp.Field {
		return rtsp.Field{Name: "Authorization", Value: ch.Authorization(user, pass, rtsp.Describe, u, nc, "c0ffee")}
	}
	cases := []struct {
		name   string
		h      rtsp.Field
		url    string
		status int
	}{
		{"right password", answer("alice", "s3cret", url, 1), url, 200},
		{"same answer again (replay)", answer("alice", "s3cret", url, 1), url, 401},
		{"next count", answer("alice", "s3cret", url, 2), url, 200},
		{"wrong password", answer("alice", "guess", url, 3), url, 401},
		{"path not allowed", answer("bob", "hunter2", url, 4), url, 403},
		{"path allowed", answer("bob", "hunter2", d.URL("/yard"), 5), d.URL("/yard"), 200},
	}
	for _, tc := range cases {
		res, err := c.Do(rtsp.Describe, tc.url, tc.h)
		if err != nil || res.Status != tc.status {
			t.Errorf("%s: %v %v, want %d", tc.name, res, err, tc.status)
		}
	}
	other, err := rawrtsp.Dial(d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if res, err := other.Do(rtsp.Describe, url, answer("alice", "s3cret", url, 9)); err != nil || res.Status != 401 {
		t.Errorf("a nonce used from another connection: %v %v, want 401", res, err)
	}
}

// TestFailedAttemptsBlockTheAddress: after max_failures wrong answers the
// address gets 403 even with the right password, and the log says so.
func TestFailedAttemptsBlockTheAddress(t *testing.T) {
	d, err := daemon.Start(bin, "--config", authConfig(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	c, err := rawrtsp.Dial(d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	url := d.URL("/cam")
	statuses := []int{}
	for i, pass := range []string{"guess", "guess2", "s3cret"} {
		res, err := c.Do(rtsp.Describe, url)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := auth.ChooseChallenge(res.Header.Values("WWW-Authenticate"))
		if err != nil {
			statuses = append(statuses, res.Status)
			continue
		}
		res, err = c.Do(rtsp.Describe, url, rtsp.Field{Name: "Authorization", Value: ch.Authorization("alice", pass, rtsp.Describe, url, uint32(i+1), "x")})
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, res.Status)
	}
	if want := []int{401, 403, 403}; !slices.Equal(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
	if err := d.WaitLog("address blocked after repeated failed attempts", 5*time.Second); err != nil {
		t.Error(err)
	}
}

// TestHTTPAuthenticates: the HTTP side asks for the same users with
// Digest, honours per-path permissions, and leaves /healthz open.
func TestHTTPAuthenticates(t *testing.T) {
	d, err := daemon.Start(bin, "--config", authConfig(t, 100))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	get := func(path, user, pass string) (int, []string) {
		t.Helper()
		url := d.HTTPURL(path)
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 || user == "" {
			return res.StatusCode, nil
		}
		ch, err := auth.ChooseChallenge(res.Header.Values("WWW-Authenticate"))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", ch.Authorization(user, pass, "GET", path, 1, "abcdef"))
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode, res.Header.Values("WWW-Authenticate")
	}
	// Both paths must have a picture first: a snapshot of a path whose
	// first frame is still being made is 503, whoever asks.
	for _, p := range []string{"/snapshot.jpg", "/snapshot.jpg?path=/yard"} {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if code, _ := get(p, "alice", "s3cret"); code != http.StatusServiceUnavailable || time.Now().After(deadline) {
				break
			}
		}
	}
	cases := []struct {
		path, user, pass string
		want             int
	}{
		{"/healthz", "", "", 200},
		{"/snapshot.jpg", "", "", 401},
		{"/snapshot.jpg", "alice", "s3cret", 200},
		{"/snapshot.jpg?path=/yard", "bob", "hunter2", 200},
		{"/snapshot.jpg", "bob", "hunter2", 403},
		{"/metrics", "alice", "wrong", 401},
		{"/status.json", "alice", "s3cret", 200},
	}
	for _, c := range cases {
		if got, _ := get(c.path, c.user, c.pass); got != c.want {
			t.Errorf("GET %s as %q: %d, want %d", c.path, c.user, got, c.want)
		}
	}
}
