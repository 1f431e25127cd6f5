package m2m

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Nodes as their drivers describe themselves. The bcm2835 ones mirror the
// encode_image fixture (same driver, other roles); vivid's capture node
// and vim2m's are what the VM test's guest has.
func fakeNodes(t *testing.T) map[string]fixture {
	img := loadFixture(t, "bcm2835-codec-encode_image.json")
	enc := img
	enc.Card, enc.Capture = "bcm2835-codec-encode", []string{"H264"}
	dec := img
	dec.Card, dec.Capture = "bcm2835-codec-decode", []string{"YU12", "NV12"}
	dec.Output = []rawFixture{{FourCC: "H264"}, {FourCC: "MJPG"}}
	return map[string]fixture{
		"encode_image": img,
		"encode":       enc,
		"decode":       dec,
		"vim2m": {Driver: "vim2m", Card: "vim2m", BusInfo: "platform:vim2m", Capabilities: "0x84208000", DeviceCaps: "0x04208000",
			Output:  []rawFixture{{FourCC: "RGBP"}, {FourCC: "RGBR"}, {FourCC: "RGB3"}, {FourCC: "BGR3"}},
			Capture: []string{"RGBP", "RGBR", "RGB3", "BGR3", "YUYV", "BA81"}},
		"nv12jpeg": {Driver: "hantro-vpu", Card: "rockchip,rk3399-vpu-enc", Capabilities: "0x04204000",
			MPlane: true, Output: []rawFixture{{FourCC: "NV12"}}, Capture: []string{"JPEG"}},
		"camera": {Driver: "vivid", Card: "vivid", Capabilities: "0x84200001", DeviceCaps: "0x04200001"},
		// An old driver without device_caps: capabilities are the node's.
		"oldm2m": {Driver: "old", Card: "old", Capabilities: "0x04008000", Capture: []string{"JPEG"}, Output: []rawFixture{{FourCC: "YU12"}}},
	}
}

// fakeTree makes /dev/videoN files under a temporary root and an opener
// that answers for each node as the named fake does ("" = cannot open,
// "notty" = QUERYCAP fails).
func fakeTree(t *testing.T, nodes map[string]string) (string, opener) {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "dev"), 0o755)
	fx := fakeNodes(t)
	for node := range nodes {
		if err := os.WriteFile(filepath.Join(root, "dev", node), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, func(path string) (ioctler, error) {
		kind := nodes[filepath.Base(path)]
		switch kind {
		case "":
			return nil, unix.EACCES
		case "notty":
			d := newFake(fixture{})
			d.fx.Capabilities = "0"
			return &failingQuerycap{d}, nil
		}
		f, ok := fx[kind]
		if !ok {
			t.Fatalf("no fake %q", kind)
		}
		return newFake(f), nil
	}
}

type failingQuerycap struct{ *fakeDevice }

func (f *failingQuerycap) Ioctl(req uintptr, arg unsafe.Pointer) error {
	if req == vidiocQueryCap {
		return unix.ENOTTY
	}
	return f.fakeDevice.Ioctl(req, arg)
}

func TestFind(t *testing.T) {
	pi := map[string]string{"video0": "camera", "video10": "decode", "video11": "encode", "video31": "encode_image", "video1": "", "video2": "notty"}
	cases := []struct {
		name    string
		nodes   map[string]string
		want    string
		wantErr error
	}{
		{"raspberry pi", pi, "/dev/video31", nil},
		{"renumbered", map[string]string{"video3": "encode_image", "video0": "camera"}, "/dev/video3", nil},
		{"vim2m is no JPEG encoder", map[string]string{"video0": "camera", "video4": "vim2m"}, "", ErrNoJPEG},
		{"pi without encode_image", map[string]string{"video10": "decode", "video11": "encode"}, "", ErrNoJPEG},
		{"cameras only", map[string]string{"video0": "camera", "video1": ""}, "", ErrNotFound},
		{"nothing", map[string]string{}, "", ErrNotFound},
		{"planar 4:2:0 preferred", map[string]string{"video2": "nv12jpeg", "video40": "encode_image"}, "/dev/video40", nil},
		{"lowest node among equals", map[string]string{"video12": "encode_image", "video9": "encode_image"}, "/dev/video9", nil},
		{"no device_caps", map[string]string{"video5": "oldm2m"}, "/dev/video5", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, open := fakeTree(t, c.nodes)
			info, err := Find(WithRoot(root), withOpener(open))
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err %v, want %v", err, c.wantErr)
				}
				if strings.Contains(c.name, "cameras") && !strings.Contains(err.Error(), "video1: permission denied") {
					t.Fatalf("err %v does not name the node it could not open", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimPrefix(info.Path, root); got != c.want {
				t.Fatalf("found %s (%s), want %s", got, info, c.want)
			}
		})
	}
}

func TestScanReportsAPIAndFormats(t *testing.T) {
	root, open := fakeTree(t, map[string]string{"video31": "encode_image", "video7": "vim2m", "video0": "camera"})
	devs, err := Scan(WithRoot(root), withOpener(open))
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 {
		t.Fatalf("%d M2M devices, want 2: %v", len(devs), devs)
	}
	vim, img := devs[0], devs[1]
	if vim.MPlane || vim.Driver != "vim2m" || vim.JPEG() || formatList(vim.Output) != "RGBP, RGBR, RGB3, BGR3" {
		t.Errorf("vim2m: %+v", vim)
	}
	if !img.MPlane || img.Card != "bcm2835-codec-encode_image" || !img.JPEG() || img.Output[0] != FmtYUV420 {
		t.Errorf("encode_image: %+v", img)
	}
	if got := img.String(); !strings.Contains(got, `bcm2835-codec, "bcm2835-codec-encode_image", multi-planar`) {
		t.Errorf("String() = %s", got)
	}
}
