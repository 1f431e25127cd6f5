package web

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"
)

// TestHistory: one-second samples give each flow's throughput from its
// byte counts, its share of the session, loss, RTT and queue; a plain
// session is one flow named after its transport.
func TestHistory(t *testing.T) {
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	status := func(eth, wifi, tcp uint64) Status {
		return Status{Started: start, Sessions: []SessionStatus{
			{ID: "mf", Client: "10.0.0.7:5100", Transport: "multiflow", Mode: "stripe", Path: "/cam", Flows: []FlowStatus{
				{Index: 0, Interface: "eth0", Bytes: eth, Loss: 0.01, RTT: 3 * time.Millisecond, Queue: time.Millisecond, Capacity: 4e6},
				{Index: 1, Bytes: wifi, RTT: 40 * time.Millisecond, Queue: 25 * time.Millisecond}}},
			{ID: "tc", Client: "10.0.0.8:4000", Transport: "tcp", Path: "/cam", Bytes: tcp, FractionLost: 0, RTT: 0}}}
	}
	h := newHistory()
	h.add(status(0, 0, 0), start.Add(time.Second))
	h.add(status(375_000, 125_000, 250_000), start.Add(2*time.Second))
	got := h.get()
	if len(got) != 2 || got[1].T != 2 {
		t.Fatalf("samples %+v", got)
	}
	mf, tcp := got[1].Sessions[0], got[1].Sessions[1]
	eth, wifi := mf.Flows[0], mf.Flows[1]
	if eth.Name != "eth0" || eth.Mbps != 3 || eth.Share != 0.75 || eth.Loss != 0.01 || eth.RTTMS != 3 || eth.CapacityMbps != 4 {
		t.Errorf("eth0: %+v", eth)
	}
	if wifi.Name != "flow 1" || wifi.Mbps != 1 || wifi.Share != 0.25 || wifi.QueueMS != 25 {
		t.Errorf("flow 1: %+v", wifi)
	}
	if mf.Label != "multiflow (stripe) /cam" || len(tcp.Flows) != 1 || tcp.Flows[0].Name != "tcp" || tcp.Flows[0].Mbps != 2 {
		t.Errorf("sessions: %+v %+v", mf, tcp)
	}
	for i := 0; i < historyKeep+5; i++ {
		h.add(status(0, 0, 0), start.Add(time.Duration(i+3)*time.Second))
	}
	if n := len(h.get()); n != historyKeep {
		t.Errorf("%d samples kept, want %d", n, historyKeep)
	}
}

func TestHistoryJSON(t *testing.T) {
	s := New(&fakeDaemon{st: twoPaths()}, NewHub(), nil)
	defer s.Close()
	s.hist.add(s.status(), time.Now())
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/history.json", nil))
	var body struct {
		Samples []HistorySample `json:"samples"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 200 || len(body.Samples) != 1 {
		t.Fatalf("/history.json: %d %v %s", rec.Code, err, rec.Body)
	}
}
