package rtspserver

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// wire is a connection's byte stream as conn uses it: the TCP connection
// read through a buffer (so its first bytes can be looked at before
// anyone parses them), or, once a GET turns out to be half of an RTSP
// over HTTP tunnel, requests read from the tunnel's POST while everything
// else goes to the GET. It is one value for the connection's whole life,
// so Close from another goroutine always reaches what is current.
type wire struct {
	net.Conn
	br *bufio.Reader

	mu  sync.Mutex
	tun *tunnelReader // nil: not tunnelled
}

func newWire(nc net.Conn) *wire { return &wire{Conn: nc, br: bufio.NewReaderSize(nc, 4096)} }

// tunnel makes reads come from t.
func (w *wire) tunnel(t *tunnelReader) {
	w.mu.Lock()
	w.tun = t
	w.mu.Unlock()
}

func (w *wire) reader() (io.Reader, *tunnelReader) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.tun != nil {
		return w.tun, w.tun
	}
	return w.br, nil
}

func (w *wire) Read(p []byte) (int, error) {
	r, _ := w.reader()
	return r.Read(p)
}

func (w *wire) SetReadDeadline(d time.Time) error {
	if _, t := w.reader(); t != nil {
		t.setDeadline(d)
		return nil
	}
	return w.Conn.SetReadDeadline(d)
}

func (w *wire) SetDeadline(d time.Time) error {
	w.SetReadDeadline(d)
	return w.Conn.SetWriteDeadline(d)
}

// errNoHalfClose is CloseWrite's answer for a connection that cannot.
var errNoHalfClose = errors.New("connection cannot half-close")

// CloseWrite half-closes the connection responses go to, where it can.
func (w *wire) CloseWrite() error {
	if cw, ok := w.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoHalfClose
}

// Close ends the connection, and a tunnel's POST with it.
func (w *wire) Close() error {
	if _, t := w.reader(); t != nil {
		t.close()
	}
	return w.Conn.Close()
}
