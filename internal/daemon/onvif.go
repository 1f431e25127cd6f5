package daemon

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"flowcam/internal/buildinfo"
	"flowcam/platform/board"
	"flowcam/stream/server/onvif"
	"flowcam/stream/server/web"
)

// onvifSide is ONVIF as the daemon runs it: the services, mounted on the
// HTTP side, and WS-Discovery once HTTP listens.
type onvifSide struct {
	svc  *onvif.Service
	info onvif.DeviceInfo
	disc *onvif.Discovery
	log  *slog.Logger
}

// newONVIF prepares the services, or returns nil when ONVIF is off or
// there is no HTTP side to serve them on.
func (d *daemon) newONVIF(cfg *Config, b board.Info) *onvifSide {
	if !cfg.ONVIF.Enabled || cfg.HTTP.Addr == "" {
		return nil
	}
	name := cfg.ONVIF.Name
	if name == "" {
		name, _ = os.Hostname()
	}
	id := machineID()
	o := &onvifSide{log: d.log.With("component", "onvif"), info: onvif.DeviceInfo{
		Manufacturer: "flowcam", Model: b.String(), Firmware: buildinfo.Version(),
		Serial: id[:12], Hardware: b.String(), Name: name,
	}}
	o.svc = onvif.New(onvif.Options{Info: o.info, Profiles: d.onvifProfiles, Auth: d.access,
		RTSPPort: d.rtspPort, Multicast: cfg.RTSP.Multicast.Enabled, Logger: o.log})
	return o
}

// routes mount the services on the HTTP side.
func (o *onvifSide) routes() []web.Option {
	if o == nil {
		return nil
	}
	return []web.Option{web.WithRoute(onvif.DevicePath, o.svc), web.WithRoute(onvif.MediaPath, o.svc)}
}

// discover starts WS-Discovery, pointing at the HTTP port; a host where
// it cannot (port 3702 taken, no multicast interface) goes on without.
func (o *onvifSide) discover(cfg *Config, httpPort int) {
	if o == nil || !cfg.ONVIF.Discovery {
		return
	}
	disc, err := onvif.StartDiscovery(onvif.DiscoveryOptions{Info: o.info, HTTPPort: httpPort,
		UUID: "urn:uuid:" + uuidOf(machineID()), Logger: o.log})
	if err != nil {
		o.log.Warn("onvif: no WS-Discovery; NVRs can still add this camera by address", "err", err)
		return
	}
	o.disc = disc
}

func (o *onvifSide) close() {
	if o != nil && o.disc != nil {
		o.disc.Close()
	}
}

// onvifProfiles are the served paths, as ONVIF profiles.
func (d *daemon) onvifProfiles() []onvif.Profile {
	view := d.web.view.Load()
	if view == nil {
		return nil
	}
	var out []onvif.Profile
	for _, p := range *view {
		out = append(out, onvif.Profile{Path: p.stream.Path, Codec: p.stream.Frames.Media().Codec, Width: p.stream.Width,
			Height: p.stream.Height, FPS: p.stream.FPS, Quality: p.spec.Quality, Bitrate: p.stream.Frames.Stats().Bitrate})
	}
	return out
}

// rtspPort is the port RTSP listens on.
func (d *daemon) rtspPort() int {
	if d.rtspAddr != nil {
		return d.rtspAddr.Port
	}
	_, port, _ := net.SplitHostPort(d.cfg.RTSP.Addr)
	n, _ := strconv.Atoi(port)
	return n
}

// machineID identifies this host for the device's serial number and
// discovery endpoint, the same across restarts; hashed, so the machine id
// itself is never shown.
func machineID() string {
	b, err := os.ReadFile("/etc/machine-id")
	if err != nil {
		b = []byte("flowcam")
	}
	sum := sha256.Sum256(append([]byte("flowcam-onvif:"), []byte(strings.TrimSpace(string(b)))...))
	return fmt.Sprintf("%x", sum)
}

// uuidOf formats 32 hex digits as a UUID.
func uuidOf(h string) string {
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
