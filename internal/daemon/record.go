package daemon

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"flowcam/capture"
	"flowcam/capture/h264"
	"flowcam/stream/client/playout"
	"flowcam/stream/client/record"
	"flowcam/stream/client/rtspclient"
	"flowcam/stream/server/broadcast"
	"flowcam/stream/server/web"
)

// recordQueue is how many frames may wait for a slow disk (an SD card
// stalling on a flush) before frames are dropped: the capture never waits.
const recordQueue = 50

// pathRecorder records a path on the box. The pipeline hands it every
// frame; a copy waits in a bounded queue, and its own goroutine writes it,
// so a slow or full disk never holds up capture or viewers.
type pathRecorder struct {
	rec    *record.Recorder
	dir    string
	frames chan recordItem
	done   chan struct{}
	closed sync.Once

	log      *slog.Logger
	dropped  atomic.Uint64
	waitKey  bool   // a dropped H.264 frame: the rest wait for a key frame
	sps, pps []byte // the newest parameter sets, for key frames without them
}

// startRecorder makes the path's directory and starts its recorder.
func startRecorder(rc RecordKeys, log *slog.Logger) (*pathRecorder, error) {
	if err := os.MkdirAll(rc.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("record.dir: %w", err)
	}
	log = log.With("component", "record")
	rec, err := record.New(record.Options{
		Path:    filepath.Join(rc.Dir, "%Y%m%d-%H%M%S."+string(rc.Format)),
		Segment: rc.Segment, Keep: rc.Keep, KeepBytes: int64(rc.KeepBytes), Logger: log,
	})
	if err != nil {
		return nil, err
	}
	r := &pathRecorder{rec: rec, dir: rc.Dir, log: log, frames: make(chan recordItem, recordQueue), done: make(chan struct{})}
	go r.write()
	return r, nil
}

// publish queues a copy of f; it never blocks. It runs on the pipeline's
// goroutine, as the broadcaster's Publish does.
func (r *pathRecorder) publish(f *capture.Frame) {
	pf := &playout.Frame{Timestamp: broadcast.RTPTime(f.PTS), Key: true}
	if f.H264 != nil {
		pf.Key = f.Key
		r.keepSets(f.H264)
		pf.Data = annexB(f.H264)
	} else {
		pf.Data = append([]byte(nil), f.JPEG...)
	}
	if r.waitKey && !pf.Key {
		r.dropped.Add(1)
		return
	}
	r.waitKey = false
	select {
	case r.frames <- recordItem{frame: pf}:
	default: // the disk is behind: this frame goes, and with H.264 those that need it
		r.dropped.Add(1)
		r.waitKey = f.H264 != nil
	}
}

// recordItem is a frame to write, or new H.264 parameter sets.
type recordItem struct {
	frame *playout.Frame
	sets  *rtspclient.Description
}

// keepSets hands new parameter sets to the recorder, for segments that
// start at a key frame sent without them. They are queued like frames, so
// only the writing goroutine touches the recorder.
func (r *pathRecorder) keepSets(au [][]byte) {
	sps, pps := h264.ParameterSet(au, h264.TypeSPS), h264.ParameterSet(au, h264.TypePPS)
	if sps == nil || pps == nil || (bytes.Equal(sps, r.sps) && bytes.Equal(pps, r.pps)) {
		return
	}
	r.sps, r.pps = append([]byte(nil), sps...), append([]byte(nil), pps...)
	select {
	case r.frames <- recordItem{sets: &rtspclient.Description{Codec: "h264", SPS: r.sps, PPS: r.pps}}:
	default: // the key frame that brought them holds them too
	}
}

func (r *pathRecorder) write() {
	defer close(r.done)
	for it := range r.frames {
		if it.sets != nil {
			r.rec.Describe(it.sets)
			continue
		}
		r.rec.WriteFrame(it.frame)
	}
}

// close writes what waits and closes the file; a nil recorder is none.
func (r *pathRecorder) close() {
	if r == nil {
		return
	}
	r.closed.Do(func() {
		close(r.frames)
		<-r.done
		if err := r.rec.Close(); err != nil {
			r.log.Warn("recording: the last segment was cut short", "err", err)
		}
	})
}

// status is the recording's line on the status page.
func (r *pathRecorder) status() *web.RecordingStatus {
	return &web.RecordingStatus{Dir: r.dir, File: filepath.Base(r.rec.Current()), Dropped: r.dropped.Load(), Problem: r.rec.Problem()}
}

// annexB is an access unit as one Annex B byte stream.
func annexB(au [][]byte) []byte {
	n := 0
	for _, nal := range au {
		n += 4 + len(nal)
	}
	out := make([]byte, 0, n)
	for _, nal := range au {
		out = append(out, 0, 0, 0, 1)
		out = append(out, nal...)
	}
	return out
}
