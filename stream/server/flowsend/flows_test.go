package flowsend_test

import (
	"crypto/rand"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"flowcam/stream/client/flowrecv"
	"flowcam/stream/format/multiflow"
	"flowcam/stream/server/flowsend"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// payloads is a frame of n payloads of size bytes.
type payloads [][]byte

func (p payloads) Len() int        { return len(p) }
func (p payloads) At(i int) []byte { return p[i] }

func frame(n, size int) payloads {
	out := make(payloads, n)
	for i := range out {
		out[i] = make([]byte, size)
		out[i][0] = byte(i)
	}
	return out
}

func listen(t *testing.T) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func addr(c net.PacketConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// pair is a Sender and a Receiver joined by n flows on loopback.
type pair struct {
	s      *flowsend.Sender
	r      *flowrecv.Receiver
	token  [16]byte
	server []net.PacketConn
	client []net.PacketConn
}

func newPair(t *testing.T, mode multiflow.Mode, n int) *pair {
	t.Helper()
	p := &pair{}
	rand.Read(p.token[:])
	var servers []netip.AddrPort
	for i := 0; i < n; i++ {
		sc, cc := listen(t), listen(t)
		p.server, p.client = append(p.server, sc), append(p.client, cc)
		servers = append(servers, addr(sc))
	}
	var err error
	p.s, err = flowsend.New(flowsend.Config{Session: "sess", Token: p.token, ExtID: multiflow.DefaultExtID, Mode: mode,
		SSRC: 0xCAFE, Conns: p.server})
	if err != nil {
		t.Fatal(err)
	}
	p.r, err = flowrecv.New(flowrecv.Config{Session: "sess", Token: p.token, ExtID: multiflow.DefaultExtID,
		ServerSSRC: 0xCAFE, Servers: servers, Conns: p.client})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.s.Close(); p.r.Close() })
	deadline := time.Now().Add(3 * time.Second)
	for p.r.Registered() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := p.r.Registered(); got != n {
		t.Fatalf("%d of %d flows registered", got, n)
	}
	return p
}

// stream sends frames for d at 25 fps and collects what arrives.
func (p *pair) stream(t *testing.T, d time.Duration) (got []flowrecv.Packet) {
	t.Helper()
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for pkt := range p.r.Packets() {
			mu.Lock()
			got = append(got, pkt)
			mu.Unlock()
		}
	}()
	h := rtp.Header{Version: 2, PayloadType: 26, SSRC: 0xCAFE}
	for end := time.Now().Add(d); time.Now().Before(end); {
		p.s.SendFrame(h, frame(20, 1000), time.Now())
		h.SequenceNumber += 20
		h.Timestamp += 3600
		time.Sleep(40 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	p.r.Close()
	<-done
	return got
}

func perFlow(pkts []flowrecv.Packet, n int) []int {
	out := make([]int, n)
	for _, p := range pkts {
		out[p.Flow]++
	}
	return out
}

func TestStripeOverLoopback(t *testing.T) {
	p := newPair(t, multiflow.Stripe, 2)
	got := p.stream(t, time.Second)
	counts := perFlow(got, 2)
	seen := map[uint16]bool{}
	for _, pkt := range got {
		if seen[pkt.SequenceNumber] {
			t.Fatalf("stripe delivered seq %d twice", pkt.SequenceNumber)
		}
		seen[pkt.SequenceNumber] = true
	}
	if counts[0] < 200 || counts[1] < 200 || len(seen) < 480 {
		t.Fatalf("per-flow packets %v, distinct %d", counts, len(seen))
	}
	st := p.s.Stats()
	if st.Flows[0].RTT <= 0 || st.Flows[1].RTT <= 0 {
		t.Fatalf("server measured no RTT: %+v", st.Flows)
	}
	for _, f := range p.r.Stats() {
		if f.Lost != 0 || f.RTT <= 0 {
			t.Fatalf("client flow stats %+v", f)
		}
	}
}

func TestDuplicateOverLoopback(t *testing.T) {
	p := newPair(t, multiflow.Duplicate, 3)
	got := p.stream(t, 500*time.Millisecond)
	counts := perFlow(got, 3)
	if counts[0] != counts[1] || counts[1] != counts[2] || counts[0] < 200 {
		t.Fatalf("duplicate delivered %v per flow", counts)
	}
}

func TestDeadFlowStopsCarrying(t *testing.T) {
	p := newPair(t, multiflow.Stripe, 2)
	if st := p.s.Stats(); !st.Flows[0].Usable || !st.Flows[1].Usable {
		t.Fatalf("registered flows not usable: %+v", st.Flows)
	}
	p.client[0].Close() // flow 0's path dies: no more reports on it
	deadline := time.Now().Add(2 * time.Second)
	for p.s.Stats().Flows[0].Usable && time.Now().Before(deadline) {
		p.s.SendFrame(rtp.Header{Version: 2}, frame(2, 100), time.Now())
		time.Sleep(10 * time.Millisecond)
	}
	st := p.s.Stats()
	if st.Flows[0].Usable || !st.Flows[1].Usable {
		t.Fatalf("after flow 0 died: %+v", st.Flows)
	}
	before, other := st.Flows[0].Packets, st.Flows[1].Packets
	p.s.SendFrame(rtp.Header{Version: 2}, frame(20, 100), time.Now())
	// The pacer sends it: wait for the live flow to have carried it all.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if p.s.Stats().Flows[1].Packets >= other+20 {
			break
		}
	}
	if st := p.s.Stats(); st.Flows[0].Packets != before || st.Flows[1].Packets < other+20 {
		t.Fatalf("a dead flow is still scheduled: %+v", st.Flows)
	}
}

func TestRegistrationSecurity(t *testing.T) {
	p := newPair(t, multiflow.Stripe, 1)
	server := net.UDPAddrFromAddrPort(addr(p.server[0]))
	attacker := listen(t)
	defer attacker.Close()
	send := func(pkt rtcp.Packet) {
		b, _ := pkt.Marshal()
		attacker.WriteTo(b, server)
	}
	// Wrong key.
	var wrong [16]byte
	send(&rtcp.ApplicationDefined{SubType: 0, Name: multiflow.NameRegister,
		Data: multiflow.RegistrationData(wrong, "sess", multiflow.NameRegister, multiflow.Registration{Counter: 1 << 62})})
	// Right key but a stale counter: a replay of an old registration.
	send(&rtcp.ApplicationDefined{SubType: 0, Name: multiflow.NameRegister,
		Data: multiflow.RegistrationData(p.token, "sess", multiflow.NameRegister, multiflow.Registration{Counter: 5})})
	// Right key, flow index swapped.
	send(&rtcp.ApplicationDefined{SubType: 0, Name: multiflow.NameRegister,
		Data: multiflow.RegistrationData(p.token, "sess", multiflow.NameRegister, multiflow.Registration{Flow: 3, Counter: 1 << 62})})
	// A report from an unregistered address.
	send(&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{SSRC: 0xCAFE, FractionLost: 255}}})
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		st := p.s.Stats()
		if st.Forged == 2 && st.Replayed == 1 && st.Spoofed == 1 {
			if st.Flows[0].Client != addr(p.client[0]).String() {
				t.Fatalf("flow moved to %s", st.Flows[0].Client)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("stats %+v", p.s.Stats())
}

func TestFlowMovesWithFreshRegistration(t *testing.T) {
	p := newPair(t, multiflow.Stripe, 1)
	moved := listen(t)
	defer moved.Close()
	// The client counts registrations up from its clock in nanoseconds;
	// an hour ahead of it is fresher than anything it has sent.
	reg := multiflow.Registration{Counter: uint64(time.Now().Add(time.Hour).UnixNano())}
	b, _ := (&rtcp.ApplicationDefined{Name: multiflow.NameRegister, Data: multiflow.RegistrationData(p.token, "sess", multiflow.NameRegister, reg)}).Marshal()
	moved.WriteTo(b, net.UDPAddrFromAddrPort(addr(p.server[0])))
	deadline := time.Now().Add(2 * time.Second)
	for p.s.Stats().Flows[0].Client != addr(moved).String() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := p.s.Stats().Flows[0].Client; got != addr(moved).String() {
		t.Fatalf("flow client %s, want %s (a NAT rebinding must follow a fresh registration)", got, addr(moved))
	}
}
