// Package browser drives Debian's headless Chromium over the DevTools
// protocol (chromedp) for tests: a fresh profile, a picture that must move,
// text to wait for, a screenshot.
package browser

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"flowcam/internal/testutil/eventually"
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

// New starts headless Chromium with a fresh profile and no
// background traffic; everything ends with the test.
func New(t *testing.T, path string) context.Context { return NewWithin(t, path, nil) }

// NewWithin starts the browser through within, which runs what it is
// given in another network namespace (netns.Topology.RunIn): the browser
// process and its DevTools connection are opened there, so it reaches
// addresses only that namespace has.
func NewWithin(t *testing.T, path string, within func(func() error) error) context.Context {
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
	start := func() error { return chromedp.Run(bctx) } // starts the browser
	if within == nil {
		within = func(fn func() error) error { return fn() }
	}
	if err := within(start); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return bctx
}

// removeEventually removes dir, retrying while something still writes
// into it.
func removeEventually(dir string, within time.Duration) {
	eventually.Wait(within, func() bool { return os.RemoveAll(dir) == nil })
}

// ExpectMoving samples the image until it loads at size (e.g. 1280x720),
// then until it differs: the test pattern moves and counts frames, so a
// live picture changes. The browser context's deadline bounds both waits.
func ExpectMoving(t *testing.T, ctx context.Context, sel, size string) {
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
	if !strings.HasPrefix(first, size+":") {
		t.Fatalf("picture %s did not load as %s: %q", sel, size, first)
	}
	if !eventually.Wait(time.Minute, func() bool { second = sample(); return second != first }) {
		t.Fatalf("picture %s did not change (%s)", sel, first)
	}
	t.Logf("picture %s: %s then %s", sel, first, second)
}

// WaitText waits until the element's text contains want.
func WaitText(t *testing.T, ctx context.Context, sel, want string, text *string) {
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

// Screenshot writes the whole page as PNG to the file $env names, or
// into the test's temporary directory as name, and returns the path.
func Screenshot(t *testing.T, ctx context.Context, env, name string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		path = filepath.Join(t.TempDir(), name)
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
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
	return path
}
