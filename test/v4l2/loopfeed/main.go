// Command loopfeed plays an H.264 Annex B file into the output side of a
// v4l2loopback device, one access unit per write at a steady rate, over
// and over: the capture side then is a camera with an H.264 encoder of its
// own, as a UVC camera that offers H.264 is, for the V4L2 integration test.
//
//	loopfeed -dev /dev/video42 -in /clip.h264 -size 640x480 -fps 25
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"flowcam/capture/h264"
)

// The kernel's structures, as far as this program fills them (amd64).
type pixFormat struct {
	Width, Height, PixelFormat, Field, BytesPerLine, SizeImage uint32
	Colorspace, Priv, Flags, YCbCrEnc, Quantization, XferFunc  uint32
}

type format struct {
	Type uint32
	_    uint32 // the union is 8-aligned: v4l2_window holds pointers
	Pix  pixFormat
	_    [200 - unsafe.Sizeof(pixFormat{})]byte
}

type outputParm struct {
	Capability, OutputMode uint32
	Numerator, Denominator uint32
	ExtendedMode, Buffers  uint32
	_                      [4]uint32
}

type streamParm struct {
	Type uint32
	Out  outputParm
	_    [200 - unsafe.Sizeof(outputParm{})]byte
}

const (
	bufTypeOutput = 2
	fieldNone     = 1
	fourccH264    = 'H' | '2'<<8 | '6'<<16 | '4'<<24
	vidiocSFmt    = 3<<30 | uintptr(unsafe.Sizeof(format{}))<<16 | 'V'<<8 | 5
	vidiocSParm   = 3<<30 | uintptr(unsafe.Sizeof(streamParm{}))<<16 | 'V'<<8 | 22
)

func main() {
	dev := flag.String("dev", "", "v4l2loopback device")
	in := flag.String("in", "", "H.264 Annex B file")
	var w, h int
	flag.Func("size", "WIDTHxHEIGHT", func(s string) error { _, err := fmt.Sscanf(s, "%dx%d", &w, &h); return err })
	fps := flag.Int("fps", 25, "access units per second")
	flag.Parse()
	if err := feed(*dev, *in, w, h, *fps); err != nil {
		fmt.Fprintln(os.Stderr, "loopfeed:", err)
		os.Exit(1)
	}
}

func feed(dev, in string, w, h, fps int) error {
	aus, err := accessUnits(in)
	if err != nil {
		return err
	}
	fd, err := unix.Open(dev, unix.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	f := format{Type: bufTypeOutput, Pix: pixFormat{Width: uint32(w), Height: uint32(h), PixelFormat: fourccH264, Field: fieldNone}}
	if err := ioctl(fd, vidiocSFmt, unsafe.Pointer(&f)); err != nil {
		return fmt.Errorf("VIDIOC_S_FMT H264 %dx%d: %w", w, h, err)
	}
	p := streamParm{Type: bufTypeOutput, Out: outputParm{Numerator: 1, Denominator: uint32(fps)}}
	if err := ioctl(fd, vidiocSParm, unsafe.Pointer(&p)); err != nil {
		return fmt.Errorf("VIDIOC_S_PARM 1/%d: %w", fps, err)
	}
	fmt.Printf("feeding %d access units of %dx%d at %d fps into %s\n", len(aus), w, h, fps, dev)
	tick := time.NewTicker(time.Second / time.Duration(fps))
	defer tick.Stop()
	for i := 0; ; i++ {
		if _, err := unix.Write(fd, aus[i%len(aus)]); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		<-tick.C
	}
}

// accessUnits splits the file into access units, each in Annex B with
// 4-byte start codes, as one camera buffer holds one.
func accessUnits(path string) ([][]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	s := h264.NewSplitter(file, 4<<20)
	var out [][]byte
	for {
		au, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		for _, n := range au {
			b.Write([]byte{0, 0, 0, 1})
			b.Write(n)
		}
		out = append(out, b.Bytes())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no access unit", path)
	}
	return out, nil
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}
