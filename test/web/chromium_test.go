// Package web_test opens flowcamd's status page and MJPEG stream in a real
// browser (Debian's headless Chromium, driven over the DevTools protocol
// by chromedp), checks that the picture moves, and saves a screenshot.
package web_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/player"
)

// pictureSample draws an image to a canvas and returns a fingerprint of
// its pixels (sampled on a grid), so two calls tell whether the picture
// changed in between. Same-origin images do not taint the canvas.
const pictureSample = `(() => {
  const img = document.querySelector(%q);
  if (!img || !img.complete || img.naturalWidth === 0) return "";
  const c = document.createElement("canvas");
  c.width = 320; c.height = 180;
  const g = c.getContext("2d");
  g.drawImage(img, 0, 0, c.width, c.height);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  let h = 0;
  for (let i = 0; i < px.length; i += 4 * 7) h = (h * 31 + px[i] + px[i+1] * 3 + px[i+2] * 7) >>> 0;
  return img.naturalWidth + "x" + img.naturalHeight + ":" + h;
})()`

func TestStatusPageInChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
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

	ctx := newBrowser(t, browser)
	base := "http://" + d.HTTPAddr

	t.Run("status page", func(t *testing.T) {
		if err := chromedp.Run(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible("#picture", chromedp.ByID)); err != nil {
			t.Fatal(err)
		}
		expectMoving(t, ctx, "#picture")
		// The inline script fills the tables from /status.json.
		var paths, sessions string
		waitText(t, ctx, "#paths", "live", &paths)
		waitText(t, ctx, "#sessions", "tcp", &sessions)
		if !strings.Contains(paths, "1280x720") || !strings.Contains(paths, "/cam") {
			t.Errorf("paths table: %q", paths)
		}
		saveScreenshot(t, ctx)
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
		expectMoving(t, ctx, "img")
	})
}

// newBrowser starts headless Chromium with a fresh profile and no
// background traffic; everything ends with the test.
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	// Not t.TempDir: Chromium's helper processes may still write to the
	// profile for a moment after the browser exits, and a failed removal
	// would fail the test. Registered first, it is removed last.
	profile, err := os.MkdirTemp("", "flowcam-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeEventually(profile, 5*time.Second) })
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 1400),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Run(bctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", path, err)
	}
	return bctx
}

// removeEventually removes dir, retrying while something still writes
// into it.
func removeEventually(dir string, within time.Duration) {
	eventually.Wait(within, func() bool { return os.RemoveAll(dir) == nil })
}

// expectMoving samples the image until it loads, then until it differs:
// the test pattern moves and counts frames, so a live picture changes.
// The browser context's deadline bounds both waits.
func expectMoving(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	sample := func() string {
		var s string
		if err := chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf(pictureSample, sel), &s)); err != nil {
			t.Fatal(err)
		}
		return s
	}
	var first, second string
	eventually.Wait(time.Minute, func() bool { first = sample(); return first != "" })
	if !strings.HasPrefix(first, "1280x720:") {
		t.Fatalf("picture %s did not load as 1280x720: %q", sel, first)
	}
	if !eventually.Wait(time.Minute, func() bool { second = sample(); return second != first }) {
		t.Fatalf("picture %s did not change (%s)", sel, first)
	}
	t.Logf("picture %s: %s then %s", sel, first, second)
}

// waitText waits until the element's text contains want.
func waitText(t *testing.T, ctx context.Context, sel, want string, text *string) {
	t.Helper()
	if !eventually.Wait(time.Minute, func() bool {
		if err := chromedp.Run(ctx, chromedp.Text(sel, text, chromedp.ByQuery)); err != nil {
			t.Fatal(err)
		}
		return strings.Contains(*text, want)
	}) {
		t.Fatalf("%s never showed %q: %q", sel, want, *text)
	}
}

// saveScreenshot writes the whole page as PNG to $FLOWCAM_SCREENSHOT, or
// into the test's temporary directory.
func saveScreenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	path := os.Getenv("FLOWCAM_SCREENSHOT")
	if path == "" {
		path = filepath.Join(t.TempDir(), "status.png")
	}
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the status page: %s (%d bytes)", path, len(png))
}
