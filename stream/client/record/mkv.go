package record

import (
	"bytes"
	"io"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
)

// mkv writes Matroska: a header, then clusters of about a second that
// each start at a key frame and are written whole, so a file cut off by a
// power loss plays up to its last cluster. The segment's size is left
// unknown, as live Matroska writers do; players find clusters by reading.
type mkv struct {
	w      io.Writer
	start  int64 // the cluster's time, ms
	blocks []ebml.Block
	buf    bytes.Buffer
}

// Matroska times are in milliseconds (TimecodeScale 1 000 000 ns); block
// times are 16-bit offsets from their cluster's.
const (
	mkvTimecodeScale = 1_000_000
	ticksPerMS       = clockRate / 1000
)

func newMKV(w io.Writer, t track) (*mkv, error) {
	entry := webm.TrackEntry{TrackNumber: 1, TrackUID: 1, TrackType: 1, CodecID: "V_MJPEG",
		Video: &webm.Video{PixelWidth: uint64(t.width), PixelHeight: uint64(t.height)}}
	if t.h264 {
		priv, err := t.avcC()
		if err != nil {
			return nil, err
		}
		entry.CodecID, entry.CodecPrivate = "V_MPEG4/ISO/AVC", priv
	}
	header := struct {
		EBML    webm.EBMLHeader `ebml:"EBML"`
		Segment struct {
			Info   webm.Info   `ebml:"Info"`
			Tracks webm.Tracks `ebml:"Tracks"`
		} `ebml:"Segment,size=unknown"`
	}{EBML: webm.EBMLHeader{EBMLVersion: 1, EBMLReadVersion: 1, EBMLMaxIDLength: 4, EBMLMaxSizeLength: 8,
		DocType: "matroska", DocTypeVersion: 4, DocTypeReadVersion: 2}}
	header.Segment.Info = webm.Info{TimecodeScale: mkvTimecodeScale, MuxingApp: "flowcam", WritingApp: "flowcam"}
	header.Segment.Tracks.TrackEntry = []webm.TrackEntry{entry}
	m := &mkv{w: w}
	if err := ebml.Marshal(&header, &m.buf); err != nil {
		return nil, err
	}
	_, err := w.Write(m.buf.Bytes())
	return m, err
}

func (m *mkv) write(pts int64, key bool, payload []byte, _ [][]byte) error {
	ms := pts / ticksPerMS
	if len(m.blocks) > 0 && cut(key, (ms-m.start)*ticksPerMS) {
		if err := m.flush(); err != nil {
			return err
		}
	}
	if len(m.blocks) == 0 {
		m.start = ms
	}
	m.blocks = append(m.blocks, ebml.Block{TrackNumber: 1, Timecode: int16(ms - m.start), Keyframe: key,
		Data: [][]byte{payload}})
	return nil
}

func (m *mkv) flush() error {
	c := struct {
		Cluster webm.Cluster `ebml:"Cluster"`
	}{webm.Cluster{Timecode: uint64(max(m.start, 0)), SimpleBlock: m.blocks}}
	m.blocks = m.blocks[:0]
	m.buf.Reset()
	if err := ebml.Marshal(&c, &m.buf); err != nil {
		return err
	}
	_, err := m.w.Write(m.buf.Bytes()) // in one piece: see file
	return err
}

func (m *mkv) close() error {
	if len(m.blocks) == 0 {
		return nil
	}
	return m.flush()
}
