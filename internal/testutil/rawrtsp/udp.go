package rawrtsp

import (
	"fmt"
	"net"
	"time"

	"github.com/pion/rtp"
)

// UDPReceiver is a viewer's RTP/RTCP port pair on loopback.
type UDPReceiver struct {
	RTP, RTCP *net.UDPConn
}

// ListenUDP opens an even/odd port pair on 127.0.0.1.
func ListenUDP() (*UDPReceiver, error) { return ListenUDPOn(net.IPv4(127, 0, 0, 1)) }

// ListenUDPOn opens an even/odd port pair on ip.
func ListenUDPOn(ip net.IP) (*UDPReceiver, error) {
	for try := 0; try < 100; try++ {
		a, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
		if err != nil {
			return nil, err
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		if p%2 == 0 {
			if b, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: p + 1}); err == nil {
				return &UDPReceiver{RTP: a, RTCP: b}, nil
			}
		}
		a.Close()
	}
	return nil, fmt.Errorf("no free UDP port pair")
}

// Close closes both ports.
func (u *UDPReceiver) Close() {
	u.RTP.Close()
	u.RTCP.Close()
}

// Transport is the SETUP Transport header naming these ports.
func (u *UDPReceiver) Transport() string {
	p := u.RTP.LocalAddr().(*net.UDPAddr).Port
	return fmt.Sprintf("RTP/AVP;unicast;client_port=%d-%d", p, p+1)
}

// Packets returns the RTP packets that arrive within d.
func (u *UDPReceiver) Packets(d time.Duration) []rtp.Packet {
	var out []rtp.Packet
	buf := make([]byte, 2048)
	u.RTP.SetReadDeadline(time.Now().Add(d))
	for {
		n, err := u.RTP.Read(buf)
		if err != nil {
			return out
		}
		var p rtp.Packet
		if p.Unmarshal(append([]byte(nil), buf[:n]...)) == nil {
			out = append(out, p)
		}
	}
}

// Frames reads RTP packets until n frames (marker bits) have arrived.
func (u *UDPReceiver) Frames(n int, timeout time.Duration) ([]rtp.Packet, error) {
	var out []rtp.Packet
	buf := make([]byte, 2048)
	u.RTP.SetReadDeadline(time.Now().Add(timeout))
	for markers := 0; markers < n; {
		k, err := u.RTP.Read(buf)
		if err != nil {
			return out, fmt.Errorf("after %d of %d frames: %w", markers, n, err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(append([]byte(nil), buf[:k]...)); err != nil {
			return out, err
		}
		out = append(out, p)
		if p.Marker {
			markers++
		}
	}
	return out, nil
}

// PortsFree reports whether the UDP ports can be bound on loopback, i.e.
// whether a server released them.
func PortsFree(ports [2]int) error {
	for _, p := range ports {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err != nil {
			return err
		}
		c.Close()
	}
	return nil
}
