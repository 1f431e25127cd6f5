package hostile_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/rawrtsp"
	"flowcam/stream/format/rtsp"
)

// fuzz sends fuzzRequests mutated requests over many connections, 8 at a
// time (each worker from its own loopback address, so mutated SETUPs that
// succeed fill only that address's session quota), at most 20 per
// connection (within the rate limit's burst). Half the connections first
// set up a real TCP session, so mutated requests can name it. Each connection's requests go out in one write, then the
// write side closes: every response must be a well-formed RTSP response
// with a 2xx, 4xx or 5xx status other than 500, and the server must close
// the connection after the last answer, none may hang.
func fuzz(t *testing.T, d *daemon.Daemon, seed int64) {
	const workers = 8
	type job struct {
		seed int64
		n    int
	}
	jobs := make(chan job)
	go func() {
		master := rand.New(rand.NewSource(seed))
		for total := 0; total < fuzzRequests; {
			n := min(1+master.Intn(20), fuzzRequests-total)
			jobs <- job{master.Int63(), n}
			total += n
		}
		close(jobs)
	}()
	var (
		mu        sync.Mutex
		statuses  = map[int]int{}
		problems  []string
		conns     int
		responses int
		sessions  int
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip := fmt.Sprintf("127.0.1.%d", w+1)
			for j := range jobs {
				st, sess, err := fuzzConn(d, ip, j.seed, j.n)
				mu.Lock()
				conns++
				sessions += sess
				for s, n := range st {
					statuses[s] += n
					responses += n
				}
				mu.Unlock()
				if err != nil {
					problem("connection seed %d: %v", j.seed, err)
				}
			}
		}()
	}
	wg.Wait()
	var codes []int
	for s := range statuses {
		codes = append(codes, s)
	}
	sort.Ints(codes)
	var hist []string
	for _, s := range codes {
		hist = append(hist, fmt.Sprintf("%d×%d", s, statuses[s]))
	}
	t.Logf("%d mutated requests over %d connections (%d with a real session): %d responses: %s",
		fuzzRequests, conns, sessions, responses, strings.Join(hist, " "))
	for i, p := range problems {
		if i == 10 {
			t.Errorf("... and %d more", len(problems)-10)
			break
		}
		t.Error(p)
	}
}

// fuzzConn runs one fuzz connection and returns the statuses it got.
func fuzzConn(d *daemon.Daemon, ip string, seed int64, n int) (map[int]int, int, error) {
	g := &gen{r: rand.New(rand.NewSource(seed)), url: d.URL("/cam")}
	c, err := dialFrom(ip, d.Addr)
	if err != nil {
		return nil, 0, err
	}
	defer c.Close()
	statuses := map[int]int{}
	real := 0
	setupFirst := g.r.Intn(2) == 0
	if setupFirst {
		tr := "RTP/AVP/TCP;unicast;interleaved=0-1"
		res, err := c.do(rtsp.Setup, d.URL("/cam/trackID=0"), rtsp.Field{Name: "Transport", Value: tr})
		if err != nil {
			return statuses, 0, fmt.Errorf("valid SETUP: %v", err)
		}
		statuses[res.Status]++
		if res.Status == 200 {
			if sh, err := rtsp.ParseSession(res.Header.Get("Session")); err == nil {
				g.session, real = sh.ID, 1
			}
		} else if res.Status != 453 {
			return statuses, 0, fmt.Errorf("valid SETUP: %d %s", res.Status, res.Reason)
		}
		g.cseq = c.cseq
	}
	var reqs bytes.Buffer
	for i := 0; i < n; i++ {
		reqs.WriteString(g.request())
	}
	// A connection whose first line the fuzzer turned into an HTTP request
	// (GET or POST ... HTTP/1.x) is an RTSP-over-HTTP tunnel attempt, and
	// the server rightly answers it in HTTP.
	tunnel := !setupFirst && startsHTTP(reqs.Bytes())
	type result struct {
		err error
	}
	done := make(chan result, 1)
	go func() {
		// After the write side closes the server has all it will get:
		// request_timeout is the longest it may wait for the rest of a
		// request, so 10 s without an answer or a close is a hang.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			res, f, err := c.r.ReadResponse()
			if f != nil && err == nil {
				continue // media of a session the requests started
			}
			if err != nil {
				var pe *rtsp.ProtocolError
				switch {
				case isReset(err):
					done <- result{}
				case isTimeout(err):
					done <- result{fmt.Errorf("hang: no answer and no close within 10 s (requests %q)", abbrev(reqs.String()))}
				case errors.As(err, &pe) && tunnel && strings.Contains(err.Error(), `"HTTP/1.0 `):
					done <- result{}
				case errors.As(err, &pe):
					done <- result{fmt.Errorf("malformed response: %v (requests %q)", err, abbrev(reqs.String()))}
				default:
					done <- result{fmt.Errorf("read: %v", err)}
				}
				return
			}
			statuses[res.Status]++
			if res.Status < 200 || res.Status >= 600 || (res.Status >= 300 && res.Status < 400) || res.Status == 500 {
				done <- result{fmt.Errorf("status %d %s (requests %q)", res.Status, res.Reason, abbrev(reqs.String()))}
				return
			}
		}
	}()
	c.Write(reqs.Bytes()) // the server may close first: that is an answer too
	c.Conn.(*net.TCPConn).CloseWrite()
	r := <-done
	return statuses, real, r.err
}

// startsHTTP reports whether b's first line is an HTTP request line, as
// the server's tunnel detection sees it.
func startsHTTP(b []byte) bool {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	l := strings.TrimRight(string(line), "\r")
	return (strings.HasPrefix(l, "GET ") || strings.HasPrefix(l, "POST ")) &&
		(strings.HasSuffix(l, " HTTP/1.0") || strings.HasSuffix(l, " HTTP/1.1"))
}

func abbrev(s string) string {
	if len(s) > 300 {
		return s[:300] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// oversized: each limit on a request's size gets its status, and the
// connection is closed when the byte stream cannot be framed any more
// (Connection: close) or stays usable when it can.
func oversized(t *testing.T, d *daemon.Daemon) {
	many := func(n, size int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "X-H%d: %s\r\n", i, strings.Repeat("h", size))
		}
		return b.String()
	}
	cases := []struct {
		name, data string
		status     int
		fatal      bool
	}{
		{"request line over max_line_bytes", "OPTIONS rtsp://127.0.0.1/" + strings.Repeat("x", 10000) + " RTSP/1.0\r\nCSeq: 1\r\n\r\n", 414, true},
		{"header line over max_line_bytes", "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Big: " + strings.Repeat("y", 5000) + "\r\n\r\n", 400, true},
		{"headers over max_header_bytes", "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n" + many(6, 3000) + "\r\n", 400, true},
		{"too many header lines", "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n" + many(100, 1) + "\r\n", 400, true},
		{"body over max_body_bytes", "SET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 65537\r\n\r\n" + strings.Repeat("b", 65537), 413, true},
		{"huge Content-Length", "SET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400, true},
		{"negative Content-Length", "SET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -1\r\n\r\n", 400, true},
		{"body at max_body_bytes", "SET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 65536\r\n\r\n" + strings.Repeat("b", 65536), 451, false},
		{"malformed request line", "HELLO\r\nCSeq: 1\r\n\r\n", 400, false},
		{"malformed header line", "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nno colon here\r\n\r\n", 400, false},
		{"unknown version", "OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n", 505, false},
	}
	for _, tc := range cases {
		c := dial(t, sizeIP, d.Addr)
		go c.Write([]byte(tc.data)) // the server may stop reading midway
		res, err := c.read(5 * time.Second)
		switch {
		case err != nil:
			t.Errorf("%s: %v, want %d", tc.name, err, tc.status)
		case res.Status != tc.status:
			t.Errorf("%s: %d %s, want %d", tc.name, res.Status, res.Reason, tc.status)
		case tc.fatal && !strings.EqualFold(res.Header.Get("Connection"), "close"):
			t.Errorf("%s: %d without Connection: close", tc.name, res.Status)
		case tc.fatal:
			if err := c.closedWithin(5 * time.Second); err != nil {
				t.Errorf("%s: %d but the connection stays open: %v", tc.name, res.Status, err)
			}
		default:
			if res, err := c.do(rtsp.Options, "*"); err != nil || res.Status != 200 {
				t.Errorf("%s: the connection is not usable after %d: %v %v", tc.name, tc.status, res, err)
			}
		}
		c.Close()
	}
}

// slowloris: requests dribbled in must be cut off once request_timeout
// passes after their first byte, long before they complete; a connection
// that says nothing, before or between requests, is closed after
// idle_timeout.
func slowloris(t *testing.T, d *daemon.Daemon) {
	req := "OPTIONS " + d.URL("/cam") + " RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: slowloris/1.0\r\nX-Padding: " + strings.Repeat("p", 20) + "\r\n\r\n"
	var lines []string
	lines = append(lines, "OPTIONS * RTSP/1.0\r\n", "CSeq: 1\r\n")
	for i := 0; i < 20; i++ {
		lines = append(lines, fmt.Sprintf("X-Slow-%d: 1\r\n", i))
	}
	lines = append(lines, "\r\n")
	var bytesOf []string
	for i := range req {
		bytesOf = append(bytesOf, req[i:i+1])
	}
	// Byte by byte every 100 ms and line by line every 300 ms: 9 s and
	// 7 s to complete, many times request_timeout.
	dribbles := []struct {
		name   string
		pieces []string
		every  time.Duration
	}{
		{"bytes", bytesOf, 100 * time.Millisecond},
		{"bytes-2", bytesOf, 100 * time.Millisecond},
		{"lines", lines, 300 * time.Millisecond},
	}
	var wg sync.WaitGroup
	for _, dr := range dribbles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialFrom(slowIP, d.Addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			closed := make(chan error, 1)
			go func() { closed <- c.closedWithin(30 * time.Second) }()
			sent := 0
			for _, p := range dr.pieces {
				select {
				case err := <-closed:
					if err != nil {
						t.Errorf("slowloris %s: %v", dr.name, err)
					} else {
						t.Logf("slowloris %s: closed by the server after %d of %d pieces", dr.name, sent, len(dr.pieces))
					}
					return
				case <-time.After(dr.every):
				}
				if _, err := c.Write([]byte(p)); err != nil {
					t.Logf("slowloris %s: write refused after %d of %d pieces", dr.name, sent, len(dr.pieces))
					return
				}
				sent++
			}
			t.Errorf("slowloris %s: the whole request dribbled in over %v without the server closing", dr.name, time.Duration(len(dr.pieces))*dr.every)
		}()
	}
	for _, first := range []bool{false, true} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialFrom(slowIP, d.Addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			name := "silent connection"
			if first {
				name = "silent after one request"
				if res, err := c.do(rtsp.Options, "*"); err != nil || res.Status != 200 {
					t.Errorf("%s: OPTIONS: %v %v", name, res, err)
				}
			}
			if err := c.closedWithin(idleTimeout + 10*time.Second); err != nil {
				t.Errorf("%s: not closed after idle_timeout: %v", name, err)
			}
		}()
	}
	wg.Wait()
}

// cycles: 500 connections opened and dropped in every way: at once, with
// a reset, after a request, in the middle of one, while playing.
func cycles(t *testing.T, d *daemon.Daemon) {
	const n, workers = 500, 4
	var mu sync.Mutex
	var fails []string
	refused := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				err := cycle(d, i%5)
				mu.Lock()
				if errors.Is(err, errRefused) {
					refused++
				} else if err != nil {
					fails = append(fails, fmt.Sprintf("cycle %d (kind %d): %v", i, i%5, err))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d connect/disconnect cycles; %d sessions refused with 453 (a previous cycle's still closing)", n, refused)
	for i, f := range fails {
		if i == 10 {
			t.Errorf("... and %d more", len(fails)-10)
			break
		}
		t.Error(f)
	}
}

var errRefused = errors.New("453")

func cycle(d *daemon.Daemon, kind int) error {
	c, err := dialFrom(cycleIP, d.Addr)
	if err != nil {
		return err
	}
	defer c.Close()
	reset := func() { c.Conn.(*net.TCPConn).SetLinger(0) }
	switch kind {
	case 0:
	case 1:
		reset()
	case 2:
		res, err := c.do(rtsp.Options, "*")
		if err != nil || res.Status != 200 {
			return fmt.Errorf("OPTIONS: %v %v", res, err)
		}
	case 3:
		c.Write([]byte("DESCRIBE " + d.URL("/cam") + " RTSP/1.0\r\nCSe"))
		reset()
	case 4:
		res, err := c.do(rtsp.Setup, d.URL("/cam/trackID=0"), rtsp.Field{Name: "Transport", Value: "RTP/AVP/TCP;unicast;interleaved=0-1"})
		if err != nil {
			return fmt.Errorf("SETUP: %v", err)
		}
		if res.Status == 453 {
			return errRefused
		}
		sh, err := rtsp.ParseSession(res.Header.Get("Session"))
		if res.Status != 200 || err != nil {
			return fmt.Errorf("SETUP: %d %v", res.Status, err)
		}
		if res, err := c.do(rtsp.Play, d.URL("/cam"), rtsp.Field{Name: "Session", Value: sh.ID}); err != nil || res.Status != 200 {
			return fmt.Errorf("PLAY: %v %v", res, err)
		}
		reset()
	}
	return nil
}

// vanish: viewers that SETUP and PLAY and go away without TEARDOWN, over
// UDP (control connection closed, or left open and silent) and TCP
// (reset, or left open but no longer reading). It returns the sockets
// left open; the caller checks every session is reaped before closing
// them.
func vanish(t *testing.T, d *daemon.Daemon) []net.Conn {
	var open []net.Conn
	for i := 0; i < 4; i++ {
		c := dial(t, vanishUDP, d.Addr)
		u, err := rawrtsp.ListenUDPOn(net.ParseIP(vanishUDP))
		if err != nil {
			t.Fatal(err)
		}
		id, tr := setupPlay(t, c, d, u.Transport())
		if tr.ServerPorts[0] < udpLo || tr.ServerPorts[1] > udpHi || tr.ServerPorts[1] != tr.ServerPorts[0]+1 {
			t.Errorf("server ports %v outside udp_ports %d-%d", tr.ServerPorts, udpLo, udpHi)
		}
		if _, err := u.Frames(1, time.Minute); err != nil {
			t.Errorf("UDP viewer %s got no frame: %v", id, err)
		}
		u.Close()
		if i%2 == 0 {
			c.Close()
		} else {
			open = append(open, c.Conn)
		}
	}
	for i := 0; i < 4; i++ {
		c := dial(t, vanishTCP, d.Addr)
		setupPlay(t, c, d, fmt.Sprintf("RTP/AVP/TCP;unicast;interleaved=%d-%d", 2*i, 2*i+1))
		if _, err := c.read(300 * time.Millisecond); err != nil && !isTimeout(err) {
			t.Errorf("TCP viewer: %v", err)
		}
		if i%2 == 0 {
			c.Conn.(*net.TCPConn).SetLinger(0)
			c.Close()
		} else {
			open = append(open, c.Conn) // stops reading; the server's writes block
		}
	}
	return open
}

func setupPlay(t *testing.T, c *client, d *daemon.Daemon, transport string) (string, rtsp.Transport) {
	t.Helper()
	res, err := c.do(rtsp.Setup, d.URL("/cam/trackID=0"), rtsp.Field{Name: "Transport", Value: transport})
	if err != nil || res.Status != 200 {
		t.Fatalf("SETUP %s: %v %v", transport, res, err)
	}
	sh, err := rtsp.ParseSession(res.Header.Get("Session"))
	if err != nil {
		t.Fatal(err)
	}
	trs, err := rtsp.ParseTransports(res.Header.Get("Transport"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c.do(rtsp.Play, d.URL("/cam"), rtsp.Field{Name: "Session", Value: sh.ID}); err != nil || res.Status != 200 {
		t.Fatalf("PLAY: %v %v", res, err)
	}
	return sh.ID, trs[0]
}

// spoof: RTCP and junk sent to a UDP session's server ports from addresses
// other than its client's must not change what the session reports, nor
// end it, while the same report from the client does count.
func spoof(t *testing.T, d *daemon.Daemon) {
	c := dial(t, spoofOwner, d.Addr)
	defer c.Close()
	u, err := rawrtsp.ListenUDPOn(net.ParseIP(spoofOwner))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	res, err := c.do(rtsp.Setup, d.URL("/cam/trackID=0"), rtsp.Field{Name: "Transport", Value: u.Transport()})
	if err != nil || res.Status != 200 {
		t.Fatalf("SETUP: %v %v", res, err)
	}
	sh, _ := rtsp.ParseSession(res.Header.Get("Session"))
	trs, err := rtsp.ParseTransports(res.Header.Get("Transport"))
	if err != nil || !trs[0].HasSSRC {
		t.Fatalf("Transport reply %q: %v", res.Header.Get("Transport"), err)
	}
	ssrc, ports := trs[0].SSRC, trs[0].ServerPorts
	session := rtsp.Field{Name: "Session", Value: sh.ID}
	if res, err := c.do(rtsp.Play, d.URL("/cam"), session); err != nil || res.Status != 200 {
		t.Fatalf("PLAY: %v %v", res, err)
	}
	// The owner keeps its session alive over RTSP (session_timeout is 3 s).
	stop := make(chan struct{})
	kept := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				kept <- nil
				return
			case <-time.After(time.Second): // the keep-alive interval: pacing, not synchronisation
			}
			if res, err := c.do(rtsp.GetParameter, d.URL("/cam"), session); err != nil || res.Status != 200 {
				kept <- fmt.Errorf("keep-alive: %v %v", res, err)
				return
			}
		}
	}()
	rr := func(lost uint32) []byte {
		b, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 0x5eed, Reports: []rtcp.ReceptionReport{
			{SSRC: ssrc, FractionLost: 200, TotalLost: lost, Jitter: 123456, LastSenderReport: 1, Delay: 1}}}})
		return b
	}
	bye, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.Goodbye{Sources: []uint32{0x5eed, ssrc}}})
	junk := rand.New(rand.NewSource(1))
	for _, from := range []string{spoofer, "127.0.0.1"} {
		pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 200; i++ {
			pkt := rr(99999)
			switch i % 4 {
			case 1:
				pkt = bye
			case 2:
				pkt = make([]byte, 1+junk.Intn(1400))
				junk.Read(pkt)
			}
			for _, p := range ports {
				pc.WriteToUDP(pkt, &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: p})
			}
		}
		pc.Close()
	}
	// Not synchronisation but a chance for something that must not happen:
	// nothing the daemon exposes counts the spoofed datagrams it has read
	// (status.json has no spoofed counter), so it gets a moment to act on
	// them before its stats are checked unchanged. Under load this can only
	// miss a regression, never fail a correct daemon.
	time.Sleep(500 * time.Millisecond)
	st, ok := findSession(t, d, sh.ID)
	switch {
	case !ok:
		t.Errorf("spoofed RTCP (a BYE among it) ended the session")
	case st.TotalLost != 0 || st.FractionLost != 0 || st.Jitter != 0:
		t.Errorf("spoofed receiver reports changed the session's stats: %+v", st)
	case !st.Playing:
		t.Errorf("the session stopped playing after spoofed RTCP")
	}
	// It goes on sending: its frame count rises, and packets reach the
	// client.
	if ok && !eventually.Wait(time.Minute, func() bool {
		now, found := findSession(t, d, sh.ID)
		return found && now.Frames > st.Frames
	}) {
		t.Errorf("the session sent no frame after spoofed RTCP")
	}
	if _, err := u.Frames(1, time.Minute); err != nil {
		t.Errorf("the client received nothing after spoofed RTCP: %v", err)
	}
	// The same report from the client itself is taken.
	u.RTCP.WriteToUDP(rr(7), &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: ports[1]})
	var got sessionStatus
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if got, _ = findSession(t, d, sh.ID); got.TotalLost == 7 {
			break
		}
	}
	if got.TotalLost != 7 {
		t.Errorf("the client's own receiver report was not taken: %+v", got)
	}
	close(stop)
	if err := <-kept; err != nil {
		t.Error(err)
	}
	if res, err := c.do(rtsp.Teardown, d.URL("/cam"), session); err != nil || res.Status != 200 {
		t.Errorf("TEARDOWN: %v %v", res, err)
	}
}

func findSession(t *testing.T, d *daemon.Daemon, id string) (sessionStatus, bool) {
	for _, s := range sessions(t, d) {
		if s.ID == id {
			return s, true
		}
	}
	return sessionStatus{}, false
}

// sessionLimit: past max_sessions_per_ip, SETUP gets 453 on any
// connection from that address; a TEARDOWN makes room again.
func sessionLimit(t *testing.T, d *daemon.Daemon) {
	c := dial(t, sessIP, d.Addr)
	defer c.Close()
	tcp := func(ch int) rtsp.Field {
		return rtsp.Field{Name: "Transport", Value: fmt.Sprintf("RTP/AVP/TCP;unicast;interleaved=%d-%d", ch, ch+1)}
	}
	var ids []string
	for i := 0; i < perIPSessions; i++ {
		res, err := c.do(rtsp.Setup, d.URL("/cam/trackID=0"), tcp(2*i))
		if err != nil || res.Status != 200 {
			t.Fatalf("SETUP %d of %d: %v %v", i+1, perIPSessions, res, err)
		}
		sh, _ := rtsp.ParseSession(res.Header.Get("Session"))
		ids = append(ids, sh.ID)
	}
	if res, err := c.do(rtsp.Setup, d.URL("/cam/trackID=0"), tcp(2*perIPSessions)); err != nil || res.Status != 453 {
		t.Errorf("SETUP past max_sessions_per_ip: %v %v, want 453", res, err)
	}
	c2 := dial(t, sessIP, d.Addr)
	defer c2.Close()
	u, err := rawrtsp.ListenUDPOn(net.ParseIP(sessIP))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if res, err := c2.do(rtsp.Setup, d.URL("/cam/trackID=0"), rtsp.Field{Name: "Transport", Value: u.Transport()}); err != nil || res.Status != 453 {
		t.Errorf("UDP SETUP past max_sessions_per_ip on a second connection: %v %v, want 453", res, err)
	}
	if res, err := c.do(rtsp.Teardown, d.URL("/cam"), rtsp.Field{Name: "Session", Value: ids[0]}); err != nil || res.Status != 200 {
		t.Fatalf("TEARDOWN: %v %v", res, err)
	}
	if res, err := c2.do(rtsp.Setup, d.URL("/cam/trackID=0"), rtsp.Field{Name: "Transport", Value: u.Transport()}); err != nil || res.Status != 200 {
		t.Errorf("SETUP after a TEARDOWN made room: %v %v, want 200", res, err)
	}
}

// connectionLimit: past max_connections_per_ip a new connection is closed
// without an answer; closing one makes room again.
func connectionLimit(t *testing.T, d *daemon.Daemon) {
	var conns []*client
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < perIPConns; i++ {
		c := dial(t, connIP, d.Addr)
		conns = append(conns, c)
		if res, err := c.do(rtsp.Options, "*"); err != nil || res.Status != 200 {
			t.Fatalf("connection %d of %d: %v %v", i+1, perIPConns, res, err)
		}
	}
	extra := dial(t, connIP, d.Addr)
	extra.Write([]byte("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
	if res, err := extra.read(5 * time.Second); err == nil {
		t.Errorf("connection past max_connections_per_ip answered: %d", res.Status)
	} else if !isReset(err) {
		t.Errorf("connection past max_connections_per_ip not closed: %v", err)
	}
	extra.Close()
	conns[0].Close()
	conns = conns[1:]
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c := dial(t, connIP, d.Addr)
		res, err := c.do(rtsp.Options, "*")
		c.Close()
		if err == nil && res.Status == 200 {
			break
		}
		if time.Now().After(end) {
			t.Errorf("no room for a connection after closing one: %v %v", res, err)
			break
		}
	}
}

// rateLimit: 200 requests in one burst on one connection: the first
// (the burst allowance) are answered, then 503 with Retry-After, and far
// over the rate the connection is closed. A new connection is served.
func rateLimit(t *testing.T, d *daemon.Daemon) {
	c := dial(t, rateIP, d.Addr)
	defer c.Close()
	var b bytes.Buffer
	const n = 200
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "OPTIONS * RTSP/1.0\r\nCSeq: %d\r\n\r\n", i)
	}
	go c.Write(b.Bytes())
	ok, refused, noRetry := 0, 0, 0
	var last *rtsp.Response
	var err error
	for {
		var res *rtsp.Response
		if res, err = c.read(5 * time.Second); err != nil {
			break
		}
		last = res
		switch res.Status {
		case 200:
			ok++
		case 503:
			refused++
			if res.Header.Get("Retry-After") == "" {
				noRetry++
			}
		default:
			t.Errorf("status %d in a request flood", res.Status)
		}
	}
	t.Logf("request flood: %d answered, %d refused with 503, then %v", ok, refused, err)
	if !isReset(err) {
		t.Errorf("flooding connection not closed: %v", err)
	}
	if ok < ratePerSecond || refused == 0 || noRetry > 0 || ok+refused >= n {
		t.Errorf("flood of %d: %d answered, %d refused (%d without Retry-After): want the burst answered, then 503s, then a close", n, ok, refused, noRetry)
	}
	if last == nil || !strings.EqualFold(last.Header.Get("Connection"), "close") {
		t.Errorf("last answer to the flood has no Connection: close: %v", last)
	}
	c2 := dial(t, rateIP, d.Addr)
	defer c2.Close()
	if res, err := c2.do(rtsp.Options, "*"); err != nil || res.Status != 200 {
		t.Errorf("a new connection after the flood: %v %v", res, err)
	}
}
