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

// JPEGPool recycles frames that carry an already compressed picture (a
// camera's MJPEG), so copying each one out of the driver's buffer does not
// allocate once the buffers have grown to the largest frame.
type JPEGPool struct {
	free chan *Frame
}

// NewJPEGPool returns a pool keeping up to n idle frames.
func NewJPEGPool(n int) *JPEGPool { return &JPEGPool{free: make(chan *Frame, n)} }

// Get returns a frame whose JPEG is empty with spare capacity.
func (p *JPEGPool) Get() *Frame {
	select {
	case f := <-p.free:
		f.JPEG = f.JPEG[:0]
		return f
	default:
		return &Frame{release: p.put}
	}
}

func (p *JPEGPool) put(f *Frame) {
	f.Image = nil
	select {
	case p.free <- f:
	default:
	}
}
