package udpbatch

import (
	"encoding/binary"
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// gsoBuilt: this platform can ask for segmentation offload.
const gsoBuilt = true

// Limits of one GSO send: the kernel's UDP_MAX_SEGMENTS (64 on every
// kernel since 4.18), and what fits one IPv4 datagram.
const (
	maxSegments = 64
	maxGSOBytes = 65507
)

var cmsgSpace = unix.CmsgSpace(2)

// putSegment writes a UDP_SEGMENT control message asking for size-byte
// segments into b.
func putSegment(b []byte, size int) {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], uint16(size))
}

// refused reports whether err is the kernel or route saying no to GSO,
// rather than a send failing for another reason.
func refused(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EIO) || errors.Is(err, unix.ENOPROTOOPT) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EMSGSIZE)
}
