package onvif

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/golden"
	"flowcam/stream/auth"
)

var testNow = time.Date(2026, 12, 4, 12, 30, 15, 0, time.UTC)

func testProfiles() []Profile {
	return []Profile{
		{Path: "/cam", Codec: "mjpeg", Width: 1280, Height: 720, FPS: 25, Quality: 80, Bitrate: 9.6e6},
		{Path: "/yard/h264", Codec: "h264", Width: 640, Height: 480, FPS: 15, Bitrate: 1.2e6},
	}
}

func testService(t *testing.T, users ...auth.User) (*httptest.Server, *auth.Authenticator) {
	t.Helper()
	o := Options{Info: DeviceInfo{Manufacturer: "flowcam", Model: "raspberrypi: Raspberry Pi 4", Firmware: "v1.2.3",
		Serial: "0a1b2c3d4e5f", Hardware: "raspberrypi: Raspberry Pi 4", Name: "garden"},
		Profiles: testProfiles, RTSPPort: func() int { return 8554 }, Now: func() time.Time { return testNow }}
	var a *auth.Authenticator
	if len(users) > 0 {
		var err error
		a, err = auth.New(auth.Config{Realm: "flowcam", Users: users, Now: func() time.Time { return testNow }})
		if err != nil {
			t.Fatal(err)
		}
		o.Auth = a
	}
	srv := httptest.NewServer(New(o))
	t.Cleanup(srv.Close)
	return srv, a
}

// clientRequest wraps an operation as clients send it, with a token when user
// is set.
func clientRequest(op, ns, inner, user, password string) string {
	header := ""
	if user != "" {
		nonce := make([]byte, 16)
		rand.Read(nonce) // a fresh one each time: a nonce is accepted once
		created := testNow.Format("2006-01-02T15:04:05.000Z")
		h := sha1.New()
		h.Write(nonce)
		h.Write([]byte(created))
		h.Write([]byte(password))
		header = `<s:Header><Security s:mustUnderstand="1" xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">` +
			`<UsernameToken><Username>` + user + `</Username><Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">` +
			base64.StdEncoding.EncodeToString(h.Sum(nil)) + `</Password><Nonce>` + base64.StdEncoding.EncodeToString(nonce) +
			`</Nonce><Created xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">` + created +
			`</Created></UsernameToken></Security></s:Header>`
	}
	return `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">` + header +
		`<s:Body><` + op + ` xmlns="` + ns + `">` + inner + `</` + op + `></s:Body></s:Envelope>`
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	res, err := http.Post(url, "application/soap+xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if err := xml.Unmarshal(b, new(struct{ XMLName xml.Name })); err != nil {
		t.Fatalf("the answer is not XML: %v\n%s", err, b)
	}
	return res.StatusCode, string(b)
}

// TestOperations answers every operation NVRs use; the answers are
// pinned byte for byte.
func TestOperations(t *testing.T) {
	srv, _ := testService(t)
	stream := `<StreamSetup><Stream xmlns="` + nsSchema + `">RTP-Unicast</Stream><Transport xmlns="` + nsSchema + `"><Protocol>RTSP</Protocol></Transport></StreamSetup>`
	for _, c := range []struct{ op, ns, inner, path string }{
		{"GetSystemDateAndTime", nsDevice, "", DevicePath},
		{"GetDeviceInformation", nsDevice, "", DevicePath},
		{"GetCapabilities", nsDevice, "<Category>All</Category>", DevicePath},
		{"GetServices", nsDevice, "<IncludeCapability>true</IncludeCapability>", DevicePath},
		{"GetScopes", nsDevice, "", DevicePath},
		{"GetProfiles", nsMedia, "", MediaPath},
		{"GetProfile", nsMedia, "<ProfileToken>prof_yard_h264</ProfileToken>", MediaPath},
		{"GetVideoSources", nsMedia, "", MediaPath},
		{"GetVideoEncoderConfigurations", nsMedia, "", MediaPath},
		{"GetVideoEncoderConfiguration", nsMedia, "<ConfigurationToken>vec_cam</ConfigurationToken>", MediaPath},
		{"GetStreamUri", nsMedia, stream + "<ProfileToken>prof_cam</ProfileToken>", MediaPath},
		{"GetSnapshotUri", nsMedia, "<ProfileToken>prof_yard_h264</ProfileToken>", MediaPath},
	} {
		t.Run(c.op, func(t *testing.T) {
			code, body := post(t, srv.URL+c.path, clientRequest(c.op, c.ns, c.inner, "", ""))
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			body = strings.ReplaceAll(body, strings.TrimPrefix(srv.URL, "http://"), "HOST:PORT")
			body = strings.ReplaceAll(body, strings.TrimPrefix(srv.URL[:strings.LastIndexByte(srv.URL, ':')], "http://"), "HOST")
			golden.File(t, filepath.Join("testdata", c.op+".xml"), []byte(body))
		})
	}
}

// TestFaults: what a client gets wrong gets a SOAP fault and nothing else.
func TestFaults(t *testing.T) {
	srv, _ := testService(t, auth.User{Name: "nvr", Password: "s3cret"}, auth.User{Name: "yard", Password: "pw", Paths: []string{"/yard/h264"}})
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>` +
		`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><GetProfiles xmlns="` + nsMedia + `">&lol2;</GetProfiles></s:Body></s:Envelope>`
	for _, c := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"not XML", "hello", 400, "ter:WellFormed"},
		{"entities", laughs, 400, "ter:WellFormed"},
		{"huge", clientRequest("GetProfiles", nsMedia, strings.Repeat("<x/>", 40000), "", ""), 400, "ter:WellFormed"},
		{"not SOAP", `<Envelope><Body><GetProfiles/></Body></Envelope>`, 400, "ter:WellFormed"},
		{"empty body", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body></s:Body></s:Envelope>`, 400, "ter:WellFormed"},
		{"unknown action", clientRequest("Reboot", nsDevice, "", "nvr", "s3cret"), 400, "ter:ActionNotSupported"},
		{"no token", clientRequest("GetProfiles", nsMedia, "", "", ""), 400, "ter:NotAuthorized"},
		{"wrong password", clientRequest("GetProfiles", nsMedia, "", "nvr", "guess"), 400, "ter:NotAuthorized"},
		{"wrong password on a pre-auth call", clientRequest("GetServices", nsDevice, "", "nvr", "guess"), 400, "ter:NotAuthorized"},
		{"no such profile", clientRequest("GetStreamUri", nsMedia, "<ProfileToken>prof_nope</ProfileToken>", "nvr", "s3cret"), 400, "ter:NoProfile"},
		{"another user's profile", clientRequest("GetStreamUri", nsMedia, "<ProfileToken>prof_cam</ProfileToken>", "yard", "pw"), 400, "ter:NoProfile"},
		{"time needs no token", clientRequest("GetSystemDateAndTime", nsDevice, "", "", ""), 200, "<tt:Hour>12</tt:Hour>"},
		{"pre-auth without a token", clientRequest("GetServices", nsDevice, "", "", ""), 200, MediaPath},
		{"right password", clientRequest("GetProfiles", nsMedia, "", "nvr", "s3cret"), 200, `token="prof_yard_h264"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := post(t, srv.URL+DevicePath, c.body)
			if code != c.status || !strings.Contains(body, c.want) {
				t.Errorf("%d %s\nwant %d with %q", code, body, c.status, c.want)
			}
		})
	}
	// A user sees the profiles of the paths it may watch.
	_, body := post(t, srv.URL+MediaPath, clientRequest("GetProfiles", nsMedia, "", "yard", "pw"))
	if strings.Contains(body, "prof_cam") || !strings.Contains(body, "prof_yard_h264") {
		t.Errorf("yard's profiles: %s", body)
	}
}

// FuzzRequest: whatever arrives, the answer is a SOAP envelope (an
// answer or a fault), and nothing panics.
func FuzzRequest(f *testing.F) {
	f.Add([]byte(clientRequest("GetProfiles", nsMedia, "", "", "")))
	f.Add([]byte(clientRequest("GetStreamUri", nsMedia, "<ProfileToken>prof_cam</ProfileToken>", "nvr", "x")))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`))
	f.Add([]byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetScopes xmlns="` + nsDevice + `"/></s:Body></s:Envelope>`))
	svc := New(Options{Profiles: testProfiles, RTSPPort: func() int { return 8554 }})
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		svc.ServeHTTP(rec, httptest.NewRequest("POST", DevicePath, bytes.NewReader(body)))
		var env struct {
			XMLName xml.Name
		}
		if err := xml.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.XMLName.Local != "Envelope" {
			t.Fatalf("answer %d is not a SOAP envelope: %v\n%s", rec.Code, err, rec.Body.Bytes())
		}
	})
}
