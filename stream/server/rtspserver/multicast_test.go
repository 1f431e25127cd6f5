package rtspserver

import (
	"net/netip"
	"testing"

	"flowcam/stream/format/rtsp"
)

// TestMulticastOff: with multicast off, a viewer that asks only for it
// gets 461, and one that offers unicast too gets unicast.
func TestMulticastOff(t *testing.T) {
	f := start(t, Config{})
	c := f.dial(t)
	if _, _, res, err := c.Setup(f.url+"/trackID=0", "RTP/AVP;multicast"); res == nil || res.Status != rtsp.StatusUnsupportedTransport {
		t.Fatalf("multicast only: %v %v", res, err)
	}
	_, tr, res, err := c.Setup(f.url+"/trackID=0", "RTP/AVP;multicast,RTP/AVP/TCP;unicast;interleaved=0-1")
	if err != nil || res.Status != 200 || tr.Multicast || !tr.HasInterl {
		t.Fatalf("multicast or TCP: %v %+v %v", res, tr, err)
	}
}

// TestGroupAddresses: groups take the prefix's addresses, never its first
// or last, each once, with a port pair each, until none is left.
func TestGroupAddresses(t *testing.T) {
	m := newMulticaster(nil, MulticastConfig{Groups: netip.MustParsePrefix("239.255.42.0/29"), Ports: [2]int{31000, 31003}, TTL: 1})
	var got []string
	for {
		slot, addr, ok := m.free()
		if !ok {
			break
		}
		m.groups[groupKey{ifindex: slot}] = &group{slot: slot, addr: addr}
		got = append(got, addr.String())
	}
	want := []string{"239.255.42.1", "239.255.42.2", "239.255.42.3", "239.255.42.4", "239.255.42.5", "239.255.42.6"}
	if len(got) != len(want) {
		t.Fatalf("addresses %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("addresses %v, want %v", got, want)
		}
	}
}
