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
	avc          *avcTrack // nil for a JPEG track
	strip        []byte    // header-stripping compression: bytes to put back in front
	scale        int64     // nanoseconds per timestamp unit
	segEnd       int64     // sizeUnknown: to the end of the file
	firstCluster int64     // -1 when there is none
	inCluster    bool
	clusterEnd   int64 // sizeUnknown: until a top-level element
	clusterTC    int64
	base         int64 // timestamp of the first frame
	haveBase     bool
	n            int64 // frames met so far
	buf, out     []byte
}

func openMatroska(src source) (*mkvReader, error) {
	if err := readEBMLHeader(src.in); err != nil {
		return nil, err
	}
	r := &mkvReader{source: src, scale: 1e6, segEnd: sizeUnknown, firstCluster: -1}
	if err := r.findSegment(); err != nil {
		return nil, err
	}
	var head mkvHead
	if err := r.readSegmentHead(&head); err != nil {
		return nil, err
	}
	if err := r.chooseTrack(head.tracks); err != nil {
		return nil, err
	}
	if d := head.duration; d > 0 && d*float64(r.scale) < math.MaxInt64 {
		r.info.Duration = time.Duration(d * float64(r.scale))
	}
	if err := r.Rewind(); err != nil {
		return nil, err
	}
	return r, nil
}

// readEBMLHeader checks that the file is a Matroska or WebM document.
func readEBMLHeader(in *input) error {
	id, size, err := in.ebmlHeader()
	if err != nil || id != idEBML || size == sizeUnknown || size > 4096 {
		return fmt.Errorf("%w: bad EBML header", ErrUnknownFormat)
	}
	hdr := make([]byte, size)
	if err := in.full(hdr); err != nil {
		return fmt.Errorf("matroska: EBML header: %w", ErrTruncated)
	}
	docType := "matroska"
	if err := ebmlChildren(hdr, func(id uint32, b []byte) error {
		if id == idDocType {
			docType = ebmlString(b)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("%w: EBML header: %v", ErrUnknownFormat, err)
	}
	if docType != "matroska" && docType != "webm" {
		return fmt.Errorf("%w: EBML document type %q", ErrUnknownFormat, docType)
	}
	return nil
}

// findSegment moves to the body of the Segment, past anything else at level
// 0 (Void).
func (r *mkvReader) findSegment() error {
	in := r.in
	for {
		id, size, err := in.ebmlHeader()
		if err != nil {
			return r.openErr(err, "no Segment")
		}
		if id == idSegment {
			if size != sizeUnknown {
				r.segEnd = in.pos + size
			}
			return nil
		}
		if size == sizeUnknown {
			return fmt.Errorf("matroska: level-0 element 0x%X of unknown size", id)
		}
		if err := in.skip(size); err != nil {
			return fmt.Errorf("matroska: %w", err)
		}
	}
}

// mkvHead is what the segment says before its first cluster.
type mkvHead struct {
	tracks   []byte // the body of Tracks, nil until met
	duration float64
}

// readSegmentHead reads the segment's children up to its first cluster and
// its Tracks, whichever comes last.
func (r *mkvReader) readSegmentHead(head *mkvHead) error {
	in := r.in
	for head.tracks == nil || r.firstCluster < 0 {
		start := in.pos
		if r.segEnd != sizeUnknown && start >= r.segEnd {
			break
		}
		id, size, err := in.ebmlHeader()
		if err == io.EOF && start >= in.size && head.tracks != nil && r.segEnd == sizeUnknown {
			break // a live file without clusters
		}
		if err != nil {
			return r.openErr(err, "reading the segment header")
		}
		if id == idCluster && r.firstCluster < 0 {
			r.firstCluster = start
			if head.tracks != nil {
				break
			}
		}
		if size == sizeUnknown {
			return fmt.Errorf("matroska: element 0x%X of unknown size before the Tracks", id)
		}
		if err := r.onSegmentHeadChild(head, id, size); err != nil {
			return err
		}
	}
	if head.tracks == nil {
		return errors.New("matroska: no Tracks")
	}
	return nil
}

func (r *mkvReader) onSegmentHeadChild(head *mkvHead, id uint32, size int64) error {
	if id != idInfo && id != idTracks {
		if err := r.in.skip(size); err != nil {
			return fmt.Errorf("matroska: %w", err)
		}
		return nil
	}
	b, err := r.readMaster(id, size)
	if err != nil {
		return err
	}
	if id == idTracks {
		head.tracks = b
		return nil
	}
	if err := ebmlChildren(b, func(id uint32, b []byte) error {
		switch id {
		case idTimecodeScale:
			if v := ebmlUint(b); v > 0 && v <= math.MaxInt32 {
				r.scale = int64(v)
			}
		case idDuration:
			head.duration = ebmlFloat(b)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("matroska: Info: %w", err)
	}
	return nil
}

// readMaster reads the body of a master element that is kept in memory
// (Info, Tracks), within a limit that no real file comes near.
func (r *mkvReader) readMaster(id uint32, size int64) ([]byte, error) {
	in := r.in
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
	return b, nil
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
	video, err := videoTracks(b)
	if err != nil {
		return fmt.Errorf("matroska: Tracks: %w", err)
	}
	if len(video) == 0 {
		return errors.New("matroska: no video track")
	}
	t := video[0]
	for _, v := range video {
		if v.isMJPEG() || v.isH264() {
			t = v
			break
		}
	}
	if !t.isMJPEG() && !t.isH264() {
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
	if t.isH264() {
		return r.setH264(t)
	}
	return nil
}

// setH264 reads the configuration record of H.264 track t. Without it the
// samples cannot be split, but a decoder may still cope: ErrNotMJPEG.
func (r *mkvReader) setH264(t mkvTrack) error {
	a, err := parseAVCRecord(t.private)
	if err != nil {
		return fmt.Errorf("%w: matroska track %d is %s, but its CodecPrivate cannot be used: %w", ErrNotMJPEG, t.number, t.codec, err)
	}
	r.avc = a
	r.info.Codec, r.info.ParameterSets = codecH264, a.params
	if r.info.Width == 0 || r.info.Height == 0 {
		r.info.Width, r.info.Height = a.width, a.height
	}
	return nil
}

// videoTracks returns the video tracks of Tracks body b, in order.
func videoTracks(b []byte) ([]mkvTrack, error) {
	var video []mkvTrack
	err := ebmlChildren(b, func(id uint32, b []byte) error {
		if id != idTrackEntry {
			return nil
		}
		var t mkvTrack
		if err := ebmlChildren(b, t.onTrackEntry); err != nil {
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
	return video, err
}

func (t *mkvTrack) onTrackEntry(id uint32, b []byte) error {
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
		return ebmlChildren(b, t.onVideo)
	case idContentEncodings:
		return t.parseEncodings(b)
	}
	return nil
}

func (t *mkvTrack) onVideo(id uint32, b []byte) error {
	switch id {
	case idPixelWidth:
		t.width = ebmlUint(b)
	case idPixelHeight:
		t.height = ebmlUint(b)
	}
	return nil
}

// isMJPEG reports whether the track's frames are plain JPEG pictures, named
// as Matroska does or through a VfW FourCC.
func (t *mkvTrack) isMJPEG() bool {
	c, ok := strings.CutPrefix(t.codec, "V_MS/VFW/FOURCC/")
	return t.codec == "V_MJPEG" || ok && isMJPEGFourCC(c)
}

// isH264 reports whether the track is H.264 stored as ISO/IEC 14496-15
// says (length-prefixed NAL units, configuration record in CodecPrivate).
func (t *mkvTrack) isH264() bool { return t.codec == "V_MPEG4/ISO/AVC" }

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
	for !r.done {
		e, err := r.element()
		if err != nil {
			return nil, 0, err
		}
		if !r.inCluster {
			if err := r.onSegmentChild(e); err != nil {
				return nil, 0, err
			}
			continue
		}
		if b, pts, err := r.onClusterChild(e); b != nil || err != nil {
			return b, pts, err
		}
	}
	return nil, 0, io.EOF
}

// mkvElement is an element header just read: its body starts at in.pos.
type mkvElement struct {
	id    uint32
	start int64 // offset of the header
	size  int64 // sizeUnknown or the size of the body
	end   int64 // sizeUnknown or the offset after the body
}

// element reads the next element header of the segment, leaving a cluster
// that has ended, and checks the element against the end of its parent
// and of the file.
func (r *mkvReader) element() (mkvElement, error) {
	in := r.in
	e := mkvElement{start: in.pos, end: sizeUnknown}
	if r.inCluster && r.clusterEnd != sizeUnknown && e.start >= r.clusterEnd {
		r.inCluster = false
	}
	if r.segEnd != sizeUnknown && e.start >= r.segEnd {
		r.done = true
		return e, io.EOF
	}
	var err error
	e.id, e.size, err = in.ebmlHeader()
	switch {
	case err == io.EOF && e.start >= in.size:
		if r.segEnd > in.size || r.inCluster && r.clusterEnd > in.size {
			return e, r.truncated("the segment ends %d bytes beyond the end of the file", max(r.segEnd, r.clusterEnd)-in.size)
		}
		r.done = true
		return e, io.EOF
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return e, r.truncated("element header at offset %d: the file ends there", e.start)
	case err == errBadEBML:
		return e, r.resync(e.start, "invalid element header at offset %d", e.start)
	case err != nil:
		return e, r.fail(err)
	}
	if r.inCluster && r.clusterEnd == sizeUnknown && isTopLevel(e.id) {
		r.inCluster = false
	}
	if e.size == sizeUnknown {
		return e, nil
	}
	e.end = in.pos + e.size
	parentEnd := r.segEnd
	if r.inCluster {
		parentEnd = r.clusterEnd
	}
	// A cut cluster still holds the frames before the cut: enter it.
	if e.end > in.size && e.id != idCluster && (parentEnd == sizeUnknown || parentEnd > in.size) {
		return e, r.truncated("frame %d: element 0x%X at offset %d ends beyond the end of the file", r.n, e.id, e.start)
	}
	if parentEnd != sizeUnknown && e.end > parentEnd {
		return e, r.resync(e.start, "element 0x%X at offset %d overruns its parent by %d bytes", e.id, e.start, e.end-parentEnd)
	}
	return e, nil
}

// onSegmentChild enters a cluster and skips any other child of the segment.
func (r *mkvReader) onSegmentChild(e mkvElement) error {
	switch {
	case e.id == idCluster:
		r.inCluster, r.clusterEnd, r.clusterTC = true, e.end, 0
		return nil
	case e.id == idEBML || e.id == idSegment:
		// A second segment (chained recordings): only the first is read.
		r.done = true
		return io.EOF
	case e.size == sizeUnknown:
		return r.fail(fmt.Errorf("element 0x%X at offset %d has an unknown size", e.id, e.start))
	}
	if err := r.in.skip(e.size); err != nil {
		return r.fail(err)
	}
	return nil
}

// onClusterChild returns the frame of a block of our track, an error, or
// neither when reading must go on.
func (r *mkvReader) onClusterChild(e mkvElement) ([]byte, time.Duration, error) {
	if e.size == sizeUnknown {
		return nil, 0, r.resync(e.start, "element 0x%X at offset %d has an unknown size inside a cluster", e.id, e.start)
	}
	switch e.id {
	case idTimecode:
		return nil, 0, r.onTimecode(e)
	case idSimpleBlock:
		return r.onSimpleBlock(e)
	case idBlockGroup:
		return r.onBlockGroup(e)
	}
	if err := r.in.skip(e.size); err != nil {
		return nil, 0, r.fail(err)
	}
	return nil, 0, nil
}

func (r *mkvReader) onTimecode(e mkvElement) error {
	var b [8]byte
	if e.size > 8 {
		return r.resync(e.start, "cluster timestamp of %d bytes", e.size)
	}
	if err := r.in.full(b[:e.size]); err != nil {
		return r.fail(err)
	}
	r.clusterTC = int64(ebmlUint(b[:e.size]))
	return nil
}

// onSimpleBlock reads the block only when it is our track's, after its
// track number.
func (r *mkvReader) onSimpleBlock(e mkvElement) ([]byte, time.Duration, error) {
	in := r.in
	track, n, err := in.ebmlVint()
	if err != nil || int64(n) > e.size {
		return nil, 0, r.resync(e.start, "block at offset %d: invalid track number", e.start)
	}
	rest := e.size - int64(n)
	if track != r.track {
		if err := in.skip(rest); err != nil {
			return nil, 0, r.fail(err)
		}
		return nil, 0, nil
	}
	if rest > maxFrameSize {
		if err := in.skip(rest); err != nil {
			return nil, 0, r.fail(err)
		}
		r.n++
		return nil, 0, r.corrupt(r.n-1, "block at offset %d: size %d", e.start, e.size)
	}
	r.buf = grow(r.buf, int(rest))
	if err := in.full(r.buf); err != nil {
		return nil, 0, r.fail(err)
	}
	return r.frame(r.buf, e.start)
}

// onBlockGroup reads the whole group, bounded by the frame size limit, to
// find its Block.
func (r *mkvReader) onBlockGroup(e mkvElement) ([]byte, time.Duration, error) {
	if e.size > maxFrameSize+4096 {
		if err := r.in.skip(e.size); err != nil {
			return nil, 0, r.fail(err)
		}
		r.n++
		return nil, 0, r.corrupt(r.n-1, "block group at offset %d: size %d", e.start, e.size)
	}
	r.buf = grow(r.buf, int(e.size))
	if err := r.in.full(r.buf); err != nil {
		return nil, 0, r.fail(err)
	}
	var block []byte
	if err := ebmlChildren(r.buf, func(id uint32, b []byte) error {
		if id == idBlock && block == nil {
			block = b
		}
		return nil
	}); err != nil {
		return nil, 0, r.corrupt(r.n, "block group at offset %d: %v", e.start, err)
	}
	if block == nil {
		return nil, 0, nil
	}
	track, n, ok := ebmlVintBytes(block)
	if !ok {
		return nil, 0, r.corrupt(r.n, "block at offset %d: invalid track number", e.start)
	}
	if track != r.track {
		return nil, 0, nil
	}
	return r.frame(block[n:], e.start)
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
	pts := time.Duration(ts - r.base)
	if r.avc != nil {
		au, err := r.avc.annexB(frame)
		if err != nil {
			return nil, 0, r.corrupt(n, "block at offset %d: %v", start, err)
		}
		return au, pts, nil
	}
	if !isSOI(frame) {
		return nil, 0, r.corrupt(n, "block at offset %d does not start with a JPEG SOI marker", start)
	}
	return frame, pts, nil
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
