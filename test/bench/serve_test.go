package bench_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/pion/rtp"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/player"
)

// manyClients is the loaded case: half play over UDP, half over TCP.
const manyClients = 20

// counter counts what one receiver got. Receivers only count: decoding
// would cost the test process CPU and tell nothing about the sender.
type counter struct{ packets, frames, lost atomic.Uint64 }

func (c *counter) add(marker bool) {
	c.packets.Add(1)
	if marker { // the last packet of every RTP/JPEG frame carries the marker
		c.frames.Add(1)
	}
}

// measured is a process whose CPU is read over each window, with the
// receivers of what it sends.
type measured struct {
	name      string
	cpu       func() (time.Duration, error)
	receivers []*counter
	stop      func() // ends a peer and its receiver; idempotent, nil for the daemon
}

// servingFig is one process's figures over `runs` windows.
type servingFig struct {
	name   string
	cpuPct []float64  // CPU time per window as % of one core
	frames [][]uint64 // per window, frames each receiver got
}

func (f servingFig) pct() float64    { return median(f.cpuPct) }
func (f servingFig) perMin() float64 { return f.pct() / 100 * 60 } // CPU seconds per minute
func (f servingFig) framesRange() string {
	var all []uint64
	for _, w := range f.frames {
		all = append(all, w...)
	}
	if len(all) == 0 {
		return "-"
	}
	return fmt.Sprintf("%d..%d", slices.Min(all), slices.Max(all))
}

// servingReport is the serving cost of flowcamd by client count and of the
// one-client peers.
type servingReport struct {
	idle, one, many servingFig
	gst, ff         servingFig
	windowSec       float64
	ffmpegQ         int
	ffVer           string
	peer            peerPicture
}

// measureServing runs flowcamd with 0, 1 and manyClients clients, and the
// GStreamer and ffmpeg peers beside the one-client case.
func measureServing(t *testing.T, dir string, ffmpegQ int, peer peerPicture) servingReport {
	bin, err := daemon.Binary(dir)
	if err != nil {
		t.Fatalf("flowcamd binary: %v", err)
	}
	var rep servingReport
	rep.idle = serveScenario(t, bin, 0, nil)[0]
	// The peers run in the same windows as the one-client daemon: CPU time
	// is per process and the three together use well under one of the
	// cores, so sharing the windows costs no accuracy and saves a minute.
	figs := serveScenario(t, bin, 1, func() []*measured {
		return []*measured{startGst(t, peer.pattern), startFFmpegRTP(t, ffmpegQ)}
	})
	rep.one, rep.gst, rep.ff = figs[0], figs[1], figs[2]
	rep.many = serveScenario(t, bin, manyClients, nil)[0]
	rep.windowSec, rep.ffmpegQ, rep.peer = window.Seconds(), ffmpegQ, peer
	rep.ffVer = version(`ffmpeg version (?:n)?([0-9.]+)`, "ffmpeg", "-version")
	return rep
}

// serveScenario starts one daemon with n clients (and any peers), warms up,
// then measures `runs` consecutive windows. The daemon's figures come first.
func serveScenario(t *testing.T, bin string, n int, peers func() []*measured) []servingFig {
	d, err := daemon.Start(bin, "--source", "pattern", "--size", fmt.Sprintf("%dx%d", width, height),
		"--fps", strconv.Itoa(fps), "--quality", strconv.Itoa(quality), "--mtu", strconv.Itoa(mtu))
	if err != nil {
		t.Fatalf("starting flowcamd: %v", err)
	}
	stopDaemon := sync.OnceFunc(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("stopping flowcamd: %v\n%s", err, d.Logs())
		}
	})
	t.Cleanup(stopDaemon)
	defer stopDaemon() // free the cores before the next scenario

	var name string
	switch n {
	case 0:
		name = "flowcamd idle (capture+encode, 0 clients)"
	case 1:
		name = "flowcamd 1 client (UDP)"
	default:
		name = fmt.Sprintf("flowcamd %d clients (%d UDP + %d TCP)", n, (n+1)/2, n/2)
	}
	self := &measured{name: name, cpu: d.CPUTime}
	for i := range n {
		tr := gortsplib.TransportUDP
		if i%2 == 1 {
			tr = gortsplib.TransportTCP
		}
		c, cnt, err := playCounting(d.URL("/cam"), tr)
		if err != nil {
			t.Fatalf("client %d (%v): %v\nflowcamd log:\n%s", i, tr, err, d.Logs())
		}
		closeClient := sync.OnceFunc(c.Close)
		t.Cleanup(closeClient)
		defer closeClient()
		self.receivers = append(self.receivers, cnt)
	}
	all := []*measured{self}
	if peers != nil {
		for _, p := range peers() {
			defer p.stop() // peers stop with their scenario, not at the end of the test
			all = append(all, p)
		}
	}

	time.Sleep(warmUp)
	figs := make([]servingFig, len(all))
	for i, m := range all {
		figs[i].name = m.name
	}
	for w := range runs {
		if err := measureWindow(t, all, figs, w+1); err != nil {
			t.Fatalf("%v\nflowcamd log:\n%s", err, d.Logs())
		}
	}
	return figs
}

// measureWindow reads every process's CPU and every receiver's frame count
// before and after one window and appends the differences to figs.
func measureWindow(t *testing.T, all []*measured, figs []servingFig, n int) error {
	cpu0 := make([]time.Duration, len(all))
	frames0 := make([][]uint64, len(all))
	for i, m := range all {
		c, err := m.cpu()
		if err != nil {
			return fmt.Errorf("%s: reading CPU time (did it exit?): %w", m.name, err)
		}
		cpu0[i], frames0[i] = c, frameCounts(m.receivers)
	}
	start := time.Now()
	time.Sleep(window)
	elapsed := time.Since(start)
	for i, m := range all {
		c, err := m.cpu()
		if err != nil {
			return fmt.Errorf("%s: reading CPU time (did it exit?): %w", m.name, err)
		}
		frames := frameCounts(m.receivers)
		for j := range frames {
			frames[j] -= frames0[i][j]
			// Not a time: a receiver that got nothing means the figure
			// measured a sender that was not sending.
			if frames[j] == 0 {
				t.Errorf("%s: receiver %d got no frames in window %d", m.name, j, n)
			}
		}
		pct := 100 * float64(c-cpu0[i]) / float64(elapsed)
		figs[i].cpuPct = append(figs[i].cpuPct, pct)
		figs[i].frames = append(figs[i].frames, frames)
		got := "-"
		if len(frames) > 0 {
			got = fmt.Sprintf("%d..%d", slices.Min(frames), slices.Max(frames))
		}
		t.Logf("serve window %d, %s: CPU %v over %v = %.1f%% of one core; frames per receiver %s (%.0f sent), loss events so far %d",
			n, m.name, (c - cpu0[i]).Round(time.Millisecond), elapsed.Round(time.Millisecond), pct, got,
			elapsed.Seconds()*fps, lostCount(m.receivers))
	}
	return nil
}

// lostCount totals the packet-loss events the receivers noticed.
func lostCount(cs []*counter) (n uint64) {
	for _, c := range cs {
		n += c.lost.Load()
	}
	return n
}

func frameCounts(cs []*counter) []uint64 {
	out := make([]uint64, len(cs))
	for i, c := range cs {
		out[i] = c.frames.Load()
	}
	return out
}

// playCounting plays url with gortsplib over tr and counts RTP packets,
// frames and sequence gaps (lost packets).
func playCounting(url string, tr gortsplib.Transport) (*gortsplib.Client, *counter, error) {
	cnt := &counter{}
	var last uint16
	started := false
	c, err := player.Play(url, tr, func(p *rtp.Packet) {
		if started && p.SequenceNumber != last+1 {
			cnt.lost.Add(uint64(p.SequenceNumber - last - 1))
		}
		last, started = p.SequenceNumber, true
		cnt.add(p.Marker)
	}, nil)
	return c, cnt, err
}

// startGst runs the GStreamer peer: it encodes a picture of about the same
// JPEG size at the same size, rate and quality and sends RTP/JPEG to one
// receiver.
func startGst(t *testing.T, pattern string) *measured {
	sink := newUDPSink(t)
	m := startPeer(t, "gst videotestsrc!jpegenc!rtpjpegpay!udpsink", "gst-launch-1.0", "-q",
		"videotestsrc", "is-live=true", "pattern="+pattern, "!", gstCaps, "!",
		"jpegenc", "quality="+strconv.Itoa(quality), "!", "rtpjpegpay", "!",
		"udpsink", "host=127.0.0.1", "port="+strconv.Itoa(sink.port))
	m.receivers = []*counter{&sink.counter}
	stopPeer := m.stop
	m.stop = func() { stopPeer(); sink.close() }
	return m
}

// startFFmpegRTP runs the ffmpeg peer at the -q:v that matched our JPEG size.
func startFFmpegRTP(t *testing.T, q int) *measured {
	sink := newUDPSink(t)
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-v", "error", "-re",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", width, height, fps)}
	args = append(args, ffmpegMJPEG...)
	args = append(args, "-q:v", strconv.Itoa(q), "-f", "rtp", fmt.Sprintf("rtp://127.0.0.1:%d", sink.port))
	m := startPeer(t, fmt.Sprintf("ffmpeg testsrc2 mjpeg -q:v %d -f rtp", q), "ffmpeg", args...)
	m.receivers = []*counter{&sink.counter}
	stopPeer := m.stop
	m.stop = func() { stopPeer(); sink.close() }
	return m
}

// startPeer starts a reference sender and kills it (by its own pid) when
// the test ends; its CPU is read from /proc like the daemon's.
func startPeer(t *testing.T, name, bin string, args ...string) *measured {
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer // one writer for both: exec serialises its writes
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := sync.OnceFunc(func() {
		cmd.Process.Kill()
		<-exited
	})
	t.Cleanup(stop)
	cpu := func() (time.Duration, error) {
		select {
		case <-exited:
			return 0, fmt.Errorf("%s exited: %v\n%s", bin, waitErr, out.String())
		default:
		}
		return daemon.ProcessCPU(cmd.Process.Pid)
	}
	return &measured{name: "peer: " + name, cpu: cpu, stop: stop}
}

// udpSink receives a peer's RTP on port and its RTCP on port+1, so the
// peer's packets land somewhere (no ICMP errors) and can be counted.
type udpSink struct {
	counter
	port  int
	close func() // idempotent
}

func newUDPSink(t *testing.T) *udpSink {
	rtpConn, rtcpConn, err := listenUDPPair()
	if err != nil {
		t.Fatalf("UDP sink for a peer: %v", err)
	}
	s := &udpSink{port: rtpConn.LocalAddr().(*net.UDPAddr).Port}
	s.close = sync.OnceFunc(func() {
		rtpConn.Close()
		rtcpConn.Close()
	})
	t.Cleanup(s.close)
	go s.drain(rtpConn, true)
	go s.drain(rtcpConn, false)
	return s
}

// drain reads until the socket is closed, counting RTP packets and frames.
func (s *udpSink) drain(c net.PacketConn, isRTP bool) {
	buf := make([]byte, 65536)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		if isRTP && n >= 12 {
			s.add(buf[1]&0x80 != 0)
		}
	}
}

// listenUDPPair opens an even RTP port and the RTCP port above it.
func listenUDPPair() (rtpConn, rtcpConn net.PacketConn, err error) {
	for range 100 {
		a, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("listen udp: %w", err)
		}
		port := a.LocalAddr().(*net.UDPAddr).Port
		if port%2 == 0 {
			b, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port+1))
			if err == nil {
				return a, b, nil
			}
		}
		a.Close()
	}
	return nil, nil, errors.New("no free even/odd UDP port pair on 127.0.0.1")
}

// table prints the serving rows; peers are compared to flowcamd's
// one-client cost.
func (r servingReport) table() string {
	gstVer := version(`GStreamer ([0-9.]+)`, "gst-launch-1.0", "--version")
	tb := newTable(fmt.Sprintf("serve %dx%d@%d q%d, CPU over %.0f s windows", width, height, fps, quality, r.windowSec),
		"CPU s/min", "% of one core", "CPU vs flowcamd 1 client", "frames/receiver/window")
	add := func(f servingFig, name string) {
		tb.row(name, f2(f.perMin()), f1(f.pct()), ratio(f.pct(), r.one.pct()), f.framesRange())
	}
	add(r.idle, r.idle.name)
	add(r.one, r.one.name)
	add(r.many, r.many.name)
	add(r.gst, fmt.Sprintf("peer: GStreamer %s %s jpegenc quality=%d", gstVer, r.peer.pattern, quality))
	add(r.ff, fmt.Sprintf("peer: ffmpeg %s mjpeg -q:v %d -f rtp", r.ffVer, r.ffmpegQ))
	perClient := (r.many.perMin() - r.idle.perMin()) / manyClients
	return tb.String() + fmt.Sprintf(
		"Each added client costs flowcamd %.2f CPU s/min (%d clients vs idle); %.0f frames are sent per window.\n"+
			"Peers encode their own test source at the same size, rate and quality, and about the same bytes a frame, and send\n"+
			"RTP/JPEG to one UDP receiver; they ran in the same windows as flowcamd's 1-client case, so their\n"+
			"\"CPU vs flowcamd\" reads as \"this peer uses N times flowcamd's CPU for one viewer\".\n",
		perClient, manyClients, r.windowSec*fps) + r.peer.String()
}
