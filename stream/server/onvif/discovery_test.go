package onvif

import (
	"bytes"
	"encoding/xml"
	"net"
	"strings"
	"testing"
	"time"
)

// npmProbe is the Probe the npm onvif client sends.
const npmProbe = `<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">` +
	`<Header><wsa:MessageID xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">urn:uuid:0f5d604c-81ac-4abc-8010-51dbffad55f2</wsa:MessageID>` +
	`<wsa:To xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>` +
	`<wsa:Action xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action></Header>` +
	`<Body><Probe xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns="http://schemas.xmlsoap.org/ws/2005/04/discovery">` +
	`<Types>%s</Types><Scopes>%s</Scopes></Probe></Body></Envelope>`

func probeWith(types, scopes string) []byte {
	return []byte(strings.Replace(strings.Replace(npmProbe, "%s", types, 1), "%s", scopes, 1))
}

func TestParseProbe(t *testing.T) {
	scopes := DeviceInfo{Name: "garden", Model: "pi"}.Scopes()
	for _, c := range []struct {
		name  string
		probe []byte
		match bool
	}{
		{"npm's probe", probeWith("dn:NetworkVideoTransmitter", ""), true},
		{"any device", probeWith("", ""), true},
		{"tds:Device", probeWith("tds:Device", ""), true},
		{"a printer", probeWith("wprt:PrintDeviceType", ""), false},
		{"our name", probeWith("", "onvif://www.onvif.org/name/garden"), true},
		{"another name", probeWith("", "onvif://www.onvif.org/name/porch"), false},
		{"not a probe", []byte(`<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Body><Hello/></Body></Envelope>`), false},
		{"entities", []byte(`<!DOCTYPE x [<!ENTITY a "b">]><Envelope><Body><Probe/></Body></Envelope>`), false},
		{"garbage", []byte("\x00\x01"), false},
	} {
		if _, got := parseProbe(c.probe, scopes); got != c.match {
			t.Errorf("%s: match %v, want %v", c.name, got, c.match)
		}
	}
}

// TestProbeMatchReads: the answer is one ProbeMatch with the endpoint,
// types and a device service address on the interface's own address.
func TestProbeMatchReads(t *testing.T) {
	d := &Discovery{o: DiscoveryOptions{Info: DeviceInfo{Name: "garden"}, HTTPPort: 8080, UUID: "urn:uuid:1-2-3"}}
	var b bytes.Buffer
	b.WriteString(`<m>`)
	d.endpoint(&b, net.IPv4(10, 77, 1, 1))
	b.WriteString(`</m>`)
	var m struct {
		Address string `xml:"EndpointReference>Address"`
		Types   string `xml:"Types"`
		XAddrs  string `xml:"XAddrs"`
	}
	if err := xml.Unmarshal(b.Bytes(), &m); err != nil || m.Address != "urn:uuid:1-2-3" ||
		m.XAddrs != "http://10.77.1.1:8080/onvif/device_service" || !strings.Contains(m.Types, "NetworkVideoTransmitter") {
		t.Fatalf("%+v %v\n%s", m, err, b.String())
	}
}

// TestProbeRateLimit: a flood gets a bounded number of answers, a single
// source fewer still, and the budget comes back with time.
func TestProbeRateLimit(t *testing.T) {
	now := time.Unix(1000, 0)
	l := rateLimit{rate: answersPerSecond, per: perSource, now: func() time.Time { return now }}
	n := 0
	for i := range 1000 {
		if l.allow(net.IPv4(10, 0, byte(i/250), byte(i%250)).String()) {
			n++
		}
	}
	if n != 2*answersPerSecond {
		t.Errorf("1000 probes from 1000 sources at once: %d answers, want the burst of %d", n, 2*answersPerSecond)
	}
	now = now.Add(10 * time.Second)
	n = 0
	for range 100 {
		if l.allow("192.0.2.9") {
			n++
		}
	}
	if n != perSource {
		t.Errorf("100 probes from one source: %d answers, want %d", n, perSource)
	}
}

// FuzzProbe: no datagram makes the parser panic.
func FuzzProbe(f *testing.F) {
	f.Add(probeWith("dn:NetworkVideoTransmitter", ""))
	f.Add(probeWith("", "onvif://www.onvif.org/name/x onvif://www.onvif.org/Profile"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseProbe(b, DeviceInfo{Name: "garden"}.Scopes())
	})
}
