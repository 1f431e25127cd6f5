package child

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"flowcam/capture"
	"flowcam/capture/file/demux"
	"flowcam/capture/h264"
)

// run is one life of the helper: the process and the goroutine reading its
// frames.
type run struct {
	cmd     *exec.Cmd
	out     *os.File // the read end of the frame pipe
	frames  chan *capture.Frame
	done    chan struct{} // closed when the reader has stopped
	err     error         // why the reader stopped; read after done
	started time.Time
	got     bool      // a frame arrived in this run
	firstAt time.Time // when it did
	cardAt  time.Time // the next "no signal" card while it has not
}

// errGarbage is a helper whose output cannot be read as its format.
var errGarbage = errors.New("writes data that is not its format")

// start runs the helper and its reader. The frame pipe is the helper's
// stdout, or fd 3 when FrameFD says so (its stdout then goes to the log).
func (s *Source) start() (*run, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(s.cfg.Command[0], s.cfg.Command[1:]...)
	cmd.SysProcAttr = groupAttr()
	// Something the helper started outside its group may hold its stderr
	// open; Wait must not wait for that.
	cmd.WaitDelay = time.Second
	cmd.Stderr = s.stderr
	cmd.Stdout = w
	if s.cfg.FrameFD == 3 {
		cmd.Stdout, cmd.ExtraFiles = s.stderr, []*os.File{w}
	}
	err = cmd.Start()
	w.Close() // the helper holds the write end now; ours would hide its exit
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("%s: %w", s.cfg.Name, err)
	}
	ru := &run{cmd: cmd, out: r, frames: make(chan *capture.Frame, s.queueLen()), done: make(chan struct{}), started: s.now(),
		cardAt: s.now().Add(s.cfg.NoSignalEvery)}
	go s.read(ru)
	return ru, nil
}

// stop ends the run: the helper's group is asked to stop (SIGINT, which
// rpicam-vid and gst-launch handle cleanly), killed if it has not after a
// moment, reaped, and the reader waited for, so nothing is left behind.
func (ru *run) stop(grace time.Duration) {
	pid := ru.cmd.Process.Pid
	signalGroup(pid, syscall.SIGINT)
	exited := make(chan struct{})
	go func() { ru.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(grace):
		signalGroup(pid, syscall.SIGKILL)
		<-exited
	}
	signalGroup(pid, syscall.SIGKILL) // anything it started that outlived it
	ru.out.Close()
	<-ru.done
	for f := range ru.frames {
		f.Release()
	}
}

// read turns the pipe into frames until it fails. Only the newest frame
// waits for Next: a consumer that falls behind gets the latest picture,
// and the helper is never blocked on a full pipe by a slow encoder. H.264
// frames depend on the ones before: a few may wait, and when the consumer
// is that far behind the queue is dropped up to the next key frame.
func (s *Source) read(ru *run) {
	defer close(ru.done)
	defer close(ru.frames)
	next := s.rawFrames(ru.out)
	switch s.cfg.Format {
	case MJPEG:
		next = s.jpegFrames(ru.out)
	case H264:
		next = s.h264Frames(ru.out)
	}
	waitKey := false
	for {
		f, err := next()
		if err != nil {
			ru.err = err
			return
		}
		if waitKey = waitKey && !f.Key; waitKey {
			f.Release()
			s.stale.Add(1)
			continue
		}
		select {
		case ru.frames <- f:
		default:
			for drained := false; !drained; {
				select {
				case old := <-ru.frames:
					old.Release()
					s.stale.Add(1)
				default:
					drained = true
				}
			}
			if s.cfg.Format == H264 && !f.Key {
				waitKey = true
				f.Release()
				s.stale.Add(1)
				continue
			}
			ru.frames <- f
		}
	}
}

// h264Frames splits an Annex B stream into access units; one over the
// size limit ends the run, as an oversized picture does.
func (s *Source) h264Frames(in io.Reader) func() (*capture.Frame, error) {
	sp := h264.NewSplitter(in, s.cfg.MaxFrame)
	return func() (*capture.Frame, error) {
		for {
			au, err := sp.Next()
			if errors.Is(err, h264.ErrTooLarge) {
				return nil, fmt.Errorf("%w: %v", errTooLarge, err)
			}
			if err != nil {
				return nil, err
			}
			au, damaged := h264.Clean(au)
			s.corrupt.Add(uint64(damaged))
			if len(au) > 0 {
				return &capture.Frame{H264: h264.Clone(au), Key: h264.Key(au)}, nil
			}
		}
	}
}

// rawFrames reads fixed-size frames and converts them for the encoder.
func (s *Source) rawFrames(in io.Reader) func() (*capture.Frame, error) {
	buf := make([]byte, s.frameLen)
	return func() (*capture.Frame, error) {
		if _, err := io.ReadFull(in, buf); err != nil {
			if err == io.ErrUnexpectedEOF {
				return nil, fmt.Errorf("the output ended inside a frame: %w", errGarbage)
			}
			return nil, err
		}
		f := s.raw.Get()
		if err := s.cfg.Format.convert(f.Image, buf, s.stride, s.cfg.Size); err != nil {
			f.Release()
			return nil, fmt.Errorf("%w: %v", errGarbage, err)
		}
		return f, nil
	}
}

// maxCorrupt is how many damaged pictures in a row mean the helper has
// lost its framing (or was never writing JPEG) rather than hiccuped.
const maxCorrupt = 10

// jpegFrames splits MJPEG into pictures. A damaged one is dropped and
// counted; many in a row, or one over the size limit, end the run.
func (s *Source) jpegFrames(in io.Reader) func() (*capture.Frame, error) {
	st := demux.NewMJPEGStream(in, s.cfg.MaxFrame)
	return func() (*capture.Frame, error) {
		for bad := 0; ; {
			b, err := st.Next()
			switch {
			case err == nil:
				f := s.jpegs.Get()
				f.JPEG = append(f.JPEG, b...)
				return f, nil
			case errors.Is(err, demux.ErrCorruptFrame):
				s.corrupt.Add(1)
				if bad++; bad >= maxCorrupt {
					return nil, fmt.Errorf("%w: %d damaged pictures in a row, the last: %v", errGarbage, bad, err)
				}
			case errors.Is(err, demux.ErrFrameTooLarge):
				return nil, fmt.Errorf("%w: %v", errTooLarge, err)
			case errors.Is(err, demux.ErrTruncated):
				return nil, fmt.Errorf("%w: %v", errGarbage, err)
			default:
				return nil, err
			}
		}
	}
}

// errTooLarge is a picture over Config.MaxFrame.
var errTooLarge = errors.New("wrote a picture over the size limit")

// queueLen is how many frames may wait for Next: one, the newest, except
// for H.264, where dropping one breaks the pictures after it.
func (s *Source) queueLen() int {
	if s.cfg.Format == H264 {
		return 8
	}
	return 1
}
