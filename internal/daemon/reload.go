package daemon

import (
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
)

// reload applies a new config on SIGHUP. The config is loaded whole and
// validated first, so a bad edit changes nothing; then only the paths whose
// settings changed are restarted: viewers of the other paths never notice.
// The listener, the RTSP server settings and multi-flow stay as they are
// until a restart (they would cut every session), which is logged.
func (d *daemon) reload(load func() (*Config, error)) {
	d.notify.Reloading()
	defer d.notify.Ready()
	next, err := load()
	if err != nil {
		d.log.Error("reload failed: keeping the running config", "err", err)
		d.notify.Status("reload failed: " + err.Error())
		return
	}
	d.restartOnly(next)
	d.reloadAccess(next)
	d.level.Set(slog.Level(next.Log.Level))
	old := make(map[string]*running, len(d.streams))
	for path, r := range d.streams {
		old[path] = r
	}
	want := map[string]streamSpec{}
	for _, sp := range next.specs() {
		want[sp.Path] = sp
	}
	var stale []*running
	var kept, changed, added, removed []string
	for path, r := range old {
		sp, ok := want[path]
		switch {
		case !ok:
			removed = append(removed, path)
		case r.keeps(sp):
			kept = append(kept, path)
			r.spec = sp // its siblings, for the status page's previews
			continue
		default:
			changed = append(changed, path)
		}
		stale = append(stale, r)
		delete(d.streams, path)
	}
	// A camera has one owner: the old pipeline lets go of the device before
	// the new one opens it.
	stopAll(stale)
	d.cfg = next
	for path, sp := range want {
		if _, ok := d.streams[path]; ok {
			continue
		}
		if _, ok := old[path]; !ok {
			added = append(added, path)
		}
		r, err := d.startStream(sp)
		if err != nil {
			d.log.Error("stream left out", "path", path, "err", err)
			continue
		}
		d.streams[path] = r
	}
	if err := d.srv.SetStreams(d.served()...); err != nil {
		d.log.Error("reload: serving the new paths", "err", err) // validated paths make this unreachable
	}
	d.log.Info("config reloaded", "kept", list(kept), "restarted", list(changed), "added", list(added), "removed", list(removed))
	d.status()
}

// restartOnly keeps the settings a reload cannot change without dropping
// every viewer, and says which of them were edited.
func (d *daemon) restartOnly(next *Config) {
	for _, s := range []struct {
		key       string
		old, next any
	}{
		{"rtsp", d.cfg.RTSP, next.RTSP},
		{"rtsps", d.cfg.RTSPS, next.RTSPS},
		{"http", d.cfg.HTTP, next.HTTP},
		{"multiflow", d.cfg.Multiflow, next.Multiflow},
		{"log.format", d.cfg.Log.Format, next.Log.Format},
		{"onvif", d.cfg.ONVIF, next.ONVIF},
	} {
		if !reflect.DeepEqual(s.old, s.next) {
			d.log.Warn("changed setting takes effect at the next restart", "key", s.key)
		}
	}
	next.RTSP, next.RTSPS, next.Multiflow, next.Log.Format = d.cfg.RTSP, d.cfg.RTSPS, d.cfg.Multiflow, d.cfg.Log.Format
	next.HTTP, next.ONVIF = d.cfg.HTTP, d.cfg.ONVIF
}

func stopAll(rs []*running) {
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() { defer wg.Done(); r.stop() }()
	}
	wg.Wait()
}

func list(paths []string) string {
	if len(paths) == 0 {
		return "-"
	}
	sort.Strings(paths)
	return strings.Join(paths, ",")
}

// pingEvery is how often the loop feeds the watchdog and refreshes the
// status line: three times per watchdog period, so one late tick is not
// fatal.
func (d *daemon) pingEvery() time.Duration {
	if wd := d.notify.WatchdogInterval(); wd > 0 {
		return wd / 3
	}
	return 5 * time.Second
}

// ping feeds the watchdog only while every pipeline is alive: a capture
// stuck in a driver call stops the pings and systemd restarts the daemon.
func (d *daemon) ping() {
	if !d.notify.Enabled() {
		return
	}
	d.status()
	wd := d.notify.WatchdogInterval()
	if wd == 0 {
		return
	}
	var stuck []string
	for path, r := range d.streams {
		if !r.pipe.Alive(wd / 2) {
			stuck = append(stuck, path)
		}
	}
	if len(stuck) > 0 {
		d.log.Warn("pipeline stalled: withholding the watchdog keep-alive", "paths", list(stuck))
		return
	}
	d.notify.Watchdog()
}

// status sets the line `systemctl status flowcamd` shows.
func (d *daemon) status() {
	if !d.notify.Enabled() {
		return
	}
	paths := make([]string, 0, len(d.streams))
	for p := range d.streams {
		paths = append(paths, p)
	}
	line := fmt.Sprintf("serving %s; sessions: %d", list(paths), len(d.srv.Sessions()))
	if line != d.lastStatus {
		d.lastStatus = line
		d.notify.Status(line)
	}
}
