package v4l2

import (
	"fmt"
	"strconv"
	"strings"
)

// Control is a camera setting from the configuration: by name (as the
// driver names it, case, spaces and underscores ignored) or by numeric id.
type Control struct {
	Name  string
	ID    uint32
	Value int32
}

// ParseControl reads "name=value" or "0x00980900=value".
func ParseControl(s string) (Control, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return Control{}, fmt.Errorf("control %q: want name=value", s)
	}
	val, err := strconv.ParseInt(strings.TrimSpace(v), 0, 32)
	if err != nil {
		return Control{}, fmt.Errorf("control %q: value must be an integer", s)
	}
	c := Control{Value: int32(val)}
	if id, err := strconv.ParseUint(strings.TrimSpace(k), 0, 32); err == nil {
		c.ID = uint32(id)
	} else {
		c.Name = strings.TrimSpace(k)
	}
	return c, nil
}

func (c Control) label() string {
	if c.Name != "" {
		return c.Name
	}
	return fmt.Sprintf("%#x", c.ID)
}

// controlInfo is what a device says about one of its controls.
type controlInfo struct {
	id       uint32
	name     string
	min, max int32
}

func normalize(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '_', '-', ',':
			return -1
		}
		return r
	}, strings.ToLower(name))
}

// resolve matches each configured control to the device's and checks its
// range, so a typo or an impossible value names the control, the device
// and what would be valid.
func resolve(device string, want []Control, have []controlInfo) ([]controlInfo, error) {
	out := make([]controlInfo, len(want))
	for i, c := range want {
		found := false
		for _, h := range have {
			if (c.ID != 0 && h.id == c.ID) || (c.Name != "" && normalize(h.name) == normalize(c.Name)) {
				out[i], found = h, true
				break
			}
		}
		if !found {
			names := make([]string, len(have))
			for k, h := range have {
				names[k] = h.name
			}
			return nil, fmt.Errorf("%s has no control %q (it has: %s)", device, c.label(), strings.Join(names, ", "))
		}
		if c.Value < out[i].min || c.Value > out[i].max {
			return nil, fmt.Errorf("control %q = %d is out of range on %s: valid values are %d to %d",
				out[i].name, c.Value, device, out[i].min, out[i].max)
		}
	}
	return out, nil
}
