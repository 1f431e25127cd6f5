package flowsend_test

import (
	"crypto/rand"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"flowcam/internal/testutil/eventually"
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
	eventually.Wait(time.Minute, func() bool { return p.r.Registered() >= n })
	if got := p.r.Registered(); got != n {
		t.Fatalf("%d of %d flows registered", got, n)
	}
	return p
}

// stream sends frames of 20 packets at 25 fps and collects what arrives,
// until every packet of the frames the sender took has arrived and each
// flow has delivered all the sender put on it.
func (p *pair) stream(t *testing.T, frames int) (got []flowrecv.Packet) {
	t.Helper()
	var mu sync.Mutex
	done := make(chan struct{})
	seen := map[uint16]bool{}
	go func() {
		defer close(done)
		for pkt := range p.r.Packets() {
			mu.Lock()
			got = append(got, pkt)
			seen[pkt.SequenceNumber] = true
			mu.Unlock()
		}
	}()
	h := rtp.Header{Version: 2, PayloadType: 26, SSRC: 0xCAFE}
	var sent []uint16
	for range frames {
		if p.s.SendFrame(h, frame(20, 1000), time.Now(), false) {
			for k := range uint16(20) {
				sent = append(sent, h.SequenceNumber+k)
			}
		}
		h.SequenceNumber += 20
		h.Timestamp += 3600
		time.Sleep(40 * time.Millisecond) // paces the frames at 25 fps, as a camera would; not a synchronisation
	}
	arrived := func() bool {
		st := p.s.Stats()
		mu.Lock()
		defer mu.Unlock()
		for _, seq := range sent {
			if !seen[seq] {
				return false
			}
		}
		counts := perFlow(got, len(st.Flows))
		for i, f := range st.Flows {
			if uint64(counts[i]) < f.Packets {
				return false
			}
		}
		return true
	}
	if !eventually.Wait(time.Minute, arrived) {
		t.Errorf("not everything sent arrived: %d packets of %d frames taken; sender %+v", len(got), len(sent)/20, p.s.Stats().Flows)
	}
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
	got := p.stream(t, 25)
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
	got := p.stream(t, 13)
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
	// Traffic keeps flowing while the sender notices the silence.
	eventually.Wait(time.Minute, func() bool {
		if !p.s.Stats().Flows[0].Usable {
			return true
		}
		p.s.SendFrame(rtp.Header{Version: 2}, frame(2, 100), time.Now(), false)
		return false
	})
	st := p.s.Stats()
	if st.Flows[0].Usable || !st.Flows[1].Usable {
		t.Fatalf("after flow 0 died: %+v", st.Flows)
	}
	before, other := st.Flows[0].Packets, st.Flows[1].Packets
	p.s.SendFrame(rtp.Header{Version: 2}, frame(20, 100), time.Now(), false)
	// The pacer sends it: wait for the live flow to have carried it all.
	eventually.Wait(time.Minute, func() bool { return p.s.Stats().Flows[1].Packets >= other+20 })
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
	counted := func() bool {
		st := p.s.Stats()
		return st.Forged >= 2 && st.Replayed >= 1 && st.Spoofed >= 1
	}
	eventually.Wait(time.Minute, counted)
	st := p.s.Stats()
	if st.Forged != 2 || st.Replayed != 1 || st.Spoofed != 1 {
		t.Fatalf("stats %+v", st)
	}
	if st.Flows[0].Client != addr(p.client[0]).String() {
		t.Fatalf("flow moved to %s", st.Flows[0].Client)
	}
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
	eventually.Wait(time.Minute, func() bool { return p.s.Stats().Flows[0].Client == addr(moved).String() })
	if got := p.s.Stats().Flows[0].Client; got != addr(moved).String() {
		t.Fatalf("flow client %s, want %s (a NAT rebinding must follow a fresh registration)", got, addr(moved))
	}
}
