package jpeg

import (
	"errors"
	"fmt"
	"image"
	"sync"
	"sync/atomic"
)

// MaxThreads caps the encoder's goroutines: beyond four, the bands get so
// short that libjpeg's per-call setup and the stitch eat the gain.
const MaxThreads = 4

// targetBands is how many restart intervals a frame is cut into when it is
// tall enough: twice the most threads, so workers that take bands as they
// finish stay balanced when one band compresses slower than another, and
// a lost RTP packet costs an eighth of the picture, not all of it.
const targetBands = 2 * MaxThreads

// errStructure is returned when libjpeg's output is not the single-scan
// baseline stream the stitch expects (a bug, not bad input).
var errStructure = errors.New("jpeg: band is not a single-scan baseline JPEG")

// band is one horizontal slice of a frame and its own JPEG.
type band struct {
	img image.YCbCr
	out appendBuffer
	err error
}

// Plan is how a frame of a given size and sampling is cut into bands: the
// same for every thread count, so the bytes never depend on how many cores
// did the work.
type Plan struct {
	MCUHeight int // picture rows per MCU row: 16 for 4:2:0, 8 for 4:2:2
	BandRows  int // MCU rows per band
	Bands     int
	Interval  int // MCUs per restart interval (a whole band)
}

// PlanFor returns the band plan for a picture.
func PlanFor(size image.Point, ratio image.YCbCrSubsampleRatio) Plan {
	mcuH := mcuHeight(ratio)
	mcuRows := (size.Y + mcuH - 1) / mcuH
	perRow := (size.X + 15) / 16
	rows := max(1, (mcuRows+targetBands-1)/targetBands)
	// DRI and RFC 2435's restart header hold the interval in 16 bits.
	rows = min(rows, max(1, 0xffff/max(perRow, 1)))
	return Plan{MCUHeight: mcuH, BandRows: rows, Bands: (mcuRows + rows - 1) / rows, Interval: rows * perRow}
}

// encodeBands encodes src (already padded) as bands on up to e.threads
// goroutines and stitches them into one JPEG with a restart marker between
// bands, appended to dst.
func (e *Encoder) encodeBands(dst []byte, src *image.YCbCr) ([]byte, error) {
	plan := PlanFor(src.Rect.Size(), src.SubsampleRatio)
	if plan.Bands == 1 {
		e.out.b = dst
		err := encodeImage(&e.out, src, e.quality)
		return e.out.b, err
	}
	e.cut(src, plan)
	var next atomic.Int32
	work := func() {
		for i := int(next.Add(1)) - 1; i < plan.Bands; i = int(next.Add(1)) - 1 {
			b := &e.bands[i]
			b.out.b = b.out.b[:0]
			b.err = encodeImage(&b.out, &b.img, e.quality)
		}
	}
	var wg sync.WaitGroup
	for range min(e.threads, plan.Bands) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
	for i := range plan.Bands {
		if err := e.bands[i].err; err != nil {
			return dst, fmt.Errorf("band %d of %d: %w", i+1, plan.Bands, err)
		}
	}
	return stitch(dst, e.bands[:plan.Bands], src.Rect.Dy(), plan.Interval)
}

// cut points the bands at their rows of src without copying.
func (e *Encoder) cut(src *image.YCbCr, plan Plan) {
	if len(e.bands) < plan.Bands {
		e.bands = append(e.bands, make([]band, plan.Bands-len(e.bands))...)
	}
	cRows := plan.MCUHeight
	if src.SubsampleRatio == image.YCbCrSubsampleRatio420 {
		cRows /= 2
	}
	h := src.Rect.Dy()
	for i := range plan.Bands {
		top := i * plan.BandRows
		rows := min(plan.BandRows*plan.MCUHeight, h-top*plan.MCUHeight)
		b := &e.bands[i]
		b.img = image.YCbCr{
			Y:              src.Y[top*plan.MCUHeight*src.YStride:],
			Cb:             src.Cb[top*cRows*src.CStride:],
			Cr:             src.Cr[top*cRows*src.CStride:],
			YStride:        src.YStride,
			CStride:        src.CStride,
			SubsampleRatio: src.SubsampleRatio,
			Rect:           image.Rect(0, 0, src.Rect.Dx(), rows),
		}
	}
}

// stitch joins the bands' JPEGs: the first band's headers with the frame's
// full height and a DRI segment, then each band's entropy-coded data
// followed by RST0-RST7 in turn, then EOI. Each band was encoded from a
// fresh DC prediction and ends padded to a byte with one-bits, which is
// exactly what a restart interval is, so no bit of the scans is touched.
func stitch(dst []byte, bands []band, height, interval int) ([]byte, error) {
	first, err := parseBand(bands[0].out.b)
	if err != nil {
		return dst, err
	}
	hdr := bands[0].out.b
	base := len(dst)
	dst = append(dst, hdr[:first.sos]...)
	dst[base+first.sof+5], dst[base+first.sof+6] = byte(height>>8), byte(height)
	dst = append(dst, 0xff, 0xdd, 0, 4, byte(interval>>8), byte(interval))
	dst = append(dst, hdr[first.sos:first.scan]...)
	for i := range bands {
		s := first
		if i > 0 {
			if s, err = parseBand(bands[i].out.b); err != nil {
				return dst[:base], err
			}
		}
		dst = append(dst, bands[i].out.b[s.scan:s.end]...)
		if i < len(bands)-1 {
			dst = append(dst, 0xff, 0xd0+byte(i%8))
		}
	}
	return append(dst, 0xff, 0xd9), nil
}

// bandLayout locates the parts of one band's JPEG.
type bandLayout struct {
	sof  int // offset of the SOF0 marker
	sos  int // offset of the SOS marker
	scan int // first byte of entropy-coded data
	end  int // offset of EOI
}

// parseBand walks the marker segments up to the scan. libjpeg writes the
// scan last and ends the file with EOI, and byte stuffing keeps 0xFF 0xD9
// out of the scan, so the data runs to the final two bytes.
func parseBand(b []byte) (bandLayout, error) {
	l := bandLayout{sof: -1}
	if len(b) < 4 || b[0] != 0xff || b[1] != 0xd8 || b[len(b)-2] != 0xff || b[len(b)-1] != 0xd9 {
		return l, errStructure
	}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xff {
			return l, errStructure
		}
		marker, n := b[i+1], int(b[i+2])<<8|int(b[i+3])
		switch marker {
		case 0xc0:
			l.sof = i
		case 0xdd, 0xc2:
			return l, fmt.Errorf("%w: marker %#x", errStructure, marker)
		case 0xda:
			l.sos, l.scan, l.end = i, i+2+n, len(b)-2
			if l.sof < 0 || n < 2 || l.scan > l.end {
				return l, errStructure
			}
			return l, nil
		}
		i += 2 + n
	}
	return l, errStructure
}
