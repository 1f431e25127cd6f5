package m2m

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctler is an open device as the rest of the package sees it: the real
// file, or in tests a replay of what a driver answered.
type ioctler interface {
	Ioctl(req uintptr, arg unsafe.Pointer) error
	Mmap(offset int64, length int) ([]byte, error)
	Munmap(b []byte) error
	// Poll waits up to timeout for events (POLLIN, POLLOUT) and returns
	// those that happened; none means the timeout passed.
	Poll(events int16, timeout time.Duration) (int16, error)
	Close() error
}

// opener opens a device node; tests replace it.
type opener func(path string) (ioctler, error)

type fileDevice struct{ fd int }

// openFile opens path non-blocking, so a DQBUF with nothing ready answers
// EAGAIN instead of sleeping past our timeout.
func openFile(path string) (ioctler, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &fileDevice{fd: fd}, nil
}

func (f *fileDevice) Ioctl(req uintptr, arg unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(f.fd), req, uintptr(arg))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

func (f *fileDevice) Mmap(offset int64, length int) ([]byte, error) {
	return unix.Mmap(f.fd, offset, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

func (f *fileDevice) Munmap(b []byte) error { return unix.Munmap(b) }

func (f *fileDevice) Poll(events int16, timeout time.Duration) (int16, error) {
	fds := []unix.PollFd{{Fd: int32(f.fd), Events: events}}
	ms := int(timeout / time.Millisecond)
	if timeout > 0 && ms == 0 {
		ms = 1
	}
	for {
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0, err
		}
		return fds[0].Revents, nil
	}
}

func (f *fileDevice) Close() error { return unix.Close(f.fd) }

// ioctl runs req and names it and the device in the error.
func ioctl(d ioctler, path string, req uintptr, arg unsafe.Pointer) error {
	if err := d.Ioctl(req, arg); err != nil {
		name := ioctlNames[req]
		if name == "" {
			name = fmt.Sprintf("ioctl 0x%x", req)
		}
		return fmt.Errorf("%s: %s: %w", path, name, err)
	}
	return nil
}

// probe asks an open node what it is. It fails with ErrNotM2M for
// anything but a streaming M2M device (cameras, decoders' metadata nodes).
func probe(d ioctler, path string) (DeviceInfo, error) {
	var c capability
	if err := ioctl(d, path, vidiocQueryCap, unsafe.Pointer(&c)); err != nil {
		return DeviceInfo{}, err
	}
	info := DeviceInfo{Path: path, Driver: cstr(c.Driver[:]), Card: cstr(c.Card[:]), BusInfo: cstr(c.BusInfo[:]), Caps: c.Capabilities}
	// capabilities covers every node of the physical device; device_caps
	// is this node's own.
	if c.Capabilities&capDeviceCaps != 0 {
		info.Caps = c.DeviceCaps
	}
	switch {
	case info.Caps&capStreaming == 0:
		return info, fmt.Errorf("%s (%s): no streaming I/O: %w", path, info.Card, ErrNotM2M)
	case info.Caps&capVideoM2MMPlane != 0:
		info.MPlane = true
	case info.Caps&capVideoM2M != 0:
	default:
		return info, fmt.Errorf("%s (%s): %w", path, info.Card, ErrNotM2M)
	}
	outType, capType := queueTypes(info.MPlane)
	var err error
	if info.Output, err = enumFormats(d, path, outType); err != nil {
		return info, err
	}
	if info.Capture, err = enumFormats(d, path, capType); err != nil {
		return info, err
	}
	return info, nil
}

func queueTypes(mplane bool) (out, capture uint32) {
	if mplane {
		return bufTypeOutputMPlane, bufTypeCaptureMPlane
	}
	return bufTypeOutput, bufTypeCapture
}

// maxFormats bounds ENUM_FMT so a driver that never says EINVAL cannot
// keep us looping.
const maxFormats = 256

func enumFormats(d ioctler, path string, typ uint32) ([]FourCC, error) {
	var list []FourCC
	for i := uint32(0); i < maxFormats; i++ {
		desc := fmtDesc{Index: i, Type: typ}
		err := d.Ioctl(vidiocEnumFmt, unsafe.Pointer(&desc))
		if errors.Is(err, unix.EINVAL) {
			return list, nil
		}
		if err != nil {
			return list, fmt.Errorf("%s: VIDIOC_ENUM_FMT type %d index %d: %w", path, typ, i, err)
		}
		list = append(list, FourCC(desc.PixelFormat))
	}
	return list, nil
}

// FindOption adjusts Find and Scan.
type FindOption func(*finder)

type finder struct {
	root string
	glob string
	open opener
}

// WithRoot looks below root instead of / (for tests on a fake tree).
func WithRoot(root string) FindOption { return func(f *finder) { f.root = root } }

// WithGlob sets the nodes to scan (default "/dev/video*").
func WithGlob(pattern string) FindOption { return func(f *finder) { f.glob = pattern } }

func withOpener(o opener) FindOption { return func(f *finder) { f.open = o } }

// Scan probes every node matching the glob and returns the M2M devices in
// node order. Nodes that cannot be opened or are not M2M are skipped: a
// camera busy elsewhere must not hide the encoder.
func Scan(opts ...FindOption) ([]DeviceInfo, error) {
	devs, _, err := scan(opts...)
	return devs, err
}

// scan also returns why nodes that could not be probed were skipped.
func scan(opts ...FindOption) (devs []DeviceInfo, skipped []string, err error) {
	f := finder{glob: "/dev/video*", open: openFile}
	for _, o := range opts {
		o(&f)
	}
	paths, err := filepath.Glob(filepath.Join(f.root, f.glob))
	if err != nil {
		return nil, nil, fmt.Errorf("m2m: bad device pattern %q: %w", f.glob, err)
	}
	sort.Slice(paths, func(i, j int) bool { return nodeLess(paths[i], paths[j]) })
	for _, p := range paths {
		d, err := f.open(p)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		info, err := probe(d, p)
		d.Close()
		switch {
		case err == nil:
			devs = append(devs, info)
		case !errors.Is(err, ErrNotM2M):
			skipped = append(skipped, err.Error())
		}
	}
	return devs, skipped, nil
}

// Find returns the JPEG encoder among the M2M devices: ErrNotFound when
// there are no M2M devices, ErrNoJPEG when none of them produces JPEG. The
// error names the nodes that could not be opened or queried, since on a
// Pi a missing "video" group membership looks just like a missing encoder.
func Find(opts ...FindOption) (DeviceInfo, error) { return find(FmtJPEG, ErrNoJPEG, opts) }

// FindH264 is Find for the H.264 encoder (on a Pi 4, bcm2835-codec's
// "encode" node): ErrNoH264 when no M2M device produces H.264.
func FindH264(opts ...FindOption) (DeviceInfo, error) { return find(FmtH264, ErrNoH264, opts) }

func find(want FourCC, none error, opts []FindOption) (DeviceInfo, error) {
	devs, skipped, err := scan(opts...)
	if err != nil {
		return DeviceInfo{}, err
	}
	info, err := choose(devs, want, none)
	if err != nil {
		if len(skipped) > 0 {
			return DeviceInfo{}, fmt.Errorf("m2m: %w (skipped %s)", err, strings.Join(skipped, "; "))
		}
		return DeviceInfo{}, fmt.Errorf("m2m: %w", err)
	}
	return info, nil
}

// Probe opens one node and reports what it is.
func Probe(path string) (DeviceInfo, error) { return probeWith(openFile, path) }

func probeWith(open opener, path string) (DeviceInfo, error) {
	d, err := open(path)
	if err != nil {
		return DeviceInfo{}, fmt.Errorf("m2m: open %s: %w", path, err)
	}
	defer d.Close()
	return probe(d, path)
}
