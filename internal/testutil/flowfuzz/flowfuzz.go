// Package flowfuzz builds the inputs that the multi-flow fuzz targets feed
// to both ends of a session: fuzz bytes split into datagrams per flow and
// source, flow sockets the test delivers to, and genuine registrations for
// the one session and token every target shares.
package flowfuzz

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"flowcam/internal/testutil/packetconn"
	"flowcam/stream/format/multiflow"
)

// The session every target fuzzes.
var (
	Token   = [16]byte{0xf1, 0x0c, 0xa3, 7, 6, 5, 4, 3, 2, 1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	Session = "0123456789abcdef"
	SSRC    = uint32(0x5eed5eed)
	Now     = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
)

// Conn is a flow socket fed by the test, bound to 10.0.0.1:port.
func Conn(port int) *packetconn.Conn {
	return packetconn.New(&net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: port})
}

// Record is one input datagram: the flow socket it arrives on, the source
// it comes from (an index into the test's source list) and its bytes.
type Record struct {
	Flow, Src int
	Data      []byte
}

// Records splits fuzz input into [flow][source][length u16][bytes] records,
// at most 64 of them.
func Records(data []byte, flows, sources int) []Record {
	var out []Record
	for len(data) >= 4 && len(out) < 64 {
		r := Record{Flow: int(data[0]) % flows, Src: int(data[1]) % sources}
		n := min(int(binary.BigEndian.Uint16(data[2:])), len(data)-4, 1500)
		r.Data = data[4 : 4+n]
		data = data[4+n:]
		out = append(out, r)
	}
	return out
}

// Encode is the inverse of Records, for seeds.
func Encode(rs ...Record) []byte {
	var b []byte
	for _, r := range rs {
		b = append(b, byte(r.Flow), byte(r.Src))
		b = binary.BigEndian.AppendUint16(b, uint16(len(r.Data)))
		b = append(b, r.Data...)
	}
	return b
}

// Marshal is a compound RTCP packet, failing the test if it cannot be made.
func Marshal(tb testing.TB, pkts ...rtcp.Packet) []byte {
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Registration is a genuine registration (multiflow.NameRegister) or
// acknowledgement (multiflow.NameAck) of flow for the shared session.
func Registration(flow uint8, counter uint64, name string) *rtcp.ApplicationDefined {
	return &rtcp.ApplicationDefined{SubType: flow, SSRC: 99, Name: name,
		Data: multiflow.RegistrationData(Token, Session, name, multiflow.Registration{Flow: flow, Counter: counter})}
}

// Dgram is a Record for seeds: data arriving on flow from source src.
func Dgram(flow, src int, data []byte) Record { return Record{Flow: flow, Src: src, Data: data} }
