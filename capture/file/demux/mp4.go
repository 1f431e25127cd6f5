package demux

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/abema/go-mp4"
)

// MP4 and QuickTime files are parsed with github.com/abema/go-mp4: we walk
// the box tree with its box header reader (seeking past mdat, never loading
// it, see mp4box.go), and its box types decode the tables we need: mdhd,
// hdlr, stts, ctts, stsc, stsz, stco/co64, and for fragmented files trex,
// tfhd, tfdt, trun.
// Its Probe helper is not used: it recognizes only avc1/mp4a sample entries,
// ignores a constant stsz sample size and builds one heap object per sample.
// Sample entries go-mp4 does not know ('jpeg', 'mjpa') are read by hand
// (width and height sit at fixed offsets of every VisualSampleEntry).
//
// Samples are then read in decoding order straight from the file by offset.
// MJPEG is stored as 'jpeg' (QuickTime Photo-JPEG), 'mjpa' (Motion-JPEG
// format A: the sample may hold two fields, passed as they are) or, in
// ISO MP4 files written by ffmpeg, 'mp4v' with an esds object type of 0x6C
// (ISO/IEC 10918-1 JPEG), reported as "mp4v.6C" after RFC 6381. H.264 is
// stored as 'avc1' or 'avc3', its configuration in an avcC box (h264.go).
//
// A file without a moov box (a recording that was never finished: ffmpeg
// writes moov last) still has its frames in mdat: when mdat starts with a
// JPEG picture the frames are recovered by scanning for pictures, timed like
// raw MJPEG, and the stream ends with ErrTruncated.

type mp4Sample struct {
	off  uint64
	size uint32
	pts  int64 // in the track's timescale, before normalization
}

type mp4Track struct {
	id          uint32
	handler     string
	timescale   uint32
	duration    uint64
	entry       string // type of the first sample entry
	oti         int    // mp4v: esds object type indication, -1 when absent
	width       int
	height      int
	stts        []mp4.SttsEntry
	ctts        *mp4.Ctts
	stsc        []mp4.StscEntry
	stsz        *mp4.Stsz
	chunks      []uint64
	haveEntries bool
	avc         *avcTrack // H.264: from the avcC box
	avcErr      error     // H.264: why avcC could not be read
}

type mp4Traf struct {
	moof  uint64
	first bool // first traf of its moof
	tfhd  *mp4.Tfhd
	tfdt  *mp4.Tfdt
	truns []*mp4.Trun
}

func (t *mp4Track) codec() string {
	if t.entry == "mp4v" && t.oti >= 0 {
		return fmt.Sprintf("mp4v.%02X", t.oti)
	}
	return t.entry
}

func (t *mp4Track) isH264() bool { return t.entry == "avc1" || t.entry == "avc3" }

// readable reports whether the track's samples can be passed through.
func (t *mp4Track) readable() bool { return isMJPEGEntry(t.codec()) || t.isH264() }

func isMJPEGEntry(c string) bool {
	switch c {
	case "jpeg", "mjpa", "mp4v.6C", "MJPG", "AVDJ", "AVRn", "dmb1":
		return true
	}
	return false
}

// Limits on what a damaged or hostile file can make us allocate or loop
// over: samples per trun, and samples in all fragments.
const (
	maxTrunSamples = 1 << 16
	maxFragSamples = 1 << 22
)

type mp4Reader struct {
	source
	f         file
	info      Info
	avc       *avcTrack // nil for a JPEG track
	timescale uint64
	it        stblIter
	frags     []mp4Sample
	fi        int
	n         int64
	base      int64
	haveBase  bool
	buf       []byte

	lastFragEnd uint64 // end of the previous track fragment's data
}

func openMP4(f file, src source, o options) (Reader, error) {
	p := &mp4Parser{f: f, trex: map[uint32]*mp4.Trex{}}
	if err := p.parse(); err != nil {
		return nil, p.openErr(err, uint64(src.in.size))
	}
	if !p.sawMoov {
		return recoverMP4(f, src, p.mdat, o)
	}
	t, err := chooseMP4Track(p.tracks)
	if err != nil {
		return nil, err
	}
	mr := &mp4Reader{source: src, f: f, avc: t.avc, timescale: uint64(t.timescale)}
	if err := mr.it.init(t); err != nil {
		return nil, fmt.Errorf("mp4: sample table: %w", err)
	}
	endDTS := mr.it.span()
	for _, tr := range p.trafs {
		if tr.tfhd == nil {
			continue
		}
		// Fragments of every track share a trex lookup; a missing one gives
		// zero defaults, which tfhd or trun must then override.
		var ok bool
		if endDTS, ok = mr.addFragment(tr, p.trex[tr.tfhd.TrackID], t, endDTS); !ok {
			return nil, errors.New("mp4: fragments hold too many samples")
		}
	}
	mr.setInfo(t, endDTS)
	if err := mr.Rewind(); err != nil {
		return nil, err
	}
	return mr, nil
}

// chooseMP4Track picks the first MJPEG or H.264 video track, or names the
// codec of the first video track when there is none.
func chooseMP4Track(tracks []*mp4Track) (*mp4Track, error) {
	var video []*mp4Track
	for _, t := range tracks {
		if t.handler == "vide" {
			video = append(video, t)
		}
	}
	if len(video) == 0 {
		return nil, errors.New("mp4: no video track")
	}
	t := video[0]
	for _, v := range video {
		if v.readable() {
			t = v
			break
		}
	}
	if !t.readable() {
		return nil, fmt.Errorf("%w: mp4 track %d is %s", ErrNotMJPEG, t.id, t.codec())
	}
	switch {
	case t.avcErr != nil:
		return nil, fmt.Errorf("%w: mp4 track %d is %s, but its avcC box cannot be used: %w", ErrNotMJPEG, t.id, t.codec(), t.avcErr)
	case t.isH264() && t.avc == nil:
		return nil, fmt.Errorf("%w: mp4 track %d is %s without an avcC box", ErrNotMJPEG, t.id, t.codec())
	}
	if t.timescale == 0 {
		return nil, errors.New("mp4: video track without a timescale")
	}
	return t, nil
}

// setInfo fills r.info once the samples of track t are known; endDTS is the
// decode time after the last of them.
func (r *mp4Reader) setInfo(t *mp4Track, endDTS int64) {
	frames := int64(r.it.count) + int64(len(r.frags))
	r.info = Info{
		Container: "mp4",
		Codec:     t.codec(),
		Width:     t.width,
		Height:    t.height,
		Frames:    int(frames),
		Duration:  ticks(int64(t.duration), 1, uint64(t.timescale)),
	}
	if a := t.avc; a != nil {
		r.info.Codec, r.info.ParameterSets = codecH264, a.params
		if r.info.Width == 0 || r.info.Height == 0 {
			r.info.Width, r.info.Height = a.width, a.height
		}
	}
	if r.info.Duration == 0 && endDTS > 0 {
		r.info.Duration = ticks(endDTS, 1, uint64(t.timescale))
	}
	switch {
	case len(t.stts) == 1 && t.stts[0].SampleDelta > 0 && len(r.frags) == 0:
		r.info.FPS = float64(t.timescale) / float64(t.stts[0].SampleDelta)
	case r.info.Duration > 0 && frames > 0:
		r.info.FPS = float64(frames) / r.info.Duration.Seconds()
	}
}

// addFragment appends the samples of one track fragment when it belongs to
// track t, and returns the decode time after it.
func (r *mp4Reader) addFragment(tr *mp4Traf, trex *mp4.Trex, t *mp4Track, dts int64) (int64, bool) {
	h := tr.tfhd
	if h.TrackID != t.id {
		return dts, true
	}
	var defDur, defSize uint32
	if trex != nil {
		defDur, defSize = trex.DefaultSampleDuration, trex.DefaultSampleSize
	}
	if h.CheckFlag(mp4.TfhdDefaultSampleDurationPresent) {
		defDur = h.DefaultSampleDuration
	}
	if h.CheckFlag(mp4.TfhdDefaultSampleSizePresent) {
		defSize = h.DefaultSampleSize
	}
	base := tr.moof
	switch {
	case h.CheckFlag(mp4.TfhdBaseDataOffsetPresent):
		base = h.BaseDataOffset
	case h.CheckFlag(mp4.TfhdDefaultBaseIsMoof), tr.first:
	default:
		base = r.lastFragEnd
	}
	if tr.tfdt != nil {
		dts = int64(tr.tfdt.GetBaseMediaDecodeTime())
	}
	pos := base
	for _, run := range tr.truns {
		if run.CheckFlag(0x000001) {
			pos = base + uint64(int64(run.DataOffset))
		}
		for i, e := range run.Entries {
			dur, size := defDur, defSize
			if run.CheckFlag(0x000100) {
				dur = e.SampleDuration
			}
			if run.CheckFlag(0x000200) {
				size = e.SampleSize
			}
			var cto int64
			if run.CheckFlag(0x000800) {
				cto = run.GetSampleCompositionTimeOffset(i)
			}
			if len(r.frags) >= maxFragSamples {
				return dts, false
			}
			r.frags = append(r.frags, mp4Sample{off: pos, size: size, pts: dts + cto})
			pos += uint64(size)
			dts += int64(dur)
		}
	}
	r.lastFragEnd = pos
	return dts, true
}

func (r *mp4Reader) Info() Info { return r.info }

func (r *mp4Reader) Rewind() error {
	r.it.reset()
	r.fi, r.n, r.done = 0, 0, false
	return nil
}

func (r *mp4Reader) Next() ([]byte, time.Duration, error) {
	if r.done {
		return nil, 0, io.EOF
	}
	var s mp4Sample
	if r.it.i < r.it.count {
		var err error
		if s, err = r.it.next(); err != nil {
			return nil, 0, r.fail(fmt.Errorf("sample table: %w", err))
		}
	} else if r.fi < len(r.frags) {
		s = r.frags[r.fi]
		r.fi++
	} else {
		r.done = true
		return nil, 0, io.EOF
	}
	n := r.n
	r.n++
	if !r.haveBase {
		r.base, r.haveBase = s.pts, true
	}
	end := s.off + uint64(s.size)
	switch {
	case s.size == 0:
		return nil, 0, r.corrupt(n, "empty sample")
	case s.size > maxFrameSize:
		return nil, 0, r.corrupt(n, "sample of %d bytes", s.size)
	case end < s.off || end > uint64(r.in.size):
		return nil, 0, r.truncated("frame %d: sample at offset %d ends beyond the end of the file", n, s.off)
	}
	r.buf = grow(r.buf, int(s.size))
	if _, err := r.f.ReadAt(r.buf, int64(s.off)); err != nil {
		if err == io.EOF {
			return nil, 0, r.truncated("frame %d: sample at offset %d: the file ends there", n, s.off)
		}
		return nil, 0, r.fail(err)
	}
	pts := ticks(s.pts-r.base, 1, r.timescale)
	if r.avc != nil {
		au, err := r.avc.annexB(r.buf)
		if err != nil {
			return nil, 0, r.corrupt(n, "sample at offset %d: %v", s.off, err)
		}
		return au, pts, nil
	}
	if !isSOI(r.buf) {
		return nil, 0, r.corrupt(n, "sample at offset %d does not start with a JPEG SOI marker", s.off)
	}
	return r.buf, pts, nil
}

// stblIter walks a sample table (stsz, stsc, stco/co64, stts, ctts) lazily,
// so that no per-sample table is built.
type stblIter struct {
	sizes     []uint32
	constSize uint32
	count     uint32
	chunks    []uint64
	stsc      []mp4.StscEntry
	stts      []mp4.SttsEntry
	ctts      *mp4.Ctts

	i        uint32 // next sample
	chunk    int    // current chunk, -1 before the first
	left     uint32 // samples left in the current chunk
	off      uint64 // offset of the next sample
	stscI    int
	sttsI    int
	sttsLeft uint32
	delta    uint32
	cttsI    int
	cttsLeft uint32
	cto      int64
	dts      int64
}

func (it *stblIter) init(t *mp4Track) error {
	if t.stsz == nil {
		return nil // no samples in moov: a fragmented file
	}
	it.count = t.stsz.SampleCount
	it.constSize = t.stsz.SampleSize
	it.sizes = t.stsz.EntrySize
	if it.count == 0 {
		return nil
	}
	if it.constSize == 0 && uint32(len(it.sizes)) < it.count {
		it.count = uint32(len(it.sizes))
	}
	it.chunks, it.stsc, it.stts, it.ctts = t.chunks, t.stsc, t.stts, t.ctts
	if len(it.chunks) == 0 || len(it.stsc) == 0 {
		return errors.New("samples without chunks")
	}
	for i, e := range it.stsc {
		if e.FirstChunk == 0 || i > 0 && e.FirstChunk <= it.stsc[i-1].FirstChunk {
			return fmt.Errorf("stsc entry %d: first chunk %d", i, e.FirstChunk)
		}
	}
	return nil
}

func (it *stblIter) reset() {
	it.i, it.chunk, it.left, it.off = 0, -1, 0, 0
	it.stscI, it.sttsI, it.sttsLeft, it.delta = 0, -1, 0, 0
	it.cttsI, it.cttsLeft, it.cto, it.dts = -1, 0, 0, 0
}

// span returns the decode time after the last sample, from stts alone.
func (it *stblIter) span() int64 {
	var d int64
	n := it.count
	for _, e := range it.stts {
		c := min(e.SampleCount, n)
		d += int64(c) * int64(e.SampleDelta)
		n -= c
	}
	return d
}

func (it *stblIter) next() (mp4Sample, error) {
	for it.left == 0 {
		it.chunk++
		if it.chunk >= len(it.chunks) {
			return mp4Sample{}, fmt.Errorf("sample %d lies beyond the last of %d chunks", it.i, len(it.chunks))
		}
		for it.stscI+1 < len(it.stsc) && int64(it.stsc[it.stscI+1].FirstChunk)-1 <= int64(it.chunk) {
			it.stscI++
		}
		if int64(it.stsc[it.stscI].FirstChunk)-1 <= int64(it.chunk) {
			it.left = it.stsc[it.stscI].SamplesPerChunk
		}
		it.off = it.chunks[it.chunk]
	}
	size := it.constSize
	if size == 0 {
		size = it.sizes[it.i]
	}
	for it.sttsLeft == 0 && it.sttsI+1 < len(it.stts) {
		it.sttsI++
		it.sttsLeft = it.stts[it.sttsI].SampleCount
		it.delta = it.stts[it.sttsI].SampleDelta
	}
	if it.sttsLeft > 0 {
		it.sttsLeft--
	}
	if it.ctts != nil {
		for it.cttsLeft == 0 && it.cttsI+1 < len(it.ctts.Entries) {
			it.cttsI++
			it.cttsLeft = it.ctts.Entries[it.cttsI].SampleCount
			it.cto = it.ctts.GetSampleOffset(it.cttsI)
		}
		if it.cttsLeft > 0 {
			it.cttsLeft--
		}
	}
	s := mp4Sample{off: it.off, size: size, pts: it.dts + it.cto}
	it.dts += int64(it.delta)
	it.off += uint64(size)
	it.left--
	it.i++
	return s, nil
}

// recoverMP4 reads the frames of a file that has no moov box, when its mdat
// holds plain JPEG pictures.
func recoverMP4(f file, src source, mdat *mp4.BoxInfo, o options) (Reader, error) {
	if mdat == nil {
		return nil, errors.New("mp4: no moov and no mdat box")
	}
	size := uint64(src.in.size)
	start := mdat.Offset + mdat.HeaderSize
	end := mdat.Offset + mdat.Size
	if mdat.ExtendToEOF || end > size || end < start {
		end = size
	}
	var head [3]byte
	if start >= end {
		return nil, fmt.Errorf("mp4: no moov box and an empty mdat: %w", ErrTruncated)
	}
	if _, err := f.ReadAt(head[:], int64(start)); err != nil || head != [3]byte{0xFF, 0xD8, 0xFF} {
		return nil, fmt.Errorf("mp4: no moov box (the recording was not finished) and mdat does not start with a JPEG picture: %w", ErrTruncated)
	}
	sec := struct {
		*io.SectionReader
		io.Closer
	}{io.NewSectionReader(f, int64(start), int64(end-start)), f}
	rs := source{path: src.path, in: newInput(sec, int64(end-start))}
	return openRaw(rs, o.rawFPS, "mp4", true)
}
