package hostile_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/daemon"
)

// Attackers of the NVR-facing parts, each from its own address.
const (
	soapIP   = "127.0.0.13"
	tunnelIP = "127.0.0.14"
)

// httpFrom sends raw on a new connection from local to addr and returns
// the HTTP status of the answer.
func httpFrom(t *testing.T, local, addr, raw string) (int, string) {
	t.Helper()
	dl := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	nc, err := dl.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer nc.Close()
	go nc.Write([]byte(raw)) // the server may stop reading midway
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		return 0, err.Error()
	}
	var b strings.Builder
	bufio.NewReader(res.Body).WriteTo(&b)
	return res.StatusCode, b.String()
}

func soapPost(path, body string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
}

// soap: malformed, hostile and unauthorized SOAP gets a SOAP fault (a
// 400), and the daemon does not grow: nothing else changes.
func soap(t *testing.T, d *daemon.Daemon) {
	laughs := `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">` +
		`<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&c;</s:Body></s:Envelope>`
	deep := strings.Repeat("<a>", 20000) + strings.Repeat("</a>", 20000)
	for i, body := range []string{"", "not xml", laughs, deep, strings.Repeat("<x/>", 30000),
		`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><Reboot xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>`,
		"\x00\xff<\x00"} {
		for _, path := range []string{"/onvif/device_service", "/onvif/media_service"} {
			status, answer := httpFrom(t, soapIP, d.HTTPAddr, soapPost(path, body))
			if status != 400 || !strings.Contains(answer, "Fault") {
				t.Errorf("SOAP body %d on %s: %d %.200q, want 400 and a SOAP fault", i, path, status, answer)
			}
		}
	}
}

// tunnel: RTSP over HTTP misused on both ports: a POST without its GET,
// bad cookies, a GET left without a POST, garbage in the POST body.
func tunnel(t *testing.T, d *daemon.Daemon) {
	for _, addr := range []string{d.Addr, d.HTTPAddr} {
		for _, c := range []struct {
			name, raw string
			want      int
		}{
			{"POST without its GET", "POST /cam HTTP/1.0\r\nx-sessioncookie: nobody\r\nContent-Type: application/x-rtsp-tunnelled\r\n\r\nT1BUSU9OUw==", 403},
			{"cookie with a space", "GET /cam HTTP/1.0\r\nx-sessioncookie: a b\r\nAccept: application/x-rtsp-tunnelled\r\n\r\n", 400},
			{"cookie too long", "GET /cam HTTP/1.0\r\nx-sessioncookie: " + strings.Repeat("c", 500) + "\r\nAccept: application/x-rtsp-tunnelled\r\n\r\n", 400},
		} {
			if status, answer := httpFrom(t, tunnelIP, addr, c.raw); status != c.want {
				t.Errorf("%s on %s: %d %.200q, want %d", c.name, addr, status, answer, c.want)
			}
		}
		// A GET whose POST then sends garbage: the tunnel closes.
		dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(tunnelIP)}}
		get, err := dl.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(get, "GET /cam HTTP/1.0\r\nx-sessioncookie: garbage-%d\r\nAccept: application/x-rtsp-tunnelled\r\n\r\n", len(addr))
		br := bufio.NewReader(get)
		get.SetReadDeadline(time.Now().Add(5 * time.Second))
		if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != 200 {
			t.Fatalf("tunnel GET on %s: %v", addr, err)
		}
		post, err := dl.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(post, "POST /cam HTTP/1.0\r\nx-sessioncookie: garbage-%d\r\nContent-Type: application/x-rtsp-tunnelled\r\n\r\n%s",
			len(addr), strings.Repeat("!@#$", 1000))
		// Whatever the server answers first, the tunnel must end.
		get.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := br.WriteTo(new(strings.Builder)); isTimeout(err) {
			t.Errorf("a tunnel whose POST sends garbage stays open on %s", addr)
		}
		get.Close()
		post.Close()
	}
}
