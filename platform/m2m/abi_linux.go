package m2m

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The structs below mirror include/uapi/linux/videodev2.h field by field.
// Go lays them out as C does on amd64, arm64 and 32-bit arm (abi_linux_test
// checks the sizes against the ioctl numbers the kernel headers produce);
// unions are a field of the size and alignment of their largest member.

const (
	bufTypeCapture       = 1  // V4L2_BUF_TYPE_VIDEO_CAPTURE
	bufTypeOutput        = 2  // V4L2_BUF_TYPE_VIDEO_OUTPUT
	bufTypeCaptureMPlane = 9  // V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE
	bufTypeOutputMPlane  = 10 // V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE

	memoryMMAP = 1 // V4L2_MEMORY_MMAP
	fieldNone  = 1 // V4L2_FIELD_NONE

	capVideoM2MMPlane = 0x00004000
	capVideoM2M       = 0x00008000
	capStreaming      = 0x04000000
	capDeviceCaps     = 0x80000000

	bufFlagError = 0x00000040 // V4L2_BUF_FLAG_ERROR

	ctrlClassUser = 0x00980000
	ctrlClassJPEG = 0x009d0000
	// cidJPEGQuality is V4L2_CID_JPEG_COMPRESSION_QUALITY.
	cidJPEGQuality = ctrlClassJPEG | 0x903

	// Codec controls (V4L2_CID_CODEC_BASE 0x00990900 plus the offsets of
	// linux/v4l2-controls.h).
	ctrlClassCodec     = 0x00990000
	cidBitrate         = 0x00990900 + 207 // V4L2_CID_MPEG_VIDEO_BITRATE, bits/s
	cidRepeatSeqHeader = 0x00990900 + 226 // V4L2_CID_MPEG_VIDEO_REPEAT_SEQ_HEADER
	cidForceKeyFrame   = 0x00990900 + 229 // V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME (a button)
	cidH264IPeriod     = 0x00990900 + 358 // V4L2_CID_MPEG_VIDEO_H264_I_PERIOD
	cidH264Level       = 0x00990900 + 359 // V4L2_CID_MPEG_VIDEO_H264_LEVEL (a menu)
	cidH264Profile     = 0x00990900 + 363 // V4L2_CID_MPEG_VIDEO_H264_PROFILE (a menu)

	maxPlanes = 8 // VIDEO_MAX_PLANES
)

type capability struct {
	Driver       [16]byte
	Card         [32]byte
	BusInfo      [32]byte
	Version      uint32
	Capabilities uint32
	DeviceCaps   uint32
	Reserved     [3]uint32
}

type fmtDesc struct {
	Index       uint32
	Type        uint32
	Flags       uint32
	Description [32]byte
	PixelFormat uint32
	MbusCode    uint32
	Reserved    [3]uint32
}

// format is struct v4l2_format. Its union holds struct v4l2_window, which
// has pointers, so it is pointer-aligned: 208 bytes on 64-bit, 204 on arm.
type format struct {
	Type uint32
	Fmt  formatUnion
}

type formatUnion struct {
	_   [0]uintptr
	Raw [200]byte
}

type pixFormat struct {
	Width        uint32
	Height       uint32
	PixelFormat  uint32
	Field        uint32
	BytesPerLine uint32
	SizeImage    uint32
	Colorspace   uint32
	Priv         uint32
	Flags        uint32
	YCbCrEnc     uint32
	Quantization uint32
	XferFunc     uint32
}

// pixFormatMPlane is packed in C; every field here falls on its natural
// alignment anyway, so Go adds no padding (192 bytes).
type pixFormatMPlane struct {
	Width        uint32
	Height       uint32
	PixelFormat  uint32
	Field        uint32
	Colorspace   uint32
	PlaneFmt     [maxPlanes]planePixFormat
	NumPlanes    uint8
	Flags        uint8
	YCbCrEnc     uint8
	Quantization uint8
	XferFunc     uint8
	Reserved     [7]uint8
}

type planePixFormat struct {
	SizeImage    uint32
	BytesPerLine uint32
	Reserved     [6]uint16
}

func (f *format) pix() *pixFormat { return (*pixFormat)(unsafe.Pointer(&f.Fmt.Raw[0])) }
func (f *format) pixMP() *pixFormatMPlane {
	return (*pixFormatMPlane)(unsafe.Pointer(&f.Fmt.Raw[0]))
}

type requestBuffers struct {
	Count        uint32
	Type         uint32
	Memory       uint32
	Capabilities uint32
	Flags        uint8
	Reserved     [3]uint8
}

type timecode struct {
	Type     uint32
	Flags    uint32
	Frames   uint8
	Seconds  uint8
	Minutes  uint8
	Hours    uint8
	Userbits [4]uint8
}

// buffer is struct v4l2_buffer. unix.Timeval has the kernel's layout on
// each architecture (32-bit time on arm, which the kernel still accepts as
// the _TIME32 variant of the buffer ioctls). M is the union of offset,
// userptr, planes and fd: unsigned long sized.
type buffer struct {
	Index     uint32
	Type      uint32
	BytesUsed uint32
	Flags     uint32
	Field     uint32
	Timestamp unix.Timeval
	Timecode  timecode
	Sequence  uint32
	Memory    uint32
	M         uintptr
	Length    uint32
	Reserved2 uint32
	RequestFD int32
}

// offset reads the union as mem_offset (the low 32 bits on little-endian).
func (b *buffer) offset() uint32 { return uint32(b.M) }

type plane struct {
	BytesUsed  uint32
	Length     uint32
	M          uintptr
	DataOffset uint32
	Reserved   [11]uint32
}

func (p *plane) offset() uint32 { return uint32(p.M) }

type control struct {
	ID    uint32
	Value int32
}

// extControl is packed in C: 20 bytes, the 64-bit value union at offset 12.
// Splitting it into two 32-bit halves keeps Go from padding it.
type extControl struct {
	ID        uint32
	Size      uint32
	Reserved2 uint32
	Value     int32
	ValueHigh uint32
}

type extControls struct {
	Which     uint32
	Count     uint32
	ErrorIdx  uint32
	RequestFD int32
	Reserved  uint32
	Controls  uintptr
}

// _IOC encoding shared by x86, arm and arm64 (asm-generic/ioctl.h).
const (
	iocWrite = 1
	iocRead  = 2
)

func ioc(dir, nr, size uintptr) uintptr { return dir<<30 | size<<16 | 'V'<<8 | nr }

var (
	vidiocQueryCap  = ioc(iocRead, 0, unsafe.Sizeof(capability{}))
	vidiocEnumFmt   = ioc(iocRead|iocWrite, 2, unsafe.Sizeof(fmtDesc{}))
	vidiocGFmt      = ioc(iocRead|iocWrite, 4, unsafe.Sizeof(format{}))
	vidiocSFmt      = ioc(iocRead|iocWrite, 5, unsafe.Sizeof(format{}))
	vidiocReqBufs   = ioc(iocRead|iocWrite, 8, unsafe.Sizeof(requestBuffers{}))
	vidiocQueryBuf  = ioc(iocRead|iocWrite, 9, unsafe.Sizeof(buffer{}))
	vidiocQBuf      = ioc(iocRead|iocWrite, 15, unsafe.Sizeof(buffer{}))
	vidiocDQBuf     = ioc(iocRead|iocWrite, 17, unsafe.Sizeof(buffer{}))
	vidiocStreamOn  = ioc(iocWrite, 18, unsafe.Sizeof(int32(0)))
	vidiocStreamOff = ioc(iocWrite, 19, unsafe.Sizeof(int32(0)))
	vidiocGCtrl     = ioc(iocRead|iocWrite, 27, unsafe.Sizeof(control{}))
	vidiocSCtrl     = ioc(iocRead|iocWrite, 28, unsafe.Sizeof(control{}))
	vidiocSExtCtrls = ioc(iocRead|iocWrite, 72, unsafe.Sizeof(extControls{}))
)

// ioctlNames name requests in errors.
var ioctlNames = map[uintptr]string{
	vidiocQueryCap: "VIDIOC_QUERYCAP", vidiocEnumFmt: "VIDIOC_ENUM_FMT",
	vidiocGFmt: "VIDIOC_G_FMT", vidiocSFmt: "VIDIOC_S_FMT",
	vidiocReqBufs: "VIDIOC_REQBUFS", vidiocQueryBuf: "VIDIOC_QUERYBUF",
	vidiocQBuf: "VIDIOC_QBUF", vidiocDQBuf: "VIDIOC_DQBUF",
	vidiocStreamOn: "VIDIOC_STREAMON", vidiocStreamOff: "VIDIOC_STREAMOFF",
	vidiocGCtrl: "VIDIOC_G_CTRL", vidiocSCtrl: "VIDIOC_S_CTRL",
	vidiocSExtCtrls: "VIDIOC_S_EXT_CTRLS",
}

// cstr is a NUL-terminated C string field as Go text.
func cstr(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
