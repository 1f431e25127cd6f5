package client

import (
	"context"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"flowcam/stream/format/multiflow"
)

func TestParseArgs(t *testing.T) {
	cfg, err := ParseArgs(strings.Fields("pull rtsp://h/cam --flows 2 --via eth0,wlan0 --mode failover --latency 200ms --duration 20s -o - --stats-json s.json"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Flows != 2 || len(cfg.Via) != 2 || cfg.Mode != multiflow.Failover || !cfg.ModeSet ||
		cfg.Latency != 200*time.Millisecond || cfg.Duration != 20*time.Second || cfg.Output != "-" || cfg.StatsJSON != "s.json" {
		t.Fatalf("%+v", cfg)
	}
	for args, want := range map[string]string{
		"pull":                                   "expected",
		"play rtsp://h/cam":                      "expected",
		"pull http://h/cam":                      "rtsp://",
		"pull rtsp://h/cam --flows 9":            "--flows 9",
		"pull rtsp://h/cam --mode spray":         "stripe, duplicate, failover",
		"pull rtsp://h/cam --transport sctp":     "udp, tcp",
		"pull rtsp://h/cam --log-level shouting": "--log-level",
		"pull rtsp://h/cam --latency-mode slow":  "adaptive, fixed",
	} {
		if _, err := ParseArgs(strings.Fields(args), io.Discard); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error mentioning %q", args, err, want)
		}
	}
}

func TestUnknownInterfaceListsTheRest(t *testing.T) {
	cfg, _ := ParseArgs(strings.Fields("pull rtsp://127.0.0.1:1/cam --via nosuchif0"), io.Discard)
	err := Run(context.Background(), cfg, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `"nosuchif0" not found`) || !strings.Contains(err.Error(), "lo") {
		t.Fatalf("err %v, want the missing name and the interfaces that exist", err)
	}
}

// TestConfigFile: a service's YAML gives the url and flags; the command
// line wins; an unknown key is named.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/relay.yaml"
	body := "url: rtsp://cam:8554/cam\nflows: 2\nvia: [eth0, wlan0]\nmode: duplicate\npublish: rtsp://hub:8554/cam\nlatency: 300ms\n"
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseArgs([]string{"relay", "--config", file, "--latency", "200ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Command != "relay" || cfg.URL != "rtsp://cam:8554/cam" || cfg.Flows != 2 || strings.Join(cfg.Via, ",") != "eth0,wlan0" ||
		cfg.Mode != multiflow.Duplicate || !cfg.ModeSet || cfg.Publish != "rtsp://hub:8554/cam" || cfg.RTSPAddr != "" ||
		cfg.Latency != 200*time.Millisecond {
		t.Fatalf("%+v", cfg)
	}
	os.WriteFile(file, []byte("url: rtsp://cam/cam\nflow: 2\n"), 0o644)
	if _, err := ParseArgs([]string{"relay", "--config", file}, io.Discard); err == nil || !strings.Contains(err.Error(), `unknown key "flow"`) {
		t.Fatalf("unknown key: %v", err)
	}
	os.WriteFile(file, []byte("url: rtsp://cam/cam\noutput:\n"), 0o644)
	if _, err := ParseArgs([]string{"relay", "--config", file}, io.Discard); err == nil || !strings.Contains(err.Error(), "output has no value") {
		t.Fatalf("empty value: %v", err)
	}
	os.WriteFile(file, []byte("url: rtsp://cam/cam\nflows: many\n"), 0o644)
	if _, err := ParseArgs([]string{"relay", "--config", file}, io.Discard); err == nil || !strings.Contains(err.Error(), "flows") {
		t.Fatalf("bad value: %v", err)
	}
}

// TestRelayAddressInUse: an address the relay cannot listen on fails at
// start, naming it.
func TestRelayAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg, err := ParseArgs([]string{"relay", "rtsp://127.0.0.1:1/cam", "--rtsp-addr", ln.Addr().String()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	err = Run(context.Background(), cfg, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--rtsp-addr "+ln.Addr().String()) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("err %v, want the address named", err)
	}
}
