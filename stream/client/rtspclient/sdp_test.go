package rtspclient

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseDescription(t *testing.T) {
	cases := []struct {
		name, sdp, base string
		want            Description
		err             error
	}{
		{name: "flowcam", base: "rtsp://h:8554/cam/", sdp: "v=0\r\no=- 0 0 IN IP4 1.2.3.4\r\ns=x\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\nm=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\na=control:trackID=0\r\na=framerate:25\r\na=x-dimensions:1280,720\r\n",
			want: Description{Codec: "mjpeg", BaseURL: "rtsp://h:8554/cam/", Aggregate: "*", TrackURL: "rtsp://h:8554/cam/trackID=0", FPS: 25, Width: 1280, Height: 720}},
		{name: "gstreamer style, base without slash", base: "rtsp://h/test", sdp: "v=0\nm=audio 0 RTP/AVP 0\na=control:stream=1\nm=video 0 RTP/AVP 26\na=control:stream=0\na=framerate:29.97\n",
			want: Description{Codec: "mjpeg", BaseURL: "rtsp://h/test", TrackURL: "rtsp://h/test/stream=0", FPS: 29.97}},
		{name: "absolute control", base: "rtsp://h/x/", sdp: "m=video 0 RTP/AVP 26\na=control:rtsp://other/track\n",
			want: Description{Codec: "mjpeg", BaseURL: "rtsp://h/x/", TrackURL: "rtsp://other/track"}},
		{name: "no control", base: "rtsp://h/x", sdp: "m=video 0 RTP/AVP 26\n",
			want: Description{Codec: "mjpeg", BaseURL: "rtsp://h/x", TrackURL: "rtsp://h/x"}},
		{name: "h264", base: "rtsp://h/x", sdp: "m=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z0LAH9oBQBbo,aM4G4g==\n",
			want: Description{BaseURL: "rtsp://h/x", TrackURL: "rtsp://h/x", Codec: "h264",
				SPS: []byte{0x67, 0x42, 0xC0, 0x1F, 0xDA, 0x01, 0x40, 0x16, 0xE8}, PPS: []byte{0x68, 0xCE, 0x06, 0xE2}}},
		{name: "h264 in mode 2", base: "rtsp://h/x", sdp: "m=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=fmtp:96 packetization-mode=2\n", err: ErrNoVideo},
		{name: "another codec", base: "rtsp://h/x", sdp: "m=video 0 RTP/AVP 97\na=rtpmap:97 H265/90000\n", err: ErrNoVideo},
		{name: "empty", base: "rtsp://h/x", sdp: "", err: ErrNoVideo},
	}
	for _, c := range cases {
		got, err := parseDescription([]byte(c.sdp), c.base)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%s: err %v, want %v", c.name, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(*got, c.want) {
			t.Errorf("%s: got %+v err %v\nwant %+v", c.name, got, err, c.want)
		}
	}
}

func FuzzParseDescription(f *testing.F) {
	f.Add([]byte("m=video 0 RTP/AVP 26\na=control:trackID=0\na=x-dimensions:1,2\n"), "rtsp://h/x")
	f.Fuzz(func(t *testing.T, sdp []byte, base string) {
		d, err := parseDescription(sdp, base)
		if err == nil && d.TrackURL == "" {
			t.Fatal("a track without a URL")
		}
	})
}
