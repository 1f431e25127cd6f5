package demux

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strings"
	"time"
)

// Matroska and WebM are read by a minimal streaming EBML reader of our own,
// not github.com/at-wat/ebml-go (v0.17.1), because:
//   - ebml.Unmarshal allocates every element's payload at the size the file
//     claims (make([]byte, n) before reading), so one damaged size field
//     panics with "makeslice: len out of range" or allocates gigabytes, and it
//     reads every binary element it meets into memory, wanted or not
//     (attachments, cues) since it cannot seek past them;
//   - it pushes a whole file through one call: reading frame by frame takes
//     a goroutine and channels (its mkvcore block reader, which panics on
//     errors by default), with nothing to stop it or rewind it cleanly.
//
// This reader reads the EBML header, Segment/Info (timestamp scale,
// duration) and Segment/Tracks into memory (both are small), then walks the
// clusters in file order: Cluster/Timestamp, Cluster/SimpleBlock and
// Cluster/BlockGroup/Block for the chosen track, skipping everything else by
// its size. Unknown-size (live) segments and clusters are followed. Laced
// blocks are refused (ErrCorruptFrame): video is never laced in practice.

const (
	idEBML        = 0x1A45DFA3
	idDocType     = 0x4282
	idSegment     = 0x18538067
	idSeekHead    = 0x114D9B74
	idInfo        = 0x1549A966
	idTracks      = 0x1654AE6B
	idCues        = 0x1C53BB6B
	idCluster     = 0x1F43B675
	idTags        = 0x1254C367
	idAttachments = 0x1941A469
	idChapters    = 0x1043A770

	idTimecodeScale = 0x2AD7B1
	idDuration      = 0x4489

	idTrackEntry      = 0xAE
	idTrackNumber     = 0xD7
	idTrackType       = 0x83
	idCodecID         = 0x86
	idCodecPrivate    = 0x63A2
	idDefaultDuration = 0x23E383
	idVideo           = 0xE0
	idPixelWidth      = 0xB0
	idPixelHeight     = 0xBA

	idContentEncodings     = 0x6D80
	idContentEncoding      = 0x6240
	idContentEncodingScope = 0x5032
	idContentCompression   = 0x5034
	idContentCompAlgo      = 0x4254
	idContentCompSettings  = 0x4255
	idContentEncryption    = 0x5035

	idTimecode    = 0xE7
	idSimpleBlock = 0xA3
	idBlockGroup  = 0xA0
	idBlock       = 0xA1
)

const sizeUnknown = -1

var errBadEBML = errors.New("invalid EBML element header")

// isTopLevel reports whether id is a Segment child (or a new EBML document),
// which ends a cluster of unknown size.
func isTopLevel(id uint32) bool {
	switch id {
	case idSeekHead, idInfo, idTracks, idCues, idCluster, idTags, idAttachments, idChapters, idEBML, idSegment:
		return true
	}
	return false
}

type mkvReader struct {
	source
	info         Info
	track        uint64
	strip        []byte // header-stripping compression: bytes to put back in front
	scale        int64  // nanoseconds per timestamp unit
	segEnd       int64  // sizeUnknown: to the end of the file
	firstCluster int64  // -1 when there is none
	inCluster    bool
	clusterEnd   int64 // sizeUnknown: until a top-level element
	clusterTC    int64
	base         int64 // timestamp of the first frame
	haveBase     bool
	n            int64 // frames met so far
	buf, out     []byte
}

func openMatroska(src source) (*mkvReader, error) {
	in := src.in
	id, size, err := in.ebmlHeader()
	if err != nil || id != idEBML || size == sizeUnknown || size > 4096 {
		return nil, fmt.Errorf("%w: bad EBML header", ErrUnknownFormat)
	}
	hdr := make([]byte, size)
	if err := in.full(hdr); err != nil {
		return nil, fmt.Errorf("matroska: EBML header: %w", ErrTruncated)
	}
	docType := "matroska"
	if err := ebmlChildren(hdr, func(id uint32, b []byte) error {
		if id == idDocType {
			docType = ebmlString(b)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("%w: EBML header: %v", ErrUnknownFormat, err)
	}
	if docType != "matroska" && docType != "webm" {
		return nil, fmt.Errorf("%w: EBML document type %q", ErrUnknownFormat, docType)
	}
	r := &mkvReader{source: src, scale: 1e6, segEnd: sizeUnknown, firstCluster: -1}
	for { // the Segment, after anything else at level 0 (Void)
		id, size, err := in.ebmlHeader()
		if err != nil {
			return nil, r.openErr(err, "no Segment")
		}
		if id == idSegment {
			if size != sizeUnknown {
				r.segEnd = in.pos + size
			}
			break
		}
		if size == sizeUnknown {
			return nil, fmt.Errorf("matroska: level-0 element 0x%X of unknown size", id)
		}
		if err := in.skip(size); err != nil {
			return nil, err
		}
	}
	var tracks []byte
	var duration float64
	for tracks == nil || r.firstCluster < 0 {
		start := in.pos
		if r.segEnd != sizeUnknown && start >= r.segEnd {
			break
		}
		id, size, err := in.ebmlHeader()
		if err == io.EOF && start >= in.size && tracks != nil && r.segEnd == sizeUnknown {
			break // a live file without clusters
		}
		if err != nil {
			return nil, r.openErr(err, "reading the segment header")
		}
		if id == idCluster && r.firstCluster < 0 {
			r.firstCluster = start
			if tracks != nil {
				break
			}
		}
		if size == sizeUnknown {
			return nil, fmt.Errorf("matroska: element 0x%X of unknown size before the Tracks", id)
		}
		switch id {
		case idInfo, idTracks:
			if size > 16<<20 {
				return nil, fmt.Errorf("matroska: element 0x%X of %d bytes", id, size)
			}
			if in.pos+size > in.size {
				return nil, r.openErr(io.EOF, "reading the segment header")
			}
			b := make([]byte, size)
			if err := in.full(b); err != nil {
				return nil, r.openErr(err, "reading the segment header")
			}
			if id == idTracks {
				tracks = b
				continue
			}
			if err := ebmlChildren(b, func(id uint32, b []byte) error {
				switch id {
				case idTimecodeScale:
					if v := ebmlUint(b); v > 0 && v <= math.MaxInt32 {
						r.scale = int64(v)
					}
				case idDuration:
					duration = ebmlFloat(b)
				}
				return nil
			}); err != nil {
				return nil, fmt.Errorf("matroska: Info: %w", err)
			}
		default:
			if err := in.skip(size); err != nil {
				return nil, err
			}
		}
	}
	if tracks == nil {
		return nil, errors.New("matroska: no Tracks")
	}
	if err := r.chooseTrack(tracks); err != nil {
		return nil, err
	}
	if duration > 0 && duration*float64(r.scale) < math.MaxInt64 {
		r.info.Duration = time.Duration(duration * float64(r.scale))
	}
	if err := r.Rewind(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *mkvReader) openErr(err error, what string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("matroska: %s: %w", what, ErrTruncated)
	}
	return fmt.Errorf("matroska: %s: %w", what, err)
}

type mkvTrack struct {
	number          uint64
	typ             uint64
	codec           string
	private         []byte
	defaultDuration uint64
	width, height   uint64
	encoding        error // content encoding we cannot undo
	strip           []byte
}

func (r *mkvReader) chooseTrack(b []byte) error {
	var video []mkvTrack
	err := ebmlChildren(b, func(id uint32, b []byte) error {
		if id != idTrackEntry {
			return nil
		}
		var t mkvTrack
		err := ebmlChildren(b, func(id uint32, b []byte) error {
			switch id {
			case idTrackNumber:
				t.number = ebmlUint(b)
			case idTrackType:
				t.typ = ebmlUint(b)
			case idCodecID:
				t.codec = ebmlString(b)
			case idCodecPrivate:
				t.private = b
			case idDefaultDuration:
				t.defaultDuration = ebmlUint(b)
			case idVideo:
				return ebmlChildren(b, func(id uint32, b []byte) error {
					switch id {
					case idPixelWidth:
						t.width = ebmlUint(b)
					case idPixelHeight:
						t.height = ebmlUint(b)
					}
					return nil
				})
			case idContentEncodings:
				return t.parseEncodings(b)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if t.typ == 1 {
			if t.codec == "V_MS/VFW/FOURCC" && len(t.private) >= 20 {
				t.codec += "/" + bitmapCodec(t.private[16:20])
			}
			video = append(video, t)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("matroska: Tracks: %w", err)
	}
	if len(video) == 0 {
		return errors.New("matroska: no video track")
	}
	isMJPEG := func(t mkvTrack) bool {
		c, ok := strings.CutPrefix(t.codec, "V_MS/VFW/FOURCC/")
		return t.codec == "V_MJPEG" || ok && isMJPEGFourCC(c)
	}
	t := video[0]
	for _, v := range video {
		if isMJPEG(v) {
			t = v
			break
		}
	}
	if !isMJPEG(t) {
		return fmt.Errorf("%w: matroska track %d is %s", ErrNotMJPEG, t.number, t.codec)
	}
	if t.encoding != nil {
		return fmt.Errorf("%w: matroska track %d (%s): %v", ErrNotMJPEG, t.number, t.codec, t.encoding)
	}
	if t.number == 0 {
		return errors.New("matroska: video track without a number")
	}
	r.track, r.strip = t.number, t.strip
	r.info = Info{Container: "matroska", Codec: t.codec, Width: int(min(t.width, 1<<20)), Height: int(min(t.height, 1<<20))}
	if t.defaultDuration > 0 {
		r.info.FPS = 1e9 / float64(t.defaultDuration)
	}
	return nil
}

// parseEncodings handles ContentEncodings: header stripping is undone, any
// other compression or encryption of the frames cannot be passed through.
func (t *mkvTrack) parseEncodings(b []byte) error {
	return ebmlChildren(b, func(id uint32, b []byte) error {
		if id != idContentEncoding {
			return nil
		}
		scope := uint64(1)
		var comp, encrypted bool
		algo := uint64(0) // zlib by default
		var settings []byte
		err := ebmlChildren(b, func(id uint32, b []byte) error {
			switch id {
			case idContentEncodingScope:
				scope = ebmlUint(b)
			case idContentEncryption:
				encrypted = true
			case idContentCompression:
				comp = true
				return ebmlChildren(b, func(id uint32, b []byte) error {
					switch id {
					case idContentCompAlgo:
						algo = ebmlUint(b)
					case idContentCompSettings:
						settings = b
					}
					return nil
				})
			}
			return nil
		})
		switch {
		case err != nil:
			return err
		case scope&1 == 0: // does not apply to the frames
		case encrypted:
			t.encoding = errors.New("encrypted frames")
		case comp && algo == 3:
			t.strip = append(t.strip, settings...)
		case comp:
			t.encoding = fmt.Errorf("frames compressed with algorithm %d", algo)
		}
		return nil
	})
}

func (r *mkvReader) Info() Info { return r.info }

func (r *mkvReader) Rewind() error {
	r.done, r.inCluster, r.n = false, false, 0
	if r.firstCluster < 0 {
		r.done = true // no frames at all
		return nil
	}
	if err := r.in.seek(r.firstCluster); err != nil {
		return fmt.Errorf("demux %s: %w", r.path, err)
	}
	return nil
}

func (r *mkvReader) Next() ([]byte, time.Duration, error) {
	in := r.in
	for {
		if r.done {
			return nil, 0, io.EOF
		}
		start := in.pos
		if r.inCluster && r.clusterEnd != sizeUnknown && start >= r.clusterEnd {
			r.inCluster = false
		}
		if r.segEnd != sizeUnknown && start >= r.segEnd {
			r.done = true
			return nil, 0, io.EOF
		}
		id, size, err := in.ebmlHeader()
		switch {
		case err == io.EOF && start >= in.size:
			if r.segEnd > in.size || r.inCluster && r.clusterEnd > in.size {
				return nil, 0, r.truncated("the segment ends %d bytes beyond the end of the file", max(r.segEnd, r.clusterEnd)-in.size)
			}
			r.done = true
			return nil, 0, io.EOF
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return nil, 0, r.truncated("element header at offset %d: the file ends there", start)
		case err == errBadEBML:
			return nil, 0, r.resync(start, "invalid element header at offset %d", start)
		case err != nil:
			return nil, 0, r.fail(err)
		}
		if r.inCluster && r.clusterEnd == sizeUnknown && isTopLevel(id) {
			r.inCluster = false
		}
		end := int64(sizeUnknown)
		if size != sizeUnknown {
			end = in.pos + size
			parentEnd := r.segEnd
			if r.inCluster {
				parentEnd = r.clusterEnd
			}
			// A cut cluster still holds the frames before the cut: enter it.
			if end > in.size && id != idCluster && (parentEnd == sizeUnknown || parentEnd > in.size) {
				return nil, 0, r.truncated("frame %d: element 0x%X at offset %d ends beyond the end of the file", r.n, id, start)
			}
			if parentEnd != sizeUnknown && end > parentEnd {
				return nil, 0, r.resync(start, "element 0x%X at offset %d overruns its parent by %d bytes", id, start, end-parentEnd)
			}
		}
		if !r.inCluster {
			switch {
			case id == idCluster:
				r.inCluster, r.clusterEnd, r.clusterTC = true, end, 0
				continue
			case id == idEBML || id == idSegment:
				// A second segment (chained recordings): only the first is read.
				r.done = true
				return nil, 0, io.EOF
			case size == sizeUnknown:
				return nil, 0, r.fail(fmt.Errorf("element 0x%X at offset %d has an unknown size", id, start))
			}
			if err := in.skip(size); err != nil {
				return nil, 0, r.fail(err)
			}
			continue
		}
		if size == sizeUnknown {
			return nil, 0, r.resync(start, "element 0x%X at offset %d has an unknown size inside a cluster", id, start)
		}
		switch id {
		case idTimecode:
			var b [8]byte
			if size > 8 {
				return nil, 0, r.resync(start, "cluster timestamp of %d bytes", size)
			}
			if err := in.full(b[:size]); err != nil {
				return nil, 0, r.fail(err)
			}
			r.clusterTC = int64(ebmlUint(b[:size]))
			continue
		case idSimpleBlock:
			track, n, err := in.ebmlVint()
			if err != nil || int64(n) > size {
				return nil, 0, r.resync(start, "block at offset %d: invalid track number", start)
			}
			if track != r.track {
				if err := in.skip(size - int64(n)); err != nil {
					return nil, 0, r.fail(err)
				}
				continue
			}
			if size-int64(n) > maxFrameSize {
				if err := in.skip(size - int64(n)); err != nil {
					return nil, 0, r.fail(err)
				}
				r.n++
				return nil, 0, r.corrupt(r.n-1, "block at offset %d: size %d", start, size)
			}
			r.buf = grow(r.buf, int(size)-n)
			if err := in.full(r.buf); err != nil {
				return nil, 0, r.fail(err)
			}
			return r.frame(r.buf, start)
		case idBlockGroup:
			if size > maxFrameSize+4096 {
				if err := in.skip(size); err != nil {
					return nil, 0, r.fail(err)
				}
				r.n++
				return nil, 0, r.corrupt(r.n-1, "block group at offset %d: size %d", start, size)
			}
			r.buf = grow(r.buf, int(size))
			if err := in.full(r.buf); err != nil {
				return nil, 0, r.fail(err)
			}
			var block []byte
			if err := ebmlChildren(r.buf, func(id uint32, b []byte) error {
				if id == idBlock && block == nil {
					block = b
				}
				return nil
			}); err != nil {
				return nil, 0, r.corrupt(r.n, "block group at offset %d: %v", start, err)
			}
			if block == nil {
				continue
			}
			track, n, ok := ebmlVintBytes(block)
			if !ok {
				return nil, 0, r.corrupt(r.n, "block at offset %d: invalid track number", start)
			}
			if track != r.track {
				continue
			}
			return r.frame(block[n:], start)
		default:
			if err := in.skip(size); err != nil {
				return nil, 0, r.fail(err)
			}
		}
	}
}

// frame finishes a block of our track: b is what follows the track number.
func (r *mkvReader) frame(b []byte, start int64) ([]byte, time.Duration, error) {
	n := r.n
	r.n++
	if len(b) < 3 {
		return nil, 0, r.corrupt(n, "block at offset %d: %d bytes", start, len(b))
	}
	ts := (r.clusterTC + int64(int16(binary.BigEndian.Uint16(b)))) * r.scale
	if !r.haveBase {
		r.base, r.haveBase = ts, true
	}
	if b[2]&0x06 != 0 {
		return nil, 0, r.corrupt(n, "block at offset %d is laced (several frames in one block)", start)
	}
	frame := b[3:]
	if len(r.strip) > 0 {
		r.out = append(append(r.out[:0], r.strip...), frame...)
		frame = r.out
	}
	if !isSOI(frame) {
		return nil, 0, r.corrupt(n, "block at offset %d does not start with a JPEG SOI marker", start)
	}
	return frame, time.Duration(ts - r.base), nil
}

// resync skips to the next Cluster after damage at start.
func (r *mkvReader) resync(start int64, format string, args ...any) error {
	err := r.corrupt(r.n, format, args...)
	if e := r.in.seek(start + 1); e != nil {
		return r.fail(e)
	}
	r.inCluster = false
	if _, e := r.in.skipTo([]byte{0x1F, 0x43, 0xB6, 0x75}); e != nil && e != io.EOF {
		return r.fail(e)
	}
	return err
}

// ebmlHeader reads an element ID and data size. A size of all ones is
// sizeUnknown.
func (in *input) ebmlHeader() (uint32, int64, error) {
	b, err := in.byte()
	if err != nil {
		return 0, 0, err
	}
	n := bits.LeadingZeros8(b) + 1
	if n > 4 {
		return 0, 0, errBadEBML
	}
	id := uint32(b)
	for i := 1; i < n; i++ {
		c, err := in.byte()
		if err != nil {
			return 0, 0, io.ErrUnexpectedEOF
		}
		id = id<<8 | uint32(c)
	}
	size, _, err := in.ebmlVintRaw(true)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return id, size, err
}

// ebmlVint reads a variable-size integer (a block's track number).
func (in *input) ebmlVint() (uint64, int, error) {
	v, n, err := in.ebmlVintRaw(false)
	return uint64(v), n, err
}

func (in *input) ebmlVintRaw(allowUnknown bool) (int64, int, error) {
	b, err := in.byte()
	if err != nil {
		return 0, 0, err
	}
	n := bits.LeadingZeros8(b) + 1
	if n > 8 {
		return 0, 1, errBadEBML
	}
	mask := byte(0xFF) >> n
	v := uint64(b & mask)
	ones := b&mask == mask
	for i := 1; i < n; i++ {
		c, err := in.byte()
		if err != nil {
			return 0, i, io.ErrUnexpectedEOF
		}
		v = v<<8 | uint64(c)
		ones = ones && c == 0xFF
	}
	if ones && allowUnknown {
		return sizeUnknown, n, nil
	}
	return int64(v), n, nil
}

// ebmlVintBytes decodes a variable-size integer at the start of b.
func ebmlVintBytes(b []byte) (v uint64, n int, ok bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, false
	}
	n = bits.LeadingZeros8(b[0]) + 1
	if len(b) < n {
		return 0, 0, false
	}
	v = uint64(b[0] & (0xFF >> n))
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
	}
	return v, n, true
}

// ebmlChildren calls fn for each element in b (a master element's body held
// in memory). Sizes must be known and fit.
func ebmlChildren(b []byte, fn func(id uint32, body []byte) error) error {
	for len(b) > 0 {
		if b[0] == 0 || bits.LeadingZeros8(b[0]) >= 4 {
			return errBadEBML
		}
		idLen := bits.LeadingZeros8(b[0]) + 1
		if len(b) < idLen {
			return errBadEBML
		}
		var id uint32
		for _, c := range b[:idLen] {
			id = id<<8 | uint32(c)
		}
		size, n, ok := ebmlVintBytes(b[idLen:])
		if !ok || size > uint64(len(b)-idLen-n) {
			return fmt.Errorf("element 0x%X: bad size", id)
		}
		b = b[idLen+n:]
		if err := fn(id, b[:size]); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

func ebmlUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

func ebmlFloat(b []byte) float64 {
	switch len(b) {
	case 4:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b)))
	case 8:
		return math.Float64frombits(binary.BigEndian.Uint64(b))
	}
	return 0
}

func ebmlString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
