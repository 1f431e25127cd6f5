package netns_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"flowcam/internal/testutil/browser"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/output"
)

// chartPoints reads, for every chart on the page, how many points each of
// its series has.
const chartPoints = `JSON.stringify(Object.fromEntries([...document.querySelectorAll("canvas.chart")].map(
  c => [c.id, c.dataset.points ? JSON.parse(c.dataset.points) : {}])))`

// TestLivePageInChromium: headless Chromium, in the client's namespace,
// opens flowcam pull's live page during a two-flow stripe pull over the
// ethernet and wifi paths: the picture moves, and every per-path chart has
// data for both paths, every other chart data of its own. A screenshot is
// saved ($FLOWCAM_LIVEPAGE_SCREENSHOT, or the test's folder).
func TestLivePageInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		need.Skip(t, "chromium is not installed (apt-get install chromium)")
	}
	l := newLabWith(t, "multiflow:\n  interfaces: [eth, wifi]\nsize: 640x480\nfps: 25\n")
	args := append([]string{"pull", l.url, "--duration", "60s", "--http-addr", "127.0.0.1:8081", "--log-level", "info"}, stripe.args()...)
	cmd := l.topo.Cmd(l.topo.Client, l.client, args...)
	var stderr output.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if !eventually.Wait(time.Minute, func() bool { return strings.Contains(stderr.String(), "live page") }) {
		t.Fatalf("no live page:\n%s", stderr.String())
	}
	ctx := browser.NewWithin(t, chromium, func(fn func() error) error { return l.topo.RunIn(l.topo.Client, fn) })
	if err := chromedp.Run(ctx, chromedp.Navigate("http://127.0.0.1:8081/"), chromedp.WaitVisible("#picture", chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	browser.ExpectMoving(t, ctx, "#picture", "640x480")
	var charts map[string]map[string]int
	full := func() bool {
		var js string
		if err := chromedp.Run(ctx, chromedp.Evaluate(chartPoints, &js)); err != nil {
			t.Fatal(err)
		}
		charts = nil
		json.Unmarshal([]byte(js), &charts)
		for _, id := range []string{"share", "loss", "rtt", "queue"} {
			if charts[id]["eth"] < 5 || charts[id]["wifi"] < 5 {
				return false
			}
		}
		for _, id := range []string{"frames", "latency", "fps"} {
			if len(charts[id]) == 0 {
				return false
			}
			for _, n := range charts[id] {
				if n < 5 {
					return false
				}
			}
		}
		return true
	}
	if !eventually.Wait(30*time.Second, full) {
		t.Fatalf("charts without data for both paths: %v", charts)
	}
	t.Logf("points per chart and series: %v", charts)
	browser.Screenshot(t, ctx, "FLOWCAM_LIVEPAGE_SCREENSHOT", "livepage.png")
}
