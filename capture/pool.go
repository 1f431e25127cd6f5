package capture

import "image"

// Pool recycles raw frames of one picture size so that steady-state capture
// allocates nothing. Get never blocks: when every frame is in use (a slow
// consumer) it allocates, and Release drops the surplus once the pool is full.
type Pool struct {
	size  Size
	ratio image.YCbCrSubsampleRatio
	free  chan *Frame
}

// NewPool returns a pool keeping up to n idle frames.
func NewPool(size Size, ratio image.YCbCrSubsampleRatio, n int) *Pool {
	return &Pool{size: size, ratio: ratio, free: make(chan *Frame, n)}
}

// Get returns a frame whose Image is ready to be overwritten.
func (p *Pool) Get() *Frame {
	select {
	case f := <-p.free:
		return f
	default:
		return &Frame{Image: NewYCbCr(p.size, p.ratio), release: p.put}
	}
}

func (p *Pool) put(f *Frame) {
	f.JPEG = nil
	select {
	case p.free <- f:
	default:
	}
}
