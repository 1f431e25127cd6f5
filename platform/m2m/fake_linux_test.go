package m2m

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fixture is a recorded driver's answers (testdata/*.json).
type fixture struct {
	Driver       string       `json:"driver"`
	Card         string       `json:"card"`
	BusInfo      string       `json:"bus_info"`
	Capabilities string       `json:"capabilities"`
	DeviceCaps   string       `json:"device_caps"`
	MPlane       bool         `json:"mplane"`
	Output       []rawFixture `json:"output"`
	Capture      []string     `json:"capture"`
	MinSize      int          `json:"min_size"`
	MaxSize      int          `json:"max_size"`
	HeightAlign  int          `json:"height_align"`
	JPEGSize     int          `json:"jpeg_sizeimage"`
	CodedSize    int          `json:"coded_sizeimage"` // a video encoder's CAPTURE buffers
	Quality      *struct {
		Min, Max, Default int32
	} `json:"quality"`
	Controls []ctrlFixture `json:"controls"`
}

// ctrlFixture is one control a driver offers: its id (hex), range and
// default.
type ctrlFixture struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	Min, Max, Default int32
}

type rawFixture struct {
	FourCC string `json:"fourcc"`
	Depth  int    `json:"depth"`
	Align  int    `json:"align"`
	MultX2 int    `json:"mult_x2"`
}

func loadFixture(t *testing.T, name string) fixture {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

// fakeDevice replays a fixture through the ioctler interface. Its
// "hardware" finishes a frame as soon as an OUTPUT and a CAPTURE buffer are
// both queued, writing a small fake JPEG that carries the quality and the
// first luma byte, so tests can see both arrive.
type fakeDevice struct {
	fx    fixture
	calls []string
	ctrls map[uint32]int32

	fmts      map[uint32]Format // by buffer type
	bufs      map[uint32][][]byte
	queued    map[uint32][]int
	done      map[uint32][]uint32 // finished indexes per type
	streaming map[uint32]bool
	mapped    int
	closed    bool

	// misbehaviours
	stuck       bool   // never finishes a frame
	bytesUsed   int    // if set, reported instead of the real payload size
	errorFlag   bool   // report V4L2_BUF_FLAG_ERROR
	noExtCtrls  bool   // answer S_EXT_CTRLS with ENOTTY
	substitute  FourCC // S_FMT answers with this format instead
	lastPayload []byte // what the fake encoder got in the OUTPUT buffer
	headerAlone bool   // the video encoder's first CAPTURE buffer holds only SPS and PPS
	noForce     bool   // no FORCE_KEY_FRAME control (older firmware)

	used    map[uint32]map[uint32]uint32 // bytes written per type and index
	pending bool                         // headerAlone: the header went, the picture is still to come
	frames  int                          // pictures the video encoder made
	forced  bool                         // FORCE_KEY_FRAME was pressed since the last picture
}

func newFake(fx fixture) *fakeDevice {
	return &fakeDevice{fx: fx, ctrls: map[uint32]int32{}, fmts: map[uint32]Format{}, bufs: map[uint32][][]byte{},
		queued: map[uint32][]int{}, done: map[uint32][]uint32{}, streaming: map[uint32]bool{},
		used: map[uint32]map[uint32]uint32{}}
}

func hex32(t string) uint32 {
	v, err := strconv.ParseUint(t, 0, 32)
	if err != nil {
		panic(err) // fixture typo: a test bug, not input
	}
	return uint32(v)
}

func (d *fakeDevice) Ioctl(req uintptr, arg unsafe.Pointer) error {
	d.calls = append(d.calls, ioctlNames[req])
	if d.closed {
		return unix.EBADF
	}
	switch req {
	case vidiocQueryCap:
		return d.querycap((*capability)(arg))
	case vidiocEnumFmt:
		return d.enumFmt((*fmtDesc)(arg))
	case vidiocSFmt:
		return d.setFmt((*format)(arg))
	case vidiocReqBufs:
		return d.reqbufs((*requestBuffers)(arg))
	case vidiocQueryBuf:
		return d.querybuf((*buffer)(arg))
	case vidiocQBuf:
		return d.qbuf((*buffer)(arg))
	case vidiocDQBuf:
		return d.dqbuf((*buffer)(arg))
	case vidiocStreamOn, vidiocStreamOff:
		typ := uint32(*(*int32)(arg))
		d.streaming[typ] = req == vidiocStreamOn
		if req == vidiocStreamOff {
			d.queued[typ], d.done[typ] = nil, nil
		}
		return nil
	case vidiocSExtCtrls:
		if d.noExtCtrls {
			return unix.ENOTTY
		}
		cs := (*extControls)(arg)
		c := (*extControl)(*(*unsafe.Pointer)(unsafe.Pointer(&cs.Controls)))
		if cs.Which != c.ID&0x0fff0000 {
			return unix.EINVAL
		}
		return d.setCtrl(c.ID, c.Value)
	case vidiocSCtrl:
		c := (*control)(arg)
		return d.setCtrl(c.ID, c.Value)
	case vidiocGCtrl:
		c := (*control)(arg)
		v, ok := d.ctrls[c.ID]
		if !ok {
			return unix.EINVAL
		}
		c.Value = v
		return nil
	}
	return unix.ENOTTY
}

func (d *fakeDevice) querycap(c *capability) error {
	copy(c.Driver[:], d.fx.Driver)
	copy(c.Card[:], d.fx.Card)
	copy(c.BusInfo[:], d.fx.BusInfo)
	c.Capabilities = hex32(d.fx.Capabilities)
	if d.fx.DeviceCaps != "" {
		c.DeviceCaps = hex32(d.fx.DeviceCaps)
	}
	return nil
}

func (d *fakeDevice) types() (out, capture uint32) { return queueTypes(d.fx.MPlane) }

func (d *fakeDevice) enumFmt(f *fmtDesc) error {
	out, capture := d.types()
	var list []string
	switch f.Type {
	case out:
		for _, r := range d.fx.Output {
			list = append(list, r.FourCC)
		}
	case capture:
		list = d.fx.Capture
	default:
		return unix.EINVAL
	}
	if int(f.Index) >= len(list) {
		return unix.EINVAL
	}
	f.PixelFormat = uint32(fourcc(list[f.Index]))
	return nil
}

func (d *fakeDevice) setCtrl(id uint32, v int32) error {
	if q := d.fx.Quality; id == cidJPEGQuality && q != nil {
		if v < q.Min || v > q.Max {
			return unix.ERANGE
		}
		d.ctrls[id] = v
		return nil
	}
	for _, c := range d.fx.Controls {
		if hex32(c.ID) != id || id == cidForceKeyFrame && d.noForce {
			continue
		}
		if v < c.Min || v > c.Max {
			return unix.ERANGE
		}
		if id == cidForceKeyFrame {
			d.forced = true // a button: pressing it is the value
			return nil
		}
		d.ctrls[id] = v
		return nil
	}
	return unix.EINVAL
}

// ctrl is a control's value: what was set, else the fixture's default.
func (d *fakeDevice) ctrl(id uint32) int32 {
	if v, ok := d.ctrls[id]; ok {
		return v
	}
	for _, c := range d.fx.Controls {
		if hex32(c.ID) == id {
			return c.Default
		}
	}
	return 0
}

// setFmt answers as the fixture's driver sizes formats.
func (d *fakeDevice) setFmt(f *format) error {
	out, _ := d.types()
	var w, h, pf uint32
	if d.fx.MPlane {
		p := f.pixMP()
		w, h, pf = p.Width, p.Height, p.PixelFormat
	} else {
		p := f.pix()
		w, h, pf = p.Width, p.Height, p.PixelFormat
	}
	if d.substitute != 0 {
		pf = uint32(d.substitute)
	}
	w = max(min(w, uint32(d.fx.MaxSize)), uint32(d.fx.MinSize))
	h = max(min(h, uint32(d.fx.MaxSize)), uint32(d.fx.MinSize))
	var bpl, size uint32
	if f.Type == out {
		r := d.raw(FourCC(pf))
		if r == nil {
			r = &d.fx.Output[0]
			pf = uint32(fourcc(r.FourCC))
		}
		a := uint32(d.fx.HeightAlign)
		h = (h + a - 1) / a * a
		bpl = align(w*uint32(r.Depth)/8, uint32(r.Align))
		size = bpl * h * uint32(r.MultX2) / 2
	} else {
		pf, size = uint32(fourcc(d.fx.Capture[0])), uint32(max(d.fx.JPEGSize, d.fx.CodedSize))
	}
	if d.fx.MPlane {
		p := f.pixMP()
		p.Width, p.Height, p.PixelFormat, p.NumPlanes = w, h, pf, 1
		p.PlaneFmt[0].BytesPerLine, p.PlaneFmt[0].SizeImage = bpl, size
	} else {
		p := f.pix()
		p.Width, p.Height, p.PixelFormat, p.BytesPerLine, p.SizeImage = w, h, pf, bpl, size
	}
	got, _ := decodeFormat(f, d.fx.MPlane)
	d.fmts[f.Type] = got
	return nil
}

func align(v, a uint32) uint32 { return (v + a - 1) / a * a }

func (d *fakeDevice) raw(f FourCC) *rawFixture {
	for i := range d.fx.Output {
		if fourcc(d.fx.Output[i].FourCC) == f {
			return &d.fx.Output[i]
		}
	}
	return nil
}

func (d *fakeDevice) reqbufs(r *requestBuffers) error {
	if d.streaming[r.Type] {
		return unix.EBUSY
	}
	d.bufs[r.Type] = nil
	for i := uint32(0); i < r.Count; i++ {
		d.bufs[r.Type] = append(d.bufs[r.Type], make([]byte, d.fmts[r.Type].Planes[0].SizeImage))
	}
	return nil
}

// offset encodes type and index into the mmap offset, as drivers do with
// their own cookies.
func fakeOffset(typ, index uint32) uint32 { return typ<<24 | index<<12 }

func (d *fakeDevice) planes(b *buffer) *[maxPlanes]plane {
	return (*[maxPlanes]plane)(*(*unsafe.Pointer)(unsafe.Pointer(&b.M)))
}

func (d *fakeDevice) querybuf(b *buffer) error {
	if int(b.Index) >= len(d.bufs[b.Type]) {
		return unix.EINVAL
	}
	n := uint32(len(d.bufs[b.Type][b.Index]))
	if d.fx.MPlane {
		p := d.planes(b)
		p[0].Length, p[0].M = n, uintptr(fakeOffset(b.Type, b.Index))
		b.Length = 1
	} else {
		b.Length, b.M = n, uintptr(fakeOffset(b.Type, b.Index))
	}
	return nil
}

func (d *fakeDevice) qbuf(b *buffer) error {
	if int(b.Index) >= len(d.bufs[b.Type]) || !d.streaming[b.Type] {
		return unix.EINVAL
	}
	d.queued[b.Type] = append(d.queued[b.Type], int(b.Index))
	d.run()
	return nil
}

// run is the "hardware": one OUTPUT plus one CAPTURE buffer make a frame.
func (d *fakeDevice) run() {
	out, capture := d.types()
	if d.stuck || len(d.queued[out]) == 0 || len(d.queued[capture]) == 0 {
		return
	}
	oi, ci := d.queued[out][0], d.queued[capture][0]
	d.queued[capture] = d.queued[capture][1:]
	raw := d.bufs[out][oi]
	d.lastPayload = append(d.lastPayload[:0], raw...)
	var result []byte
	switch {
	case FourCC(d.fmts[capture].FourCC) == FmtH264 && d.headerAlone && d.frames == 0 && !d.pending:
		// The stream header in a buffer of its own; the picture follows
		// in the next CAPTURE buffer, from the same OUTPUT buffer.
		d.pending = true
		d.finish(capture, ci, fakeParameterSets)
		return
	case FourCC(d.fmts[capture].FourCC) == FmtH264:
		result = d.accessUnit(raw[0])
	default:
		result = []byte{0xff, 0xd8, 0xff, 0xfe, 0, 4, byte(d.ctrls[cidJPEGQuality]), raw[0], 0xff, 0xd9}
	}
	d.queued[out] = d.queued[out][1:]
	d.done[out] = append(d.done[out], uint32(oi))
	d.finish(capture, ci, result)
}

// fakeParameterSets stand for an SPS and a PPS.
var fakeParameterSets = []byte{0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80}

// accessUnit is the video encoder's "picture": an IDR slice (after the
// parameter sets when the header is repeated) for the first picture, a
// forced one and every I-period-th, else a non-IDR slice; each slice
// carries the first luma byte.
func (d *fakeDevice) accessUnit(luma byte) []byte {
	period := int(d.ctrl(cidH264IPeriod))
	key := d.frames == 0 || d.forced || period > 0 && d.frames%period == 0
	d.frames++
	d.forced = false
	var au []byte
	if key && (d.ctrl(cidRepeatSeqHeader) == 1 || d.frames == 1) && !d.pending {
		au = append(au, fakeParameterSets...)
	}
	d.pending = false
	if key {
		return append(au, 0, 0, 0, 1, 0x65, 0x88, luma)
	}
	return append(au, 0, 0, 0, 1, 0x41, 0x9a, luma)
}

// finish hands a CAPTURE buffer back holding result.
func (d *fakeDevice) finish(capture uint32, ci int, result []byte) {
	copy(d.bufs[capture][ci], result)
	if d.used == nil {
		d.used = map[uint32]map[uint32]uint32{}
	}
	if d.used[capture] == nil {
		d.used[capture] = map[uint32]uint32{}
	}
	d.used[capture][uint32(ci)] = uint32(len(result))
	d.done[capture] = append(d.done[capture], uint32(ci))
}

func (d *fakeDevice) dqbuf(b *buffer) error {
	if len(d.done[b.Type]) == 0 {
		return unix.EAGAIN
	}
	_, capture := d.types()
	b.Index = d.done[b.Type][0]
	d.done[b.Type] = d.done[b.Type][1:]
	used := uint32(10)
	if n, ok := d.used[b.Type][b.Index]; ok {
		used = n
	}
	if b.Type == capture && d.bytesUsed != 0 {
		used = uint32(d.bytesUsed)
	}
	if b.Type == capture && d.errorFlag {
		b.Flags |= bufFlagError
	}
	n := uint32(len(d.bufs[b.Type][b.Index]))
	if d.fx.MPlane {
		p := d.planes(b)
		p[0].BytesUsed, p[0].Length = used, n
		b.Length = 1
	} else {
		b.BytesUsed, b.Length = used, n
	}
	return nil
}

func (d *fakeDevice) Mmap(offset int64, length int) ([]byte, error) {
	typ, index := uint32(offset>>24), int(offset>>12&0xfff)
	if index >= len(d.bufs[typ]) || length > len(d.bufs[typ][index]) {
		return nil, unix.EINVAL
	}
	d.mapped++
	return d.bufs[typ][index][:length], nil
}

func (d *fakeDevice) Munmap(b []byte) error {
	d.mapped--
	return nil
}

// Poll never sleeps: a stuck fake reports the timeout at once, which is
// what a real poll does once the time is up.
func (d *fakeDevice) Poll(events int16, timeout time.Duration) (int16, error) {
	out, capture := d.types()
	var rev int16
	if len(d.done[capture]) > 0 {
		rev |= unix.POLLIN
	}
	if len(d.done[out]) > 0 {
		rev |= unix.POLLOUT
	}
	return rev & events, nil
}

func (d *fakeDevice) Close() error {
	if d.closed {
		return fmt.Errorf("closed twice")
	}
	d.closed = true
	return nil
}

// count is how often an ioctl was called.
func (d *fakeDevice) count(name string) int {
	n := 0
	for _, c := range d.calls {
		if c == name {
			n++
		}
	}
	return n
}
