package demux

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"flowcam/internal/testutil/need"
)

// fuzzSeeds returns small files of every container: hand-built ones always,
// and ffmpeg's when it is installed.
func fuzzSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	frames := rawFrames(t)
	seeds = append(seeds, bytes.Join(frames, nil))

	j := makeJPEG(t, 0, 16, 16)
	movi := riffList("LIST", "movi", riffChunk("01dc", j), riffList("LIST", "rec ", riffChunk("01dc", j)), riffChunk("01dc", nil))
	avi := riffList("RIFF", "AVI ", aviHeader(16, 16, 3, 1, 25, "MJPG"), movi, riffChunk("idx1", make([]byte, 16)))
	seeds = append(seeds, append(avi, riffList("RIFF", "AVIX", movi)...))

	header := ebmlEl(idEBML, ebmlS(idDocType, "matroska"))
	tracks := ebmlEl(idTracks, ebmlEl(idTrackEntry, ebmlU(idTrackNumber, 1), ebmlU(idTrackType, 1),
		ebmlS(idCodecID, "V_MJPEG"), ebmlEl(idVideo, ebmlU(idPixelWidth, 16), ebmlU(idPixelHeight, 16))))
	cluster := ebmlUnknownSize(idCluster, ebmlU(idTimecode, 0), ebmlEl(idSimpleBlock, block(1, 0, 0x80, j)),
		ebmlEl(idBlockGroup, ebmlEl(idBlock, block(1, 40, 0, j))))
	seeds = append(seeds, bytes.Join([][]byte{header, ebmlEl(idSegment, ebmlEl(idInfo, ebmlU(idTimecodeScale, 1000000)), tracks,
		cluster, ebmlEl(idCluster, ebmlU(idTimecode, 80), ebmlEl(idSimpleBlock, block(1, 0, 0x80, j))))}, nil))
	h264mkv, _ := h264Matroska(2, avcRecord(2, testSPS, testPPS))
	seeds = append(seeds, h264mkv)

	if !need.Has(t, "ffmpeg") {
		return seeds
	}
	dir := t.TempDir()
	src := []string{"-f", "lavfi", "-i", "testsrc2=size=16x16:rate=25", "-frames:v", "3", "-c:v", "mjpeg", "-q:v", "31"}
	for name, args := range map[string][]string{
		"a.mkv":  src,
		"a.avi":  src,
		"a.mp4":  src,
		"f.mp4":  append(src, "-movflags", "+faststart"),
		"g.mp4":  append(src, "-movflags", "frag_keyframe+empty_moov+default_base_moof"),
		"a.mov":  src,
		"m.mov":  append(src, "-bsf:v", "mjpegadump", "-tag:v", "mjpa"),
		"a.mjpg": append(src, "-f", "mjpeg"),
		"h.mp4":  {"-f", "lavfi", "-i", "testsrc2=size=16x16:rate=25", "-frames:v", "2", "-c:v", "libx264"},
		"b.mp4":  {"-f", "lavfi", "-i", "testsrc2=size=16x16:rate=25", "-frames:v", "4", "-c:v", "libx264", "-bf", "2"},
		"h.mkv":  {"-f", "lavfi", "-i", "testsrc2=size=16x16:rate=25", "-frames:v", "2", "-c:v", "libx264"},
	} {
		p := filepath.Join(dir, name)
		ffmpeg(t, append(args, p)...)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// isAnnexB reports whether b is NAL units after 4-byte start codes, as
// avcTrack.annexB writes them (NAL units that contain start codes
// themselves are the file's business).
func isAnnexB(b []byte) bool {
	return len(b) > 4 && bytes.HasPrefix(b, annexBStart) && len(b) <= maxFrameSize
}

type memFile struct{ *bytes.Reader }

func (memFile) Close() error { return nil }

// FuzzOpen feeds arbitrary bytes to what Open does once the file is open
// (sniffing, then one of the readers) and reads what it finds: it must never
// panic, hang or hand out something that is not a JPEG, or for an H.264
// track, not Annex B.
func FuzzOpen(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := open(memFile{bytes.NewReader(data)}, int64(len(data)), "fuzz", options{rawFPS: DefaultRawFPS})
		if err != nil {
			return
		}
		defer r.Close()
		if i := r.Info(); i.Width < 0 || i.Height < 0 || i.Frames < 0 || i.Duration < 0 {
			t.Fatalf("Info() = %+v", i)
		}
		h264 := r.Info().Codec == codecH264
		for pass := 0; pass < 2; pass++ {
			for range 500 {
				b, _, err := r.Next()
				if err == nil {
					if h264 && !isAnnexB(b) || !h264 && !isSOI(b) {
						t.Fatalf("frame of %d bytes is not what the track holds (H.264: %v)", len(b), h264)
					}
					continue
				}
				if errors.Is(err, ErrCorruptFrame) {
					continue
				}
				if err != io.EOF {
					if _, _, err := r.Next(); err != io.EOF {
						t.Fatalf("after an error Next returned %v", err)
					}
				}
				break
			}
			if err := r.Rewind(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
