package multiflow

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
)

// FuzzParseRequest: whatever the client's Multiflow header holds, an
// accepted request has at least one flow and a known mode, and writes back
// to a header that parses to the same request.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{"flows=2;mode=stripe", "flows=3;mode=DUPLICATE", "mode=failover", "", "flows=0",
		"flows=-1;mode=x", " flows = 2 ; mode=stripe", "flows=9;foo=bar", "flows=2;mode=stripe;report=50;latency=150",
		"flows=2;mode=stripe;weights=1,2.5", "flows=2;weights=1", "flows=1;report=5", "flows=1;latency=99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r, err := ParseRequest(v)
		if err != nil {
			return
		}
		if r.Flows < 1 || r.Mode < Stripe || r.Mode > Failover {
			t.Fatalf("%q accepted as %+v", v, r)
		}
		if len(r.Weights) > 0 && len(r.Weights) != r.Flows || r.Report < 0 || r.Latency < 0 {
			t.Fatalf("%q accepted as %+v", v, r)
		}
		back, err := ParseRequest(r.String())
		if err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("%q -> %q -> %+v %v", v, r.String(), back, err)
		}
	})
}

// FuzzParseResponse: an accepted server header has 1 to MaxFlows flows, a
// valid extension id, and round-trips through String.
func FuzzParseResponse(f *testing.F) {
	good := Response{Mode: Duplicate, ExtID: 1, Token: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		Flows: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:6000"), netip.MustParseAddrPort("[2001:db8::1]:6002")}}
	f.Add(good.String())
	f.Add("mode=stripe;token=00000000000000000000000000000000;ext=14;flows=[fe80::1%eth0]:5,[::ffff:1.2.3.4]:9")
	f.Add("mode=failover;token=zz;ext=1;flows=1.2.3.4:5")
	f.Add("ext=15;flows=1.2.3.4:5")
	f.Add("ext=1;flows=1.1.1.1:1,1.1.1.1:2,1.1.1.1:3,1.1.1.1:4,1.1.1.1:5,1.1.1.1:6,1.1.1.1:7,1.1.1.1:8;flows=1.1.1.1:9")
	f.Fuzz(func(t *testing.T, v string) {
		r, err := ParseResponse(v)
		if err != nil {
			return
		}
		if len(r.Flows) < 1 || len(r.Flows) > MaxFlows || r.ExtID < 1 || r.ExtID > 14 || r.Mode < Stripe || r.Mode > Failover {
			t.Fatalf("%q accepted as %+v", v, r)
		}
		back, err := ParseResponse(r.String())
		if err != nil || back.Mode != r.Mode || back.Token != r.Token || back.ExtID != r.ExtID || len(back.Flows) != len(r.Flows) {
			t.Fatalf("%q -> %q -> %+v %v", v, r.String(), back, err)
		}
		for i := range r.Flows {
			if back.Flows[i] != r.Flows[i] {
				t.Fatalf("flow %d: %v -> %v", i, r.Flows[i], back.Flows[i])
			}
		}
	})
}

// FuzzVerifyRegistration: a registration's data verifies only with the
// token, session, direction and flow it was made for, and whatever bytes
// verify are exactly what appData makes for them.
func FuzzVerifyRegistration(f *testing.F) {
	tok := []byte("0123456789abcdef")
	f.Add(tok, "sess1", uint8(0), uint64(1), RegistrationData([16]byte(tok), "sess1", NameRegister, Registration{0, 1}), uint8(0))
	f.Add(tok, "sess1", uint8(1), uint64(1<<60), RegistrationData([16]byte(tok), "sess1", NameAck, Registration{1, 1 << 60}), uint8(3))
	f.Add(tok, "", uint8(255), uint64(0), make([]byte, 24), uint8(1))
	f.Fuzz(func(t *testing.T, token []byte, session string, flow uint8, counter uint64, data []byte, flip uint8) {
		var tk [16]byte
		copy(tk[:], token)
		for _, name := range []string{NameRegister, NameAck} {
			// Arbitrary bytes.
			if r, ok := VerifyRegistration(tk, session, name, flow, data); ok {
				if r.Flow != flow || !bytes.Equal(data, RegistrationData(tk, session, name, r)) {
					t.Fatalf("%x verified as %+v", data, r)
				}
			}
			// A genuine registration, and the same with one thing changed.
			reg := Registration{Flow: flow, Counter: counter}
			d := RegistrationData(tk, session, name, reg)
			if r, ok := VerifyRegistration(tk, session, name, flow, d); !ok || r != reg {
				t.Fatalf("genuine registration refused: %+v %v", r, ok)
			}
			other := map[string]bool{NameRegister: true, NameAck: true}
			delete(other, name)
			for o := range other {
				if _, ok := VerifyRegistration(tk, session, o, flow, d); ok {
					t.Fatal("a registration verified as its acknowledgement (reflection)")
				}
			}
			if _, ok := VerifyRegistration(tk, session, name, flow+1, d); ok {
				t.Fatal("registration verified for another flow")
			}
			if _, ok := VerifyRegistration(tk, session+"x", name, flow, d); ok {
				t.Fatal("registration verified for another session")
			}
			tk2 := tk
			tk2[flip%16] ^= 1
			if _, ok := VerifyRegistration(tk2, session, name, flow, d); ok {
				t.Fatal("registration verified with another token")
			}
			bad := bytes.Clone(d)
			bad[int(flip)%len(bad)] ^= 1 << (flip % 8)
			if _, ok := VerifyRegistration(tk, session, name, flow, bad); ok {
				t.Fatal("tampered registration verified")
			}
			if _, ok := VerifyRegistration(tk, session, name, flow, append(d, 0)); ok {
				t.Fatal("registration with trailing bytes verified")
			}
		}
	})
}
