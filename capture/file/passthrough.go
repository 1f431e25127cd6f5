package file

import (
	"context"
	"time"

	"flowcam/capture"
	"flowcam/capture/file/demux"
)

// jpegReader reads an MJPEG file's own frames for passthrough.
type jpegReader struct {
	d    demux.Reader
	pool *capture.JPEGPool
	per  time.Duration
}

func newJPEGReader(d demux.Reader) *jpegReader {
	per := 40 * time.Millisecond
	if fps := d.Info().FPS; fps > 0 {
		per = time.Duration(float64(time.Second) / fps)
	}
	return &jpegReader{d: d, pool: capture.NewJPEGPool(4), per: per}
}

func (r *jpegReader) next(context.Context) (*capture.Frame, time.Duration, error) {
	data, pts, err := r.d.Next()
	if err != nil {
		return nil, 0, err
	}
	f := r.pool.Get()
	f.JPEG = append(f.JPEG, data...) // the demuxer reuses its buffer
	return f, pts, nil
}

func (r *jpegReader) rewind() error         { return r.d.Rewind() }
func (r *jpegReader) close() error          { return r.d.Close() }
func (r *jpegReader) period() time.Duration { return r.per }
func (r *jpegReader) restartCount() uint64  { return 0 }
