package impair

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// readBufSize holds any MTU-sized frame and a 64 KiB GSO aggregate's
	// IP packet; l2Room adds its Ethernet (+VLAN) header and vnetHdrLen the
	// virtio-net header, so no frame is ever truncated.
	readBufSize = 65536
	l2Room      = 32
	vnetHdrLen  = 10 // sizeof(struct virtio_net_hdr)
	maxReadLen  = vnetHdrLen + readBufSize + l2Room
	// smallBufSize covers an MTU-sized frame, the common case, so a queue
	// of delayed frames costs ~2 KiB each rather than 64 KiB.
	smallBufSize = 2048
	// sockBufSize lets a burst (a video frame's worth of packets) wait in
	// the kernel while the reader is busy, instead of being dropped there.
	sockBufSize = 4 << 20
)

var errClosed = errors.New("impair: socket closed")

// port is one AF_PACKET socket bound to one interface. The fd is wrapped in
// an os.File so that reads wait in the runtime's poller and Close wakes
// them, rather than blocking a thread in recvfrom forever.
type port struct {
	name string
	file *os.File
	rc   syscall.RawConn
}

// htons converts to network byte order, as AF_PACKET expects its protocol.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

func openPort(name string) (*port, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("impair: interface %s: %w", name, err)
	}
	// Protocol 0 at creation: the socket receives nothing until bind has
	// restricted it to this interface, so no frame of another one slips in.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("impair: packet socket for %s: %w", name, err)
	}
	if err := setupSocket(fd, ifi.Index); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("impair: packet socket on %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), "packet:"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("impair: packet socket on %s: %w", name, err)
	}
	return &port{name: name, file: f, rc: rc}, nil
}

func setupSocket(fd, ifindex int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		return fmt.Errorf("PACKET_VNET_HDR: %w", err)
	}
	// Not seeing our own transmissions at all is cheaper than filtering
	// them; kernels before 4.20 lack the option and the reader still
	// skips PACKET_OUTGOING.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, sockBufSize) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, sockBufSize)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	// A bridge must take frames for any MAC. veth delivers them anyway;
	// on a real NIC this is what makes the bridge transparent.
	mreq := &unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, mreq); err != nil {
		return fmt.Errorf("promiscuous mode: %w", err)
	}
	return nil
}

func (p *port) close() error {
	if err := p.file.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("impair: close %s: %w", p.name, err)
	}
	return nil
}

// reader receives frames into one reused buffer. The callback handed to
// RawConn.Read is built once, so a read allocates nothing.
type reader struct {
	p      *port
	buf    []byte
	sa     unix.RawSockaddrLinklayer
	salen  uint32
	n      int
	errno  syscall.Errno
	readFn func(fd uintptr) bool
}

func newReader(p *port) *reader {
	r := &reader{p: p, buf: make([]byte, maxReadLen)}
	r.readFn = r.recv
	return r
}

func (r *reader) recv(fd uintptr) bool {
	r.salen = uint32(unsafe.Sizeof(r.sa))
	// MSG_TRUNC makes the kernel report the real length, so an oversized
	// frame is detected instead of forwarded cut short.
	n, _, e := unix.Syscall6(unix.SYS_RECVFROM, fd,
		uintptr(unsafe.Pointer(&r.buf[0])), uintptr(len(r.buf)), unix.MSG_TRUNC,
		uintptr(unsafe.Pointer(&r.sa)), uintptr(unsafe.Pointer(&r.salen)))
	r.n, r.errno = int(n), e
	return e != unix.EAGAIN && e != unix.EINTR
}

// read returns the next frame (virtio-net header included) to forward, nil
// for one to ignore, or errClosed once the port is closed. The slice is
// valid until the next call.
func (r *reader) read() ([]byte, error) {
	if err := r.p.rc.Read(r.readFn); err != nil {
		return nil, errClosed
	}
	if r.errno != 0 {
		return nil, fmt.Errorf("impair: recvfrom %s: %w", r.p.name, r.errno)
	}
	if r.sa.Pkttype == unix.PACKET_OUTGOING {
		return nil, nil // ours, should PACKET_IGNORE_OUTGOING be missing
	}
	if r.n > len(r.buf) || r.n < vnetHdrLen {
		return nil, fmt.Errorf("impair: %d-byte frame on %s does not fit", r.n, r.p.name)
	}
	return r.buf[:r.n], nil
}

// writer sends frames on a port; like reader it allocates once.
type writer struct {
	p       *port
	frame   []byte
	errno   syscall.Errno
	writeFn func(fd uintptr) bool
}

func newWriter(p *port) *writer {
	w := &writer{p: p}
	w.writeFn = w.send
	return w
}

func (w *writer) send(fd uintptr) bool {
	// The socket is bound, so a plain write goes out on its interface.
	_, _, e := unix.Syscall(unix.SYS_WRITE, fd,
		uintptr(unsafe.Pointer(&w.frame[0])), uintptr(len(w.frame)))
	w.errno = e
	return e != unix.EAGAIN && e != unix.EINTR
}

// write sends frame (virtio-net header included) on the port.
func (w *writer) write(frame []byte) error {
	w.frame = frame
	err := w.p.rc.Write(w.writeFn)
	w.frame = nil
	if err != nil {
		return errClosed
	}
	if w.errno != 0 {
		return fmt.Errorf("impair: write %s: %w", w.p.name, w.errno)
	}
	return nil
}

// wireLen is the frame's length on the wire, without the virtio-net header.
func wireLen(frame []byte) int { return len(frame) - vnetHdrLen }

var (
	smallPool = sync.Pool{New: func() any { b := make([]byte, smallBufSize); return &b }}
	largePool = sync.Pool{New: func() any { b := make([]byte, maxReadLen); return &b }}
)

// copyToPool copies frame into a pooled buffer of a fitting size class.
func copyToPool(frame []byte) *[]byte {
	pool := &smallPool
	if len(frame) > smallBufSize {
		pool = &largePool
	}
	bp := pool.Get().(*[]byte)
	*bp = append((*bp)[:0], frame...)
	return bp
}

// putToPool returns a buffer to the pool of its size class.
func putToPool(bp *[]byte) {
	if cap(*bp) > smallBufSize {
		largePool.Put(bp)
		return
	}
	smallPool.Put(bp)
}
