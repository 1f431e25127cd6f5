// Package web_test opens flowcamd's status page and MJPEG stream in a real
// browser (Debian's headless Chromium, driven over the DevTools protocol
// by chromedp), checks that the picture moves, and saves a screenshot.
package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"flowcam/internal/testutil/browser"
	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/player"
)

func TestStatusPageInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		need.Skip(t, "chromium is not installed (apt-get install chromium)")
	}
	dir := t.TempDir()
	bin, err := daemon.Binary(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(bin, "--source", "pattern")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.Stop(); err != nil {
			t.Errorf("stopping flowcamd: %v", err)
		}
		if t.Failed() {
			t.Logf("flowcamd log:\n%s", d.Logs())
		}
	}()
	// An RTSP viewer, so the sessions table has a row to show.
	viewer, err := player.Play(d.URL("/cam"), gortsplib.TransportTCP, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()

	ctx := browser.New(t, chromium)
	base := "http://" + d.HTTPAddr

	t.Run("status page", func(t *testing.T) {
		if err := chromedp.Run(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible("#picture", chromedp.ByID)); err != nil {
			t.Fatal(err)
		}
		browser.ExpectMoving(t, ctx, "#picture", "1280x720")
		// The inline script fills the tables from /status.json.
		var paths, sessions string
		browser.WaitText(t, ctx, "#paths", "live", &paths)
		browser.WaitText(t, ctx, "#sessions", "tcp", &sessions)
		if !strings.Contains(paths, "1280x720") || !strings.Contains(paths, "/cam") {
			t.Errorf("paths table: %q", paths)
		}
		// The viewer's session gets its charts from /history.json: each
		// of the four draws the session's one flow (tcp).
		var counts []map[string]int
		drawn := func() bool {
			var js string
			if err := chromedp.Run(ctx, chromedp.Evaluate(`JSON.stringify([...document.querySelectorAll("#charts canvas.chart")].map(
				c => c.dataset.points ? JSON.parse(c.dataset.points) : {}))`, &js)); err != nil {
				t.Fatal(err)
			}
			counts = nil
			json.Unmarshal([]byte(js), &counts)
			if len(counts) != 4 {
				return false
			}
			for _, c := range counts {
				if c["tcp"] < 3 {
					return false
				}
			}
			return true
		}
		if !eventually.Wait(30*time.Second, drawn) {
			t.Errorf("session charts: %v", counts)
		}
		// The capture-to-wire chart draws the path's median and 99th
		// percentile, a point a second.
		var wire map[string]int
		if !eventually.Wait(30*time.Second, func() bool {
			var js string
			chromedp.Run(ctx, chromedp.Evaluate(`document.getElementById("wire").dataset.points || "{}"`, &js))
			json.Unmarshal([]byte(js), &wire)
			return wire["/cam p50"] >= 3 && wire["/cam p99"] >= 3
		}) {
			t.Errorf("capture-to-wire chart: %v", wire)
		}
		browser.Screenshot(t, ctx, "FLOWCAM_SCREENSHOT", "status.png")
	})

	t.Run("stream.mjpg", func(t *testing.T) {
		// A multipart response never finishes loading, so do not wait for
		// the load event as chromedp.Navigate does.
		open := chromedp.ActionFunc(func(ctx context.Context) error {
			_, _, errText, _, err := page.Navigate(base + "/stream.mjpg").Do(ctx)
			if err == nil && errText != "" {
				err = errors.New(errText)
			}
			return err
		})
		if err := chromedp.Run(ctx, open); err != nil {
			t.Fatal(err)
		}
		browser.ExpectMoving(t, ctx, "img", "1280x720")
	})
}
