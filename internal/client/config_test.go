package client

import (
	"context"
	"io"
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
