package demux

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/abema/go-mp4"
)

// The box tree is walked here rather than by go-mp4's ReadBoxStructure so
// that each box kind has its own handler, and so that go-mp4 calls can be
// guarded on their own: ReadBoxStructure calls back into our handlers, and a
// recover around it would hide our own bugs. The walk keeps what
// ReadBoxStructure does to the boxes it reads (a top-level ftyp decides
// whether the file is QuickTime, a keys box is decoded wherever it sits, a
// container's children must fill it), so that the same files open and fail.
// Its other context flags (under wave, ilst or udta) only matter inside
// boxes we never open.

// mp4Parser gathers what openMP4 needs from the box tree.
type mp4Parser struct {
	f       file
	tracks  []*mp4Track
	trex    map[uint32]*mp4.Trex
	trafs   []*mp4Traf
	mdat    *mp4.BoxInfo // the first one
	moovEnd uint64
	sawMoov bool
	runs    int64 // samples in all truns so far
}

// mp4PanicError is a panic of go-mp4 turned into an error.
type mp4PanicError struct {
	what string
	v    any
}

func (e *mp4PanicError) Error() string {
	return fmt.Sprintf("malformed file: go-mp4 failed %s: %v", e.what, e.v)
}

func (e *mp4PanicError) Unwrap() error {
	err, _ := e.v.(error)
	return err
}

// guardMP4 runs fn, a call into go-mp4 and nothing else. go-mp4 decodes
// boxes by reflection and has been seen to panic on files it did not
// expect; a damaged file must not take the process down, but a bug of ours
// must, so no code of ours may run under this recover.
func guardMP4(what string, b *mp4.BoxInfo, fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if b != nil {
				what = fmt.Sprintf("%s %s at offset %d", what, fourcc(b.Type[:]), b.Offset)
			}
			err = &mp4PanicError{what: what, v: v}
		}
	}()
	return fn()
}

func (p *mp4Parser) parse() error {
	if _, err := p.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return p.walk(0, true, mp4.Context{}, p.onTop)
}

// openErr gives a failed walk its context: a file cut inside its moov box,
// or one that ends in the middle of a box, is truncated.
func (p *mp4Parser) openErr(err error, size uint64) error {
	var pe *mp4PanicError
	if errors.As(err, &pe) {
		return fmt.Errorf("mp4: %w", err)
	}
	if p.moovEnd > size || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("mp4: %v: %w", err, ErrTruncated)
	}
	return fmt.Errorf("mp4: %w", err)
}

// walk reads the boxes of one level, size bytes of them from the current
// offset (or up to the end of the file at the top), and hands each to
// visit. Box sizes are checked against their parent before anything is
// read.
func (p *mp4Parser) walk(size uint64, top bool, ctx mp4.Context, visit func(*mp4.BoxInfo) error) error {
	for top || size >= mp4.SmallHeaderSize {
		var b *mp4.BoxInfo
		err := guardMP4("reading a box header", nil, func() (err error) {
			b, err = mp4.ReadBoxInfo(p.f)
			return err
		})
		if top && err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !top && b.Size > size {
			return fmt.Errorf("too large box size: type=%s, size=%d, actualBufSize=%d", b.Type, b.Size, size)
		}
		size -= b.Size
		b.Context = ctx
		if err := p.enter(b, top, visit); err != nil {
			return err
		}
		if b.IsQuickTimeCompatible {
			ctx.IsQuickTimeCompatible = true
		}
	}
	if size != 0 && !ctx.IsQuickTimeCompatible {
		return errors.New("unexpected EOF")
	}
	return nil
}

// enter hands box b to visit and leaves the file at the end of b.
func (p *mp4Parser) enter(b *mp4.BoxInfo, top bool, visit func(*mp4.BoxInfo) error) error {
	if _, err := b.SeekToPayload(p.f); err != nil {
		return err
	}
	switch {
	case top && b.Type == mp4.BoxTypeFtyp():
		var ftyp mp4.Ftyp
		if err := p.unmarshal(b, &ftyp); err != nil {
			return err
		}
		if ftyp.HasCompatibleBrand(mp4.BrandQT()) {
			b.IsQuickTimeCompatible = true
		}
	case b.Type == mp4.BoxTypeKeys():
		var keys mp4.Keys
		if err := p.unmarshal(b, &keys); err != nil {
			return err
		}
	}
	if err := visit(b); err != nil {
		return err
	}
	_, err := b.SeekToEnd(p.f)
	return err
}

// unmarshal decodes the payload of b into dst.
func (p *mp4Parser) unmarshal(b *mp4.BoxInfo, dst mp4.IBox) error {
	if _, err := b.SeekToPayload(p.f); err != nil {
		return err
	}
	err := guardMP4("decoding", b, func() error {
		_, err := mp4.Unmarshal(p.f, b.Size-b.HeaderSize, dst, b.Context)
		return err
	})
	if err != nil {
		return err
	}
	_, err = b.SeekToPayload(p.f)
	return err
}

// payload decodes the payload of b into the box type go-mp4 has for it.
func (p *mp4Parser) payload(b *mp4.BoxInfo) (box mp4.IBox, err error) {
	if _, err := b.SeekToPayload(p.f); err != nil {
		return nil, err
	}
	err = guardMP4("decoding", b, func() (err error) {
		box, _, err = mp4.UnmarshalAny(p.f, b.Type, b.Size-b.HeaderSize, b.Context)
		return err
	})
	return box, err
}

// expand walks the children of b, which follow the fields go-mp4 knows b to
// have (the entry count of stsd, the fixed fields of a sample entry).
func (p *mp4Parser) expand(b *mp4.BoxInfo, visit func(*mp4.BoxInfo) error) error {
	if _, err := b.SeekToPayload(p.f); err != nil {
		return err
	}
	var n uint64
	err := guardMP4("decoding", b, func() (err error) {
		_, n, err = mp4.UnmarshalAny(p.f, b.Type, b.Size-b.HeaderSize, b.Context)
		return err
	})
	if err != nil {
		return err
	}
	return p.walk(b.Size-b.HeaderSize-n, false, b.Context, visit)
}

// Handlers of the boxes we read, one per parent box kind.

func (p *mp4Parser) onTop(b *mp4.BoxInfo) error {
	switch string(b.Type[:]) {
	case "moov":
		p.sawMoov, p.moovEnd = true, b.Offset+b.Size
		return p.expand(b, p.onMoov)
	case "mdat":
		if p.mdat == nil {
			mdat := *b
			p.mdat = &mdat
		}
	case "moof":
		return p.onMoof(b)
	}
	return nil
}

func (p *mp4Parser) onMoov(b *mp4.BoxInfo) error {
	switch string(b.Type[:]) {
	case "trak":
		t := &mp4Track{oti: -1}
		p.tracks = append(p.tracks, t)
		return p.expand(b, func(b *mp4.BoxInfo) error { return p.onTrak(t, b) })
	case "mvex":
		return p.expand(b, p.onMvex)
	}
	return nil
}

func (p *mp4Parser) onMvex(b *mp4.BoxInfo) error {
	if string(b.Type[:]) != "trex" {
		return nil
	}
	box, err := p.payload(b)
	if err != nil {
		return err
	}
	if trex, ok := box.(*mp4.Trex); ok {
		p.trex[trex.TrackID] = trex
	}
	return nil
}

// onMoof collects the track fragments of one movie fragment; the first of
// them may take its data offsets from the moof box.
func (p *mp4Parser) onMoof(moof *mp4.BoxInfo) error {
	first := true
	return p.expand(moof, func(b *mp4.BoxInfo) error {
		if string(b.Type[:]) != "traf" {
			return nil
		}
		tr := &mp4Traf{moof: moof.Offset, first: first}
		first = false
		if err := p.expand(b, func(b *mp4.BoxInfo) error { return p.onTraf(tr, b) }); err != nil {
			return err
		}
		p.trafs = append(p.trafs, tr)
		return nil
	})
}

func (p *mp4Parser) onTraf(tr *mp4Traf, b *mp4.BoxInfo) error {
	switch string(b.Type[:]) {
	case "trun":
		if err := p.countTrun(b); err != nil {
			return err
		}
	case "tfhd", "tfdt":
	default:
		return nil
	}
	box, err := p.payload(b)
	if err != nil {
		return err
	}
	switch box := box.(type) {
	case *mp4.Tfhd:
		tr.tfhd = box
	case *mp4.Tfdt:
		tr.tfdt = box
	case *mp4.Trun:
		tr.truns = append(tr.truns, box)
	}
	return nil
}

// countTrun enforces the limits on fragment samples from the count a trun
// claims, before go-mp4 builds one entry per sample.
func (p *mp4Parser) countTrun(b *mp4.BoxInfo) error {
	var hdr [8]byte // version, flags, sample count
	if _, err := p.f.ReadAt(hdr[:], int64(b.Offset+b.HeaderSize)); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if p.runs += int64(n); n > maxTrunSamples || p.runs > maxFragSamples {
		return fmt.Errorf("trun with %d samples, %d in all", n, p.runs)
	}
	return nil
}

func (p *mp4Parser) onTrak(t *mp4Track, b *mp4.BoxInfo) error {
	switch string(b.Type[:]) {
	case "tkhd":
		box, err := p.payload(b)
		if err != nil {
			return err
		}
		if tkhd, ok := box.(*mp4.Tkhd); ok {
			t.id = tkhd.TrackID
		}
	case "mdia":
		return p.expand(b, func(b *mp4.BoxInfo) error { return p.onMdia(t, b) })
	}
	return nil
}

func (p *mp4Parser) onMdia(t *mp4Track, b *mp4.BoxInfo) error {
	switch string(b.Type[:]) {
	case "minf":
		return p.expand(b, func(b *mp4.BoxInfo) error { return p.onMinf(t, b) })
	case "mdhd", "hdlr":
	default:
		return nil
	}
	box, err := p.payload(b)
	if err != nil {
		return err
	}
	switch box := box.(type) {
	case *mp4.Mdhd:
		t.timescale, t.duration = box.Timescale, box.GetDuration()
	case *mp4.Hdlr:
		t.handler = string(box.HandlerType[:])
	}
	return nil
}

func (p *mp4Parser) onMinf(t *mp4Track, b *mp4.BoxInfo) error {
	if string(b.Type[:]) != "stbl" {
		return nil
	}
	return p.expand(b, func(b *mp4.BoxInfo) error { return p.onStbl(t, b) })
}

func (p *mp4Parser) onStbl(t *mp4Track, b *mp4.BoxInfo) error {
	switch string(b.Type[:]) {
	case "stsd":
		return p.expand(b, func(b *mp4.BoxInfo) error { return p.onStsd(t, b) })
	case "stts", "ctts", "stsc", "stsz", "stco", "co64":
	default:
		return nil
	}
	box, err := p.payload(b)
	if err != nil {
		return err
	}
	switch box := box.(type) {
	case *mp4.Stts:
		t.stts = box.Entries
	case *mp4.Ctts:
		t.ctts = box
	case *mp4.Stsc:
		t.stsc = box.Entries
	case *mp4.Stsz:
		t.stsz = box
	case *mp4.Stco:
		t.chunks = make([]uint64, len(box.ChunkOffset))
		for i, o := range box.ChunkOffset {
			t.chunks[i] = uint64(o)
		}
	case *mp4.Co64:
		t.chunks = box.ChunkOffset
	}
	return nil
}

// onStsd reads the first sample entry only: its type names the codec. The
// picture size is read by hand because go-mp4 does not know 'jpeg', 'mjpa'
// or 'avc3' entries.
func (p *mp4Parser) onStsd(t *mp4Track, b *mp4.BoxInfo) error {
	if t.haveEntries {
		return nil
	}
	t.haveEntries = true
	t.entry = fourcc(b.Type[:])
	var ve [28]byte // SampleEntry + VisualSampleEntry up to height
	if b.Size-b.HeaderSize >= uint64(len(ve)) {
		if _, err := p.f.ReadAt(ve[:], int64(b.Offset+b.HeaderSize)); err != nil {
			return err
		}
		t.width = int(binary.BigEndian.Uint16(ve[24:]))
		t.height = int(binary.BigEndian.Uint16(ve[26:]))
	}
	switch string(b.Type[:]) {
	case "mp4v":
		return p.expand(b, func(b *mp4.BoxInfo) error { return p.onMp4v(t, b) })
	case "avc1", "avc3":
		// Damage here concerns this track only (see onAvc).
		if err := p.expandVisual(b, func(b *mp4.BoxInfo) error { return p.onAvc(t, b) }); err != nil && t.avcErr == nil {
			t.avcErr = err
		}
	}
	return nil
}

// visualEntrySize is the size of the fields of a VisualSampleEntry (its
// SampleEntry included), which come before its child boxes.
const visualEntrySize = 78

// expandVisual walks the children of a visual sample entry. It skips the
// entry's fields by their fixed size because go-mp4 does not know every
// entry type (avc3).
func (p *mp4Parser) expandVisual(b *mp4.BoxInfo, visit func(*mp4.BoxInfo) error) error {
	if b.Size-b.HeaderSize < visualEntrySize {
		return nil
	}
	if _, err := p.f.Seek(int64(b.Offset+b.HeaderSize+visualEntrySize), io.SeekStart); err != nil {
		return err
	}
	return p.walk(b.Size-b.HeaderSize-visualEntrySize, false, b.Context, visit)
}

// onAvc reads the avcC box of an H.264 sample entry. A record that cannot
// be decoded is kept as the track's error rather than failing the walk: it
// only matters if that track is the one chosen, and then the file can
// still be decoded instead (ErrNotMJPEG).
func (p *mp4Parser) onAvc(t *mp4Track, b *mp4.BoxInfo) error {
	if string(b.Type[:]) != "avcC" || t.avc != nil || t.avcErr != nil {
		return nil
	}
	box, err := p.payload(b)
	if err != nil {
		t.avcErr = err
		return nil
	}
	if avcC, ok := box.(*mp4.AVCDecoderConfiguration); ok {
		t.avc, t.avcErr = newAVCTrack(avcC)
	}
	return nil
}

// onMp4v finds the object type of an 'mp4v' entry in its esds box: 0x6C is
// JPEG.
func (p *mp4Parser) onMp4v(t *mp4Track, b *mp4.BoxInfo) error {
	if string(b.Type[:]) != "esds" {
		return nil
	}
	box, err := p.payload(b)
	if err != nil {
		return err
	}
	if esds, ok := box.(*mp4.Esds); ok {
		for _, d := range esds.Descriptors {
			if d.Tag == mp4.DecoderConfigDescrTag && d.DecoderConfigDescriptor != nil {
				t.oti = int(d.DecoderConfigDescriptor.ObjectTypeIndication)
			}
		}
	}
	return nil
}
