package m2m

import (
	"runtime"
	"testing"
	"unsafe"
)

// TestABI checks the structs against the ioctl numbers the kernel headers
// give on each architecture (the size is part of the number), and the
// sizes pahole reports for struct v4l2_* there.
func TestABI(t *testing.T) {
	is64 := unsafe.Sizeof(uintptr(0)) == 8
	pick := func(on64, on32 uintptr) uintptr {
		if is64 {
			return on64
		}
		return on32
	}
	ioctls := []struct {
		name      string
		got, want uintptr
	}{
		{"VIDIOC_QUERYCAP", vidiocQueryCap, 0x80685600},
		{"VIDIOC_ENUM_FMT", vidiocEnumFmt, 0xc0405602},
		{"VIDIOC_G_FMT", vidiocGFmt, pick(0xc0d05604, 0xc0cc5604)},
		{"VIDIOC_S_FMT", vidiocSFmt, pick(0xc0d05605, 0xc0cc5605)},
		{"VIDIOC_REQBUFS", vidiocReqBufs, 0xc0145608},
		{"VIDIOC_QUERYBUF", vidiocQueryBuf, pick(0xc0585609, 0xc0445609)},
		{"VIDIOC_QBUF", vidiocQBuf, pick(0xc058560f, 0xc044560f)},
		{"VIDIOC_DQBUF", vidiocDQBuf, pick(0xc0585611, 0xc0445611)},
		{"VIDIOC_STREAMON", vidiocStreamOn, 0x40045612},
		{"VIDIOC_STREAMOFF", vidiocStreamOff, 0x40045613},
		{"VIDIOC_G_CTRL", vidiocGCtrl, 0xc008561b},
		{"VIDIOC_S_CTRL", vidiocSCtrl, 0xc008561c},
		{"VIDIOC_S_EXT_CTRLS", vidiocSExtCtrls, pick(0xc0205648, 0xc0185648)},
	}
	for _, c := range ioctls {
		if c.got != c.want {
			t.Errorf("%s on %s = %#x, want %#x", c.name, runtime.GOARCH, c.got, c.want)
		}
	}
	sizes := []struct {
		name      string
		got, want uintptr
	}{
		{"v4l2_capability", unsafe.Sizeof(capability{}), 104},
		{"v4l2_fmtdesc", unsafe.Sizeof(fmtDesc{}), 64},
		{"v4l2_format", unsafe.Sizeof(format{}), pick(208, 204)},
		{"v4l2_pix_format", unsafe.Sizeof(pixFormat{}), 48},
		{"v4l2_pix_format_mplane", unsafe.Sizeof(pixFormatMPlane{}), 192},
		{"v4l2_plane_pix_format", unsafe.Sizeof(planePixFormat{}), 20},
		{"v4l2_requestbuffers", unsafe.Sizeof(requestBuffers{}), 20},
		{"v4l2_buffer", unsafe.Sizeof(buffer{}), pick(88, 68)},
		{"v4l2_plane", unsafe.Sizeof(plane{}), pick(64, 60)},
		{"v4l2_control", unsafe.Sizeof(control{}), 8},
		{"v4l2_ext_control", unsafe.Sizeof(extControl{}), 20},
		{"v4l2_ext_controls", unsafe.Sizeof(extControls{}), pick(32, 24)},
	}
	for _, c := range sizes {
		if c.got != c.want {
			t.Errorf("sizeof(struct %s) on %s = %d, want %d", c.name, runtime.GOARCH, c.got, c.want)
		}
	}
	offsets := []struct {
		name      string
		got, want uintptr
	}{
		{"v4l2_format.fmt", unsafe.Offsetof(format{}.Fmt), pick(8, 4)},
		{"v4l2_buffer.timestamp", unsafe.Offsetof(buffer{}.Timestamp), pick(24, 20)},
		{"v4l2_buffer.m", unsafe.Offsetof(buffer{}.M), pick(64, 52)},
		{"v4l2_buffer.length", unsafe.Offsetof(buffer{}.Length), pick(72, 56)},
		{"v4l2_plane.data_offset", unsafe.Offsetof(plane{}.DataOffset), pick(16, 12)},
		{"v4l2_pix_format_mplane.num_planes", unsafe.Offsetof(pixFormatMPlane{}.NumPlanes), 180},
		{"v4l2_ext_controls.controls", unsafe.Offsetof(extControls{}.Controls), pick(24, 20)},
	}
	for _, c := range offsets {
		if c.got != c.want {
			t.Errorf("offsetof(%s) on %s = %d, want %d", c.name, runtime.GOARCH, c.got, c.want)
		}
	}
	if cidJPEGQuality != 0x009d0903 {
		t.Errorf("V4L2_CID_JPEG_COMPRESSION_QUALITY = %#x", cidJPEGQuality)
	}
}
