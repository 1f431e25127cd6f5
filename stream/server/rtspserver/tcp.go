package rtspserver

import (
	"time"

	"github.com/pion/rtp"

	"flowcam/stream/format/rtsp"
	"flowcam/stream/server/broadcast"
)

// tcpMedia interleaves RTP (channel ch) and RTCP (ch+1) on the RTSP
// connection (RFC 2326 10.12), for clients behind firewalls.
type tcpMedia struct {
	c     *conn
	ch    uint8
	batch packetBatch
}

func (m *tcpMedia) name() string { return "tcp" }

// sendFrame sends every frame: a TCP viewer that falls behind loses whole
// frames from its queue instead.
func (m *tcpMedia) sendFrame(h rtp.Header, u *broadcast.Unit, _ time.Time) (bool, error) {
	m.batch.build(h, &u.Payloads)
	return true, m.c.write(m.batch.interleaved(m.ch))
}

func (m *tcpMedia) writeRTCP(p []byte) error {
	return m.c.write(append(rtsp.AppendInterleavedHeader(nil, m.ch+1, len(p)), p...))
}

func (m *tcpMedia) close() {}
