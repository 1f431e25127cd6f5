package daemon

import (
	"testing"
	"time"

	"flowcam/stream/server/flowsend"

	"flowcam/stream/format/multiflow"
	"flowcam/stream/server/rtspserver"
)

func TestAliveWindow(t *testing.T) {
	for _, tc := range []struct {
		fps  float64
		want time.Duration
	}{{25, 2 * time.Second}, {0, 2 * time.Second}, {1, 3 * time.Second}, {0.5, 6 * time.Second}} {
		if got := aliveWindow(tc.fps); got != tc.want {
			t.Errorf("aliveWindow(%v) = %v, want %v", tc.fps, got, tc.want)
		}
	}
}

// TestSessionStatus: RTCP jitter arrives in 90 kHz units; a flow's local
// address is named by its interface.
func TestSessionStatus(t *testing.T) {
	in := rtspserver.SessionInfo{ID: "s1", Path: "/cam", Transport: "multiflow", Client: "10.0.0.2:4000",
		Octets: 1234, Jitter: 4500, RTT: 20 * time.Millisecond,
		Multiflow: &flowsend.Stats{Mode: multiflow.Duplicate, Flows: []flowsend.FlowStats{
			{Flow: 0, Local: "127.0.0.1:50000", Bytes: 99, Loss: 0.1},
			{Flow: 1, Local: "192.0.2.77:50002"},
		}}}
	ss := sessionStatus(in, interfaceNames{})
	if ss.Jitter != 50*time.Millisecond || ss.Bytes != 1234 || ss.Client != "10.0.0.2:4000" || ss.Mode != "duplicate" {
		t.Fatalf("session: %+v", ss)
	}
	if len(ss.Flows) != 2 || ss.Flows[0].Interface != "lo" || ss.Flows[0].Bytes != 99 || ss.Flows[1].Interface != "" {
		t.Fatalf("flows: %+v", ss.Flows)
	}
}
