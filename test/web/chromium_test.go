// Package web_test opens flowcamd's status page and MJPEG stream in a real
// browser (Debian's headless Chromium, driven over the DevTools protocol
// by chromedp), checks that the picture moves, and saves a screenshot.
package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
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

	t.Run("stream.mjpg", func(t *testing.T) { watchMJPEG(t, ctx, base) })
}

// watchMJPEG opens /stream.mjpg and waits for the picture to move. A
// multipart response never finishes loading, so it does not wait for the
// load event as chromedp.Navigate does.
func watchMJPEG(t *testing.T, ctx context.Context, base string) {
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
}

// TestBandedJPEGInChromium has Chromium decode a snapshot encoded in bands
// (jpeg.threads 2: restart markers between bands) and compares each band's
// mean colour with Go's decode of the same bytes, so a band the browser
// lost at a restart marker would show; then the MJPEG stream must move.
func TestBandedJPEGInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		need.Skip(t, "chromium is not installed (apt-get install chromium)")
	}
	d := daemon.StartConfig(t, "jpeg:\n  threads: 2\n", "--source", "pattern")
	base := "http://" + d.HTTPAddr
	var snap []byte
	eventually.Wait(30*time.Second, func() bool { // the first frame may not be there yet
		resp, err := http.Get(base + "/snapshot.jpg")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		snap, err = io.ReadAll(resp.Body)
		return err == nil && resp.StatusCode == http.StatusOK
	})
	if !bytes.Contains(snap, []byte{0xFF, 0xDD, 0, 4}) {
		t.Fatalf("snapshot without restart markers: %.100q", snap)
	}
	img, err := jpeg.Decode(bytes.NewReader(snap))
	if err != nil {
		t.Fatal(err)
	}
	want := bandMeans(img)

	ctx := browser.New(t, chromium)
	var got []float64
	js := fmt.Sprintf(bandMeansJS, base64.StdEncoding.EncodeToString(snap), len(want))
	if err := chromedp.Run(ctx, chromedp.Navigate(base+"/"), chromedp.Evaluate(js, &got, func(p *cdpruntime.EvaluateParams) *cdpruntime.EvaluateParams {
		return p.WithAwaitPromise(true)
	})); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("browser measured %d bands, want %d", len(got), len(want))
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 4 {
			t.Errorf("band %d: Chromium's mean %.1f, Go's %.1f", i, got[i], want[i])
		}
	}
	t.Logf("band means, Chromium against Go: %.1f against %.1f", got, want)
	watchMJPEG(t, ctx, base)
}

// bandMeansJS decodes a JPEG in the page and returns the mean of R+G+B
// over each of %d horizontal strips.
const bandMeansJS = `(async () => {
  const img = new Image();
  img.src = "data:image/jpeg;base64,%s";
  await img.decode();
  const n = %d, c = document.createElement("canvas");
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext("2d");
  g.drawImage(img, 0, 0);
  const px = g.getImageData(0, 0, c.width, c.height).data, out = [];
  for (let b = 0; b < n; b++) {
    const y0 = Math.floor(b * c.height / n), y1 = Math.floor((b + 1) * c.height / n);
    let s = 0;
    for (let i = y0 * c.width * 4; i < y1 * c.width * 4; i += 4) s += px[i] + px[i+1] + px[i+2];
    out.push(s / ((y1 - y0) * c.width));
  }
  return out;
})()`

// bandMeans is bandMeansJS in Go over 8 strips.
func bandMeans(img image.Image) []float64 {
	const n = 8
	r := img.Bounds()
	out := make([]float64, n)
	for b := range n {
		y0, y1 := r.Min.Y+b*r.Dy()/n, r.Min.Y+(b+1)*r.Dy()/n
		var s float64
		for y := y0; y < y1; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
				s += float64(c.R) + float64(c.G) + float64(c.B)
			}
		}
		out[b] = s / float64((y1-y0)*r.Dx())
	}
	return out
}
