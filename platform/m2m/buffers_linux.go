package m2m

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// allocate requests MMAP buffers on q and maps every plane of each.
func (s *Session) allocate(q *queue) error {
	path := s.info.Path
	req := requestBuffers{Count: uint32(s.nbufs), Type: q.typ, Memory: memoryMMAP}
	if err := ioctl(s.dev, path, vidiocReqBufs, unsafe.Pointer(&req)); err != nil {
		return fmt.Errorf("m2m: %s queue: %w", q.name, err)
	}
	s.stats.Allocations++
	if req.Count < 1 || req.Count > 32 {
		return fmt.Errorf("m2m: %s: %s queue: driver granted %d buffers: %w", path, q.name, req.Count, ErrDriver)
	}
	q.bufs = make([][][]byte, 0, req.Count)
	for i := uint32(0); i < req.Count; i++ {
		planes, err := s.mapBuffer(q, i)
		q.bufs = append(q.bufs, planes) // partial ones too, for teardown to unmap
		if err != nil {
			return err
		}
	}
	q.free = q.free[:0]
	for i := range q.bufs {
		q.free = append(q.free, i)
	}
	return nil
}

func (s *Session) mapBuffer(q *queue, index uint32) ([][]byte, error) {
	b := s.newBuffer(q, index)
	if err := ioctl(s.dev, s.info.Path, vidiocQueryBuf, unsafe.Pointer(&b)); err != nil {
		return nil, fmt.Errorf("m2m: %s buffer %d: %w", q.name, index, err)
	}
	type span struct{ off, n uint32 }
	var spans []span
	if s.info.MPlane {
		if b.Length < 1 || b.Length > maxPlanes {
			return nil, fmt.Errorf("m2m: %s: %s buffer %d has %d planes: %w", s.info.Path, q.name, index, b.Length, ErrDriver)
		}
		for _, p := range q.planes[:b.Length] {
			spans = append(spans, span{p.offset(), p.Length})
		}
	} else {
		spans = append(spans, span{b.offset(), b.Length})
	}
	var maps [][]byte
	for _, sp := range spans {
		if sp.n == 0 || sp.n > maxBufferBytes {
			return maps, fmt.Errorf("m2m: %s: %s buffer %d plane of %d bytes: %w", s.info.Path, q.name, index, sp.n, ErrDriver)
		}
		m, err := s.dev.Mmap(int64(sp.off), int(sp.n))
		if err != nil {
			return maps, fmt.Errorf("m2m: %s: mmap %s buffer %d: %w", s.info.Path, q.name, index, err)
		}
		s.stats.Mmaps++
		maps = append(maps, m)
	}
	return maps, nil
}

// newBuffer is a v4l2_buffer for q; multi-planar ones point at q.planes.
func (s *Session) newBuffer(q *queue, index uint32) buffer {
	b := buffer{Index: index, Type: q.typ, Memory: memoryMMAP}
	if s.info.MPlane {
		clear(q.planes)
		b.M = uintptr(unsafe.Pointer(&q.planes[0]))
		b.Length = maxPlanes
	}
	return b
}

// teardown undoes start: STREAMOFF, munmap, REQBUFS 0. It carries on past
// errors so that as much as possible is released, and reports them all.
func (s *Session) teardown() error {
	var errs []error
	for _, q := range []*queue{&s.out, &s.cap} {
		if s.streaming {
			t := int32(q.typ)
			if err := ioctl(s.dev, s.info.Path, vidiocStreamOff, unsafe.Pointer(&t)); err != nil {
				errs = append(errs, fmt.Errorf("m2m: %s queue: %w", q.name, err))
			}
		}
		for _, planes := range q.bufs {
			for _, m := range planes {
				if err := s.dev.Munmap(m); err != nil {
					errs = append(errs, fmt.Errorf("m2m: %s: munmap: %w", s.info.Path, err))
				}
			}
		}
		if q.bufs != nil {
			req := requestBuffers{Count: 0, Type: q.typ, Memory: memoryMMAP}
			if err := ioctl(s.dev, s.info.Path, vidiocReqBufs, unsafe.Pointer(&req)); err != nil {
				errs = append(errs, fmt.Errorf("m2m: freeing %s buffers: %w", q.name, err))
			}
		}
		q.bufs, q.free = nil, q.free[:0]
	}
	s.streaming, s.broken = false, false
	return errors.Join(errs...)
}

// reset returns every buffer to us after a failed frame: STREAMOFF
// dequeues all of a queue's buffers, STREAMON makes it usable again.
func (s *Session) reset() error {
	s.stats.Resets++
	for _, q := range []*queue{&s.out, &s.cap} {
		t := int32(q.typ)
		if err := ioctl(s.dev, s.info.Path, vidiocStreamOff, unsafe.Pointer(&t)); err != nil {
			return fmt.Errorf("m2m: resetting %s queue: %w", q.name, err)
		}
		if err := ioctl(s.dev, s.info.Path, vidiocStreamOn, unsafe.Pointer(&t)); err != nil {
			return fmt.Errorf("m2m: resetting %s queue: %w", q.name, err)
		}
		q.free = q.free[:0]
		for i := range q.bufs {
			q.free = append(q.free, i)
		}
	}
	s.broken = false
	return nil
}

// FillFunc writes one raw picture into an OUTPUT buffer's planes, laid out
// as f says, and returns the bytes used in each plane.
type FillFunc func(planes [][]byte, f Format) (bytesUsed []int, err error)

// Process sends one picture through the device: fill a free OUTPUT buffer,
// queue it and a CAPTURE buffer, wait, append the result to dst, and take
// both buffers back for the next frame.
func (s *Session) Process(dst []byte, fill FillFunc) ([]byte, error) {
	return s.ProcessUntil(dst, fill, nil)
}

// ProcessUntil is Process for an encoder that may hand a picture back in
// more than one CAPTURE buffer (a video encoder's stream header comes
// alone, before the first picture): while whole says what has arrived is
// not yet the whole result, another CAPTURE buffer is queued and its
// payload appended. nil whole takes one buffer.
func (s *Session) ProcessUntil(dst []byte, fill FillFunc, whole func([]byte) bool) ([]byte, error) {
	if s.closed {
		return dst, ErrClosed
	}
	if !s.streaming {
		return dst, fmt.Errorf("m2m: %s: Process before Configure", s.info.Path)
	}
	if s.broken {
		if err := s.reset(); err != nil {
			return dst, err
		}
	}
	if len(s.out.free) == 0 || len(s.cap.free) == 0 {
		return dst, fmt.Errorf("m2m: %s: no free buffer: %w", s.info.Path, ErrDriver)
	}
	oi := s.out.free[0]
	used, err := fill(s.out.bufs[oi], s.out.format)
	if err != nil {
		return dst, err
	}
	s.broken = true // until both buffers are back
	out, err := s.roundTrip(dst, oi, used, whole)
	if err != nil {
		return dst, err
	}
	s.broken = false
	s.stats.Frames++
	return out, nil
}

func (s *Session) roundTrip(dst []byte, oi int, used []int, whole func([]byte) bool) ([]byte, error) {
	if err := s.queueBuffer(&s.out, oi, used); err != nil {
		return dst, err
	}
	s.out.free = s.out.free[1:]
	deadline := time.Now().Add(s.timeout)
	start := len(dst)
	for tries := 0; ; tries++ {
		var err error
		if dst, err = s.captureOne(dst, deadline); err != nil {
			return dst, err
		}
		if whole == nil || whole(dst[start:]) {
			break
		}
		if tries == len(s.cap.bufs) {
			return dst, fmt.Errorf("m2m: %s: %d capture buffers without a whole picture: %w", s.info.Path, tries+1, ErrDriver)
		}
	}
	if _, err := s.dequeue(&s.out, unix.POLLOUT, deadline); err != nil {
		return dst, err
	}
	return dst, nil
}

// captureOne queues a free CAPTURE buffer, waits for a filled one and
// appends its payload.
func (s *Session) captureOne(dst []byte, deadline time.Time) ([]byte, error) {
	ci := s.cap.free[0]
	if err := s.queueBuffer(&s.cap, ci, nil); err != nil {
		return dst, err
	}
	s.cap.free = s.cap.free[1:]
	b, err := s.dequeue(&s.cap, unix.POLLIN, deadline)
	if err != nil {
		return dst, err
	}
	return s.appendPayload(dst, &b)
}

func (s *Session) queueBuffer(q *queue, index int, used []int) error {
	b := s.newBuffer(q, uint32(index))
	maps := q.bufs[index]
	if s.info.MPlane {
		b.Length = uint32(len(maps))
		for i, m := range maps {
			q.planes[i].Length = uint32(len(m))
			if i < len(used) {
				q.planes[i].BytesUsed = uint32(used[i])
			}
		}
	} else if len(used) > 0 {
		b.BytesUsed = uint32(used[0])
	}
	if err := ioctl(s.dev, s.info.Path, vidiocQBuf, unsafe.Pointer(&b)); err != nil {
		return fmt.Errorf("m2m: %s buffer %d: %w", q.name, index, err)
	}
	return nil
}

// dequeue takes a finished buffer off q, polling until the deadline, and
// returns it to q's free list.
func (s *Session) dequeue(q *queue, events int16, deadline time.Time) (buffer, error) {
	for {
		b := s.newBuffer(q, 0)
		err := s.dev.Ioctl(vidiocDQBuf, unsafe.Pointer(&b))
		if err == nil {
			if int(b.Index) >= len(q.bufs) {
				return b, fmt.Errorf("m2m: %s: dequeued %s buffer %d of %d: %w", s.info.Path, q.name, b.Index, len(q.bufs), ErrDriver)
			}
			q.free = append(q.free, int(b.Index))
			return b, nil
		}
		if !errors.Is(err, unix.EAGAIN) {
			return b, fmt.Errorf("%s: VIDIOC_DQBUF %s: %w", s.info.Path, q.name, err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return b, fmt.Errorf("m2m: %s: no %s buffer after %v: %w", s.info.Path, q.name, s.timeout, ErrTimeout)
		}
		rev, err := s.dev.Poll(events, left)
		if err != nil {
			return b, fmt.Errorf("m2m: %s: poll: %w", s.info.Path, err)
		}
		if rev == 0 {
			return b, fmt.Errorf("m2m: %s: no %s buffer after %v: %w", s.info.Path, q.name, s.timeout, ErrTimeout)
		}
		if rev&unix.POLLERR != 0 && rev&events == 0 {
			return b, fmt.Errorf("m2m: %s: poll reports an error on the %s queue: %w", s.info.Path, q.name, ErrDriver)
		}
	}
}

// appendPayload copies a dequeued CAPTURE buffer's bytes to dst, checking
// every size against the mapping first.
func (s *Session) appendPayload(dst []byte, b *buffer) ([]byte, error) {
	if b.Flags&bufFlagError != 0 {
		return dst, fmt.Errorf("m2m: %s: the driver flagged capture buffer %d as corrupt: %w", s.info.Path, b.Index, ErrDriver)
	}
	maps := s.cap.bufs[b.Index]
	if !s.info.MPlane {
		if int(b.BytesUsed) > len(maps[0]) || b.BytesUsed > b.Length {
			return dst, fmt.Errorf("m2m: %s: capture buffer %d: %d bytes used of %d: %w", s.info.Path, b.Index, b.BytesUsed, len(maps[0]), ErrDriver)
		}
		return append(dst, maps[0][:b.BytesUsed]...), nil
	}
	if int(b.Length) > len(maps) {
		return dst, fmt.Errorf("m2m: %s: capture buffer %d has %d planes, %d mapped: %w", s.info.Path, b.Index, b.Length, len(maps), ErrDriver)
	}
	for i, p := range s.cap.planes[:b.Length] {
		if int(p.BytesUsed) > len(maps[i]) || p.DataOffset > p.BytesUsed {
			return dst, fmt.Errorf("m2m: %s: capture buffer %d plane %d: bytes %d-%d of %d: %w",
				s.info.Path, b.Index, i, p.DataOffset, p.BytesUsed, len(maps[i]), ErrDriver)
		}
		dst = append(dst, maps[i][p.DataOffset:p.BytesUsed]...)
	}
	return dst, nil
}
