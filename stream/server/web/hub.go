package web

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"flowcam/capture"
)

// errGone ends an MJPEG response whose path a reload removed.
var errGone = errors.New("path no longer served")

// Hub keeps each path's newest JPEG for HTTP viewers. It holds exactly one
// frame per path whatever the number of viewers: each viewer copies the
// newest frame when it is ready for one, so a slow viewer skips frames
// instead of queueing them.
type Hub struct {
	mu    sync.Mutex
	paths map[string]*latest
}

// latest is one path's newest frame.
type latest struct {
	mu      sync.Mutex
	jpeg    []byte
	seq     uint64 // frames published on this path; 0: none yet
	at      time.Time
	wake    chan struct{} // made by the first waiter, closed by the next frame
	gone    bool
	viewers atomic.Int64
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{paths: make(map[string]*latest)} }

// Publish makes f the newest frame of path. It is meant to be teed into a
// capture pipeline's sink, so it keeps nothing of f and, once the path's
// buffer has grown to the frame size, allocates nothing.
func (h *Hub) Publish(path string, f *capture.Frame) {
	if f.JPEG == nil {
		return // an H.264 path: no picture the page can show without a decoder
	}
	l := h.get(path, true)
	l.mu.Lock()
	l.jpeg = append(l.jpeg[:0], f.JPEG...)
	l.seq++
	l.at = f.Captured
	if l.wake != nil {
		close(l.wake)
		l.wake = nil
	}
	l.mu.Unlock()
}

// Remove forgets path: its viewers' responses end and its frame is freed.
func (h *Hub) Remove(path string) {
	h.mu.Lock()
	l := h.paths[path]
	delete(h.paths, path)
	h.mu.Unlock()
	if l == nil {
		return
	}
	l.mu.Lock()
	l.gone, l.jpeg = true, nil
	if l.wake != nil {
		close(l.wake)
		l.wake = nil
	}
	l.mu.Unlock()
}

// Viewers counts the MJPEG responses open on path.
func (h *Hub) Viewers(path string) int {
	if l := h.get(path, false); l != nil {
		return int(l.viewers.Load())
	}
	return 0
}

func (h *Hub) get(path string, create bool) *latest {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.paths[path]
	if l == nil && create {
		l = &latest{}
		h.paths[path] = l
	}
	return l
}

// snapshot copies path's newest frame into dst; ok is false when there is
// none yet.
func (h *Hub) snapshot(path string, dst []byte) (out []byte, at time.Time, ok bool) {
	l := h.get(path, false)
	if l == nil {
		return dst, time.Time{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seq == 0 || l.gone {
		return dst, time.Time{}, false
	}
	return append(dst[:0], l.jpeg...), l.at, true
}

// watch registers an MJPEG viewer of path; call the returned function
// when it leaves.
func (h *Hub) watch(path string) (*latest, func()) {
	l := h.get(path, true)
	l.viewers.Add(1)
	return l, func() { l.viewers.Add(-1) }
}

// next waits for a frame newer than seq and copies it into dst: the
// newest one, however many were published meanwhile.
func (l *latest) next(ctx context.Context, seq uint64, dst []byte) ([]byte, uint64, error) {
	for {
		l.mu.Lock()
		if l.gone {
			l.mu.Unlock()
			return dst, seq, errGone
		}
		if l.seq > seq {
			dst = append(dst[:0], l.jpeg...)
			seq = l.seq
			l.mu.Unlock()
			return dst, seq, nil
		}
		if l.wake == nil {
			l.wake = make(chan struct{})
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return dst, seq, ctx.Err()
		case <-wake:
		}
	}
}
