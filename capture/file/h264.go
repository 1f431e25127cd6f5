package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"flowcam/capture"
	"flowcam/capture/file/demux"
	"flowcam/capture/h264"
)

// maxAccessUnit bounds one access unit of a raw .h264 file.
const maxAccessUnit = 32 << 20

// h264Frame copies an access unit into a frame of its own (the readers
// reuse their buffers), with params in front of a key frame that lacks
// them: MP4 and Matroska keep the parameter sets out of band, and a
// viewer needs them in band.
func h264Frame(au [][]byte, params [][]byte, damaged *atomic.Uint64) (*capture.Frame, error) {
	au, n := h264.Clean(au)
	damaged.Add(uint64(n))
	if len(au) == 0 {
		return nil, fmt.Errorf("%w: no NAL unit a decoder could take", demux.ErrCorruptFrame)
	}
	key := h264.Key(au)
	if key && h264.ParameterSet(au, h264.TypeSPS) == nil {
		au = append(append([][]byte(nil), params...), au...)
	}
	return &capture.Frame{H264: h264.Clone(au), Key: key}, nil
}

// containerH264 passes an MP4 or Matroska file's H.264 samples through.
type containerH264 struct {
	d       demux.Reader
	per     time.Duration
	nals    [][]byte
	damaged atomic.Uint64 // NAL units dropped
}

func newContainerH264(d demux.Reader) *containerH264 {
	return &containerH264{d: d, per: framePeriod(d.Info().FPS)}
}

func (r *containerH264) next(context.Context) (*capture.Frame, time.Duration, error) {
	data, pts, err := r.d.Next()
	if err != nil {
		return nil, 0, err
	}
	r.nals = h264.SplitAnnexB(r.nals[:0], data)
	if len(r.nals) == 0 {
		return nil, 0, fmt.Errorf("%w: an empty access unit", demux.ErrCorruptFrame)
	}
	f, err := h264Frame(r.nals, r.d.Info().ParameterSets, &r.damaged)
	return f, pts, err
}

func (r *containerH264) rewind() error         { return r.d.Rewind() }
func (r *containerH264) close() error          { return r.d.Close() }
func (r *containerH264) period() time.Duration { return r.per }
func (r *containerH264) restartCount() uint64  { return 0 }
func (r *containerH264) damagedNALs() uint64   { return r.damaged.Load() }

// rawH264 reads a raw Annex B .h264 file, which has no timestamps: frame
// n is at n/fps.
type rawH264 struct {
	f       *os.File
	sp      *h264.Splitter
	per     time.Duration
	n       int64
	info    demux.Info
	damaged atomic.Uint64 // NAL units dropped
}

// looksLikeAnnexB reports a stream that starts with a start code and a
// NAL unit a stream can begin with.
func looksLikeAnnexB(b []byte) bool {
	b = bytes.TrimLeft(b, "\x00")
	if len(b) < 2 || b[0] != 1 {
		return false
	}
	switch b[1] & 0x1F {
	case h264.TypeSPS, h264.TypeAUD, h264.TypeSEI, h264.TypeIDR:
		return b[1]&0x80 == 0
	}
	return false
}

// openRawH264 opens path if it is a raw H.264 stream whose first access
// unit has the parameter sets; errNotAnnexB when it is not H.264 at all.
func openRawH264(path string, fps float64) (*rawH264, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	if !looksLikeAnnexB(head[:n]) {
		f.Close()
		return nil, errNotAnnexB
	}
	if fps <= 0 {
		fps = demux.DefaultRawFPS
	}
	r := &rawH264{f: f, per: framePeriod(fps), info: demux.Info{Container: "h264", Codec: "h264", FPS: fps}}
	if err := r.rewind(); err != nil {
		f.Close()
		return nil, err
	}
	au, err := r.sp.Next()
	sps := h264.ParameterSet(au, h264.TypeSPS)
	if err == nil && sps != nil {
		r.info.Width, r.info.Height, err = h264.PictureSize(sps)
		if pps := h264.ParameterSet(au, h264.TypePPS); pps != nil {
			r.info.ParameterSets = h264.Clone([][]byte{sps, pps})
		}
	}
	if err == nil && sps == nil {
		err = errors.New("its first access unit has no SPS")
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("file %s: raw H.264: %w", path, err)
	}
	return r, r.rewind()
}

var errNotAnnexB = errors.New("not an Annex B H.264 stream")

func (r *rawH264) next(context.Context) (*capture.Frame, time.Duration, error) {
	au, err := r.sp.Next()
	if errors.Is(err, h264.ErrTooLarge) {
		return nil, 0, fmt.Errorf("%w: %v", demux.ErrTruncated, err) // no way to find the next unit: end the pass
	}
	if err != nil {
		return nil, 0, err
	}
	at := time.Duration(r.n) * r.per
	r.n++
	f, err := h264Frame(au, nil, &r.damaged)
	return f, at, err
}

func (r *rawH264) rewind() error {
	if _, err := r.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r.sp, r.n = h264.NewSplitter(bufio.NewReaderSize(r.f, 64<<10), maxAccessUnit), 0
	return nil
}

func (r *rawH264) close() error          { return r.f.Close() }
func (r *rawH264) period() time.Duration { return r.per }
func (r *rawH264) restartCount() uint64  { return 0 }
func (r *rawH264) damagedNALs() uint64   { return r.damaged.Load() }

func framePeriod(fps float64) time.Duration {
	if fps <= 0 {
		fps = demux.DefaultRawFPS
	}
	return time.Duration(float64(time.Second) / fps)
}
