//go:build linux && cgo

package v4l2

import (
	"github.com/vladimirvivien/go4vl/v4l2"

	"flowcam/capture"
)

// Available reports whether this build can open V4L2 cameras.
const Available = true

func openCamera(path string) (camera, error) { return openDevice(path) }

func (d *device) granted() (FourCC, capture.Size, int, float64) {
	return FourCC(d.format.PixelFormat), capture.Size{Width: int(d.format.Width), Height: int(d.format.Height)},
		int(d.format.BytesPerLine), d.fps
}

func (d *device) setControls(cs []Control) error {
	if len(cs) == 0 {
		return nil
	}
	all, err := v4l2.QueryAllControls(d.fd)
	if err != nil {
		return err
	}
	have := make([]controlInfo, len(all))
	for i, c := range all {
		have[i] = controlInfo{id: c.ID, name: c.Name, min: c.Minimum, max: c.Maximum}
	}
	matched, err := resolve(d.path, cs, have)
	if err != nil {
		return err
	}
	for i, m := range matched {
		if err := v4l2.SetControlValue(d.fd, m.id, cs[i].Value); err != nil {
			return err
		}
	}
	return nil
}
