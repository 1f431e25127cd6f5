package netns

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// Flood is other traffic on a path: a UDP sender in one namespace blasting
// datagrams at a sink in another at a fixed rate, as a neighbour's upload
// does to a home router's queue.
type Flood struct {
	src, sink net.PacketConn
	stop      chan struct{}
	wg        sync.WaitGroup
	Sent      int // datagrams sent, once stopped
}

// floodSize is the flood's datagram size: full-size packets, like a bulk
// transfer.
const floodSize = 1400

// StartFlood sends bitsPerSec of UDP from fromIP in namespace from to toIP
// in namespace to until Stop. It paces itself in 2 ms slices.
func (t *Topology) StartFlood(from, fromIP, to, toIP string, bitsPerSec float64) (*Flood, error) {
	sink, err := t.ListenPacket(to, "udp4", toIP+":0")
	if err != nil {
		return nil, fmt.Errorf("flood sink in %s: %w", to, err)
	}
	src, err := t.ListenPacket(from, "udp4", fromIP+":0")
	if err != nil {
		sink.Close()
		return nil, fmt.Errorf("flood source in %s: %w", from, err)
	}
	f := &Flood{src: src, sink: sink, stop: make(chan struct{})}
	f.wg.Add(2)
	go f.drain()
	go f.send(sink.LocalAddr(), bitsPerSec)
	return f, nil
}

func (f *Flood) drain() {
	defer f.wg.Done()
	buf := make([]byte, 2048)
	for {
		if _, _, err := f.sink.ReadFrom(buf); err != nil {
			return
		}
	}
}

func (f *Flood) send(dst net.Addr, bitsPerSec float64) {
	defer f.wg.Done()
	pkt := make([]byte, floodSize)
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	start, sent := time.Now(), 0
	for {
		select {
		case <-f.stop:
			f.Sent = sent
			return
		case now := <-t.C:
			due := int(now.Sub(start).Seconds() * bitsPerSec / (floodSize * 8))
			for ; sent < due; sent++ {
				f.src.WriteTo(pkt, dst) // a full queue's drop is the point
			}
		}
	}
}

// Stop ends the flood and closes its sockets. It is safe to call twice.
func (f *Flood) Stop() {
	select {
	case <-f.stop:
		return
	default:
	}
	close(f.stop)
	f.src.Close()
	f.sink.Close()
	f.wg.Wait()
}
