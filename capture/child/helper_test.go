package child

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"strconv"
	"testing"
	"time"
)

// The test binary doubles as the capture helper: with FLOWCAM_FAKE_HELPER
// set it behaves as its arguments say and never runs the tests. That
// gives every failure a helper can have without a shell or a camera.
func TestMain(m *testing.M) {
	if mode := os.Getenv("FLOWCAM_FAKE_HELPER"); mode != "" {
		fakeHelper(mode, os.Args[1:])
		return
	}
	os.Exit(m.Run())
}

// helperCommand runs the test binary as a helper in mode.
func helperCommand(t testing.TB, mode string, args ...string) []string {
	t.Setenv("FLOWCAM_FAKE_HELPER", mode)
	return append([]string{os.Args[0]}, args...)
}

// fakeHelper writes frames as mode says:
//
//	raw W H STRIDE N    N raw I420 frames (row r of the Y plane is byte r+frame), then waits
//	mjpeg N             N small JPEG pictures, then waits
//	die N               N JPEG pictures, then exits 1
//	stall N             N JPEG pictures, then nothing
//	garbage             text forever
//	oversize            a picture with no end
//	slowdie N           N JPEG pictures 100 ms apart, then exits 1
//	fail                a line on stderr, exit 1 at once
//	fd3 N               "status" text on stdout, N pictures on fd 3
func fakeHelper(mode string, args []string) {
	n := func(i int) int { v, _ := strconv.Atoi(args[i]); return v }
	out := os.Stdout
	switch mode {
	case "raw":
		w, h, stride, count := n(0), n(1), n(2), n(3)
		for f := 0; f < count; f++ {
			out.Write(rawI420(w, h, stride, f))
		}
	case "mjpeg", "die", "stall":
		for f := 0; f < n(0); f++ {
			out.Write(testJPEG(f))
		}
		if mode == "die" {
			fmt.Fprintln(os.Stderr, "camera went away")
			os.Exit(1)
		}
	case "garbage":
		for {
			fmt.Fprintln(out, "this is not video, this is a log line")
		}
	case "oversize":
		out.Write([]byte{0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02})
		for {
			out.Write(bytes.Repeat([]byte{0x55}, 4096))
		}
	case "slowdie": // frames for longer than a healthy run, then exit
		for f := 0; f < n(0); f++ {
			out.Write(testJPEG(f))
			time.Sleep(100 * time.Millisecond) // a camera's pace
		}
		os.Exit(1)
	case "fail":
		fmt.Fprintln(os.Stderr, "ERROR: no cameras available")
		os.Exit(1)
	case "fd3":
		fmt.Fprintln(out, "GST_ARGUS: status text on stdout")
		f3 := os.NewFile(3, "frames")
		for f := 0; f < n(0); f++ {
			f3.Write(testJPEG(f))
		}
	}
	time.Sleep(time.Hour) // a live helper keeps running until it is stopped
}

// rawI420 is frame f: Y rows hold r+f, padding 0xEE, chroma 128.
func rawI420(w, h, stride, f int) []byte {
	b := make([]byte, 0, stride*h*3/2)
	for r := 0; r < h; r++ {
		row := bytes.Repeat([]byte{0xEE}, stride)
		for x := 0; x < w; x++ {
			row[x] = byte(r + f)
		}
		b = append(b, row...)
	}
	for r := 0; r < h; r++ { // h/2 rows each of Cb and Cr, stride/2 long
		b = append(b, bytes.Repeat([]byte{128}, stride/2)...)
	}
	return b
}

func testJPEG(f int) []byte {
	img := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = byte(i + f*7)
	}
	img.Set(0, 0, color.Gray{byte(f)})
	var b bytes.Buffer
	jpeg.Encode(&b, img, &jpeg.Options{Quality: 80})
	return b.Bytes()
}
