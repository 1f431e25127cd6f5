package rtspserver

import (
	"net"
	"os"
	"testing"
)

func TestSessionDescriptionGolden(t *testing.T) {
	cases := []struct {
		golden string
		st     Stream
		ip     net.IP
	}{
		{"testdata/cam-ipv4.sdp", Stream{Path: "/cam", Width: 1280, Height: 720, FPS: 25}, net.IPv4(192, 0, 2, 7)},
		{"testdata/cam-ipv6.sdp", Stream{Path: "/front/door", Width: 640, Height: 480, FPS: 29.97}, net.ParseIP("2001:db8::7")},
	}
	for _, c := range cases {
		got := sessionDescription(&c.st, c.ip)
		if os.Getenv("UPDATE_GOLDEN") != "" {
			os.WriteFile(c.golden, got, 0o644)
		}
		want, err := os.ReadFile(c.golden)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: got\n%s\nerr %v", c.golden, got, err)
		}
	}
}
