package rtspserver

import (
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/feeder"
	"flowcam/stream/format/rtpjpeg"
	"flowcam/stream/format/rtsp"
	"flowcam/stream/server/broadcast"
)

// TestSetStreamsKeepsUnchangedPaths is a reload: /cam stays as it was and
// keeps its viewer; /cam2 is replaced, so its viewer's session ends and the
// new stream is served to the next DESCRIBE; /gone answers 404.
func TestSetStreamsKeepsUnchangedPaths(t *testing.T) {
	f := start(t, Config{})
	cam := Stream{Path: "/cam", Width: 320, Height: 240, FPS: testFPS, Frames: f.b}
	second := newFed(t)
	gone := newFed(t)
	if err := f.srv.SetStreams(cam, Stream{Path: "/cam2", Width: 320, Height: 240, FPS: testFPS, Frames: second},
		Stream{Path: "/gone", Width: 320, Height: 240, FPS: testFPS, Frames: gone}); err != nil {
		t.Fatal(err)
	}
	_, keep, _, _, _ := playUDP(t, f)
	f2 := *f
	f2.url = "rtsp://" + f.addr + "/cam2"
	c2, replaced, id2, _, _ := playUDP(t, &f2)
	frames(t, keep, 5)
	frames(t, replaced, 5)

	if err := f.srv.SetStreams(cam, Stream{Path: "/cam2", Width: 640, Height: 480, FPS: testFPS, Frames: newFed(t)}); err != nil {
		t.Fatal(err)
	}
	frames(t, keep, 10) // the unchanged path never noticed
	// SetStreams closed the replaced session before returning, so what it
	// sent is already queued: drain that, then give a late packet (there
	// should be none) a while to show up. Neither wait synchronises.
	replaced.Packets(200 * time.Millisecond)
	if got := replaced.Packets(500 * time.Millisecond); len(got) != 0 {
		t.Errorf("%d packets still sent on a replaced path", len(got))
	}
	if res, err := c2.Do(rtsp.GetParameter, f2.url, hdr("Session", id2)); err != nil || res.Status != rtsp.StatusSessionNotFound {
		t.Errorf("keep-alive on a replaced path's session: %v %v, want 454", res, err)
	}
	c := f.dial(t)
	if res, err := c.Do(rtsp.Describe, f2.url); err != nil || res.Status != 200 || !strings.Contains(string(res.Body), "a=x-dimensions:640,480") {
		t.Errorf("DESCRIBE of the new /cam2: %v %v", res, err)
	}
	if res, err := c.Do(rtsp.Describe, "rtsp://"+f.addr+"/gone"); err != nil || res.Status != rtsp.StatusNotFound {
		t.Errorf("DESCRIBE of a removed path: %v %v, want 404", res, err)
	}
}

func TestSetStreamsRefusesBadSets(t *testing.T) {
	f := start(t, Config{})
	b := newFed(t)
	for name, set := range map[string][]Stream{
		"duplicate": {{Path: "/a", Frames: b}, {Path: "a/", Frames: b}},
		"no frames": {{Path: "/a"}},
		"root":      {{Path: "/", Frames: b}},
	} {
		if err := f.srv.SetStreams(set...); err == nil {
			t.Errorf("%s: SetStreams accepted %+v", name, set)
		}
	}
	if _, status := f.srv.resolve(f.url); status != 0 {
		t.Errorf("a refused set must leave the old one in place, /cam answers %d", status)
	}
}

func newFed(t *testing.T) *broadcast.Broadcaster {
	pk, _ := rtpjpeg.NewPacketizer(rtpjpeg.DefaultMTU)
	b := broadcast.New(broadcast.JPEG(pk), logger(t))
	t.Cleanup(feeder.Start(b, testFrames(t), testFPS))
	return b
}
