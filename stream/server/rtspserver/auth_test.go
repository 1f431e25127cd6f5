package rtspserver

import (
	"crypto/tls"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"

	"flowcam/internal/testutil/player"
	"flowcam/platform/selfsigned"
	"flowcam/stream/auth"
	"flowcam/stream/format/rtsp"
)

func testAuth(t *testing.T) *auth.Authenticator {
	t.Helper()
	aliceSHA, aliceMD5 := auth.HashPassword("alice", "flowcam", "s3cret")
	bobSHA, bobMD5 := auth.HashPassword("bob", "flowcam", "hunter2")
	a, err := auth.New(auth.Config{Realm: "flowcam", Users: []auth.User{
		{Name: "alice", SHA256: aliceSHA, MD5: aliceMD5},
		{Name: "bob", SHA256: bobSHA, MD5: bobMD5, Paths: []string{"/other"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAuthWithGortsplib: an independent client answers our Digest
// challenge and plays; wrong or unauthorised credentials get 401 and 403.
func TestAuthWithGortsplib(t *testing.T) {
	f := start(t, Config{Auth: testAuth(t)})
	c := f.dial(t)
	if res, err := c.Do(rtsp.Options, "*"); err != nil || res.Status != 200 {
		t.Fatalf("OPTIONS needs no credentials: %v %v", res, err)
	}
	res, err := c.Do(rtsp.Describe, f.url)
	if err != nil || res.Status != 401 || len(res.Header.Values("WWW-Authenticate")) != 2 {
		t.Fatalf("DESCRIBE without credentials: %+v %v", res, err)
	}
	cases := []struct {
		user   string
		status int
	}{{"alice:s3cret", 0}, {"alice:wrong", 401}, {"bob:hunter2", 403}}
	for _, tc := range cases {
		url := "rtsp://" + tc.user + "@" + f.addr + "/cam"
		got, onPacket := firstPacket()
		cl, err := player.Play(url, gortsplib.TransportTCP, onPacket, nil)
		if tc.status != 0 {
			var bad liberrors.ErrClientBadStatusCode
			if !errors.As(err, &bad) || bad.Code != base.StatusCode(tc.status) {
				t.Errorf("%s: %v, want status %d", tc.user, err, tc.status)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.user, err)
		}
		if !arrives(got) {
			t.Errorf("%s: no packets", tc.user)
		}
		cl.Close()
	}
}

// TestRTSPSCarriesMediaInsideTLS: over TLS, gortsplib plays over TCP
// interleaved, Basic is offered, and UDP is refused with 461.
func TestRTSPSCarriesMediaInsideTLS(t *testing.T) {
	dir := t.TempDir()
	cert, _, err := selfsigned.Load(filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), true, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	f := start(t, Config{Auth: testAuth(t)})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	go f.srv.Serve(ln)
	addr := ln.Addr().String()

	cl := &gortsplib.Client{TLSConfig: &tls.Config{InsecureSkipVerify: true}}
	tr := gortsplib.TransportTCP
	cl.Transport = &tr
	got, onPacket := firstPacket()
	if err := player.PlayWith(cl, "rtsps://alice:s3cret@"+addr+"/cam", onPacket, nil); err != nil {
		t.Fatal(err)
	}
	if !arrives(got) {
		t.Error("no packets over RTSPS")
	}
	cl.Close()

	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res := roundTrip(t, conn, "DESCRIBE rtsps://"+addr+"/cam RTSP/1.0\r\nCSeq: 1\r\n\r\n")
	if !strings.Contains(res, "WWW-Authenticate: Basic realm=\"flowcam\"") {
		t.Errorf("no Basic challenge over TLS:\n%s", res)
	}
	basic := auth.Credentials{Scheme: "Basic", User: "alice", Pass: "s3cret"}.String()
	res = roundTrip(t, conn, "SETUP rtsps://"+addr+"/cam/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nAuthorization: "+basic+
		"\r\nTransport: RTP/AVP;unicast;client_port=4000-4001\r\n\r\n")
	if !strings.HasPrefix(res, "RTSP/1.0 461") {
		t.Errorf("UDP over RTSPS:\n%s", res)
	}
}

// firstPacket returns a packet callback for a player and a channel it
// closes on the first packet.
func firstPacket() (<-chan struct{}, func(*rtp.Packet)) {
	got := make(chan struct{})
	var once sync.Once
	return got, func(*rtp.Packet) { once.Do(func() { close(got) }) }
}

// arrives waits for the first packet; the limit only stops a hang.
func arrives(got <-chan struct{}) bool {
	select {
	case <-got:
		return true
	case <-time.After(30 * time.Second):
		return false
	}
}

func roundTrip(t *testing.T, c net.Conn, req string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}
