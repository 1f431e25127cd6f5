package record

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// expand fills a name pattern's %Y %m %d %H %M %S (and %%) with t.
func expand(pattern string, t time.Time) string {
	return strings.NewReplacer("%Y", t.Format("2006"), "%m", t.Format("01"), "%d", t.Format("02"),
		"%H", t.Format("15"), "%M", t.Format("04"), "%S", t.Format("05"), "%%", "%").Replace(pattern)
}

// glob is the pattern as a filepath.Glob pattern matching every segment.
func glob(pattern string) string {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '%' && i+1 < len(pattern) && strings.IndexByte("YmdHMS", pattern[i+1]) >= 0:
			b.WriteByte('*')
			i++
		case c == '%' && i+1 < len(pattern) && pattern[i+1] == '%':
			b.WriteByte('%')
			i++
		case strings.IndexByte(`*?[\`, c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// prune deletes the oldest segments (never the one being written) while
// one is older than Keep or all together take more than KeepBytes.
func (r *Recorder) prune() {
	if r.o.Keep == 0 && r.o.KeepBytes == 0 {
		return
	}
	names, _ := filepath.Glob(glob(r.pattern))
	type seg struct {
		name string
		mod  time.Time
		size int64
	}
	var segs []seg
	var total int64
	for _, n := range names {
		st, err := os.Stat(n)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		total += st.Size()
		if n != r.file.Name() {
			segs = append(segs, seg{n, st.ModTime(), st.Size()})
		}
	}
	sort.Slice(segs, func(i, j int) bool {
		if !segs[i].mod.Equal(segs[j].mod) {
			return segs[i].mod.Before(segs[j].mod)
		}
		return segs[i].name < segs[j].name // the default pattern sorts by time
	})
	now := r.o.Now()
	for _, s := range segs {
		old := r.o.Keep > 0 && now.Sub(s.mod) > r.o.Keep
		big := r.o.KeepBytes > 0 && total > r.o.KeepBytes
		if !old && !big {
			break
		}
		if err := os.Remove(s.name); err != nil {
			r.o.Logger.Warn("recording: old segment not deleted", "file", s.name, "err", err)
			continue
		}
		total -= s.size
		r.o.Logger.Info("recording: old segment deleted", "file", s.name, "age", now.Sub(s.mod).Round(time.Second), "bytes", s.size)
	}
}
