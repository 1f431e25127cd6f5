package rtspserver

import (
	"net"
	"testing"
	"time"

	"flowcam/stream/client/flowrecv"

	"flowcam/stream/format/multiflow"
	"flowcam/stream/format/rtsp"
)

func setupMultiflow(t *testing.T, f *fixture, want string) (*rtsp.Response, error) {
	t.Helper()
	c := f.dial(t)
	return c.Do(rtsp.Setup, f.url+"/trackID=0",
		hdr("Require", multiflow.OptionTag),
		hdr("Transport", "RTP/AVP/UDP;unicast;mode=play"),
		hdr(multiflow.HeaderName, want))
}

func TestMultiflowRefusals(t *testing.T) {
	plain := start(t, Config{})
	res, err := setupMultiflow(t, plain, "flows=2;mode=stripe")
	if err != nil || res.Status != 551 || res.Header.Get("Unsupported") != multiflow.OptionTag {
		t.Fatalf("server without multi-flow: %v %v, want 551 naming the tag", res, err)
	}
	f := start(t, Config{Multiflow: &MultiflowConfig{MaxFlows: 2, Modes: []multiflow.Mode{multiflow.Stripe}}})
	for _, c := range []struct {
		want   string
		status int
	}{
		{"flows=3;mode=stripe", 453},
		{"flows=2;mode=duplicate", 461},
		{"flows=two", 400},
	} {
		res, err := setupMultiflow(t, f, c.want)
		if err != nil || res.Status != c.status {
			t.Errorf("%s: %v %v, want %d", c.want, res, err, c.status)
		}
	}
}

func TestMultiflowSession(t *testing.T) {
	for _, mode := range []multiflow.Mode{multiflow.Stripe, multiflow.Duplicate, multiflow.Failover} {
		t.Run(mode.String(), func(t *testing.T) {
			f := start(t, Config{Multiflow: &MultiflowConfig{}})
			c := f.dial(t)
			res, err := c.Do(rtsp.Setup, f.url+"/trackID=0", hdr("Require", multiflow.OptionTag),
				hdr("Transport", "RTP/AVP/UDP;unicast;mode=play"),
				hdr(multiflow.HeaderName, multiflow.Request{Flows: 2, Mode: mode}.String()))
			if err != nil || res.Status != 200 {
				t.Fatalf("SETUP: %v %v", res, err)
			}
			reply, err := multiflow.ParseResponse(res.Header.Get(multiflow.HeaderName))
			if err != nil || reply.Mode != mode || len(reply.Flows) != 2 {
				t.Fatalf("Multiflow reply %q: %v", res.Header.Get(multiflow.HeaderName), err)
			}
			trs, _ := rtsp.ParseTransports(res.Header.Get("Transport"))
			sh, _ := rtsp.ParseSession(res.Header.Get("Session"))
			var conns []net.PacketConn
			for range reply.Flows {
				pc, err := net.ListenPacket("udp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, pc)
			}
			r, err := flowrecv.New(flowrecv.Config{Session: sh.ID, Token: reply.Token,
				ExtID: reply.ExtID, ServerSSRC: trs[0].SSRC, Servers: reply.Flows, Conns: conns})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if res, err := c.Do(rtsp.Play, f.url, hdr("Session", sh.ID)); err != nil || res.Status != 200 {
				t.Fatalf("PLAY: %v %v", res, err)
			}
			seqs, perFlow := map[uint16]int{}, make([]int, 2)
			for deadline := time.After(10 * time.Second); len(seqs) < 200; {
				select {
				case p := <-r.Packets():
					seqs[p.SequenceNumber]++
					perFlow[p.Flow]++
				case <-deadline:
					t.Fatalf("%d distinct packets", len(seqs))
				}
			}
			checkModeSpread(t, mode, perFlow)
			info := f.srv.Sessions()[0]
			if info.Transport != "multiflow" || info.Multiflow == nil || info.Multiflow.Flows[1].Client == "" {
				t.Fatalf("session info %+v", info)
			}
		})
	}
}

func checkModeSpread(t *testing.T, mode multiflow.Mode, perFlow []int) {
	t.Helper()
	switch mode {
	case multiflow.Stripe:
		if perFlow[0] < 50 || perFlow[1] < 50 {
			t.Fatalf("stripe spread %v", perFlow)
		}
	case multiflow.Duplicate:
		if d := perFlow[0] - perFlow[1]; d < -40 || d > 40 {
			t.Fatalf("duplicate spread %v", perFlow)
		}
	case multiflow.Failover:
		// The primary carries the stream while its reports arrive. On a
		// machine busy enough to starve the receiver's reports the server
		// rightly judges the primary stalled and switches for a while, so
		// the standby may carry some, never the bulk.
		if perFlow[1] > perFlow[0]/2 {
			t.Fatalf("failover used the standby: %v", perFlow)
		}
	}
}
