package rtspclient

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"flowcam/stream/format/multiflow"
	"flowcam/stream/format/rtsp"
)

// Options returns the server's Public methods and remembers them to pick
// a keep-alive.
func (c *Client) Options(ctx context.Context) (string, error) {
	res, err := c.Do(ctx, rtsp.Options, c.url.String())
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.public = res.Header.Get("Public")
	c.mu.Unlock()
	return c.public, nil
}

// Describe fetches the stream description and finds its JPEG track.
func (c *Client) Describe(ctx context.Context) (*Description, error) {
	res, err := c.Do(ctx, rtsp.Describe, c.url.String(), rtsp.Field{Name: "Accept", Value: "application/sdp"})
	if err != nil {
		return nil, err
	}
	base := res.Header.Get("Content-Base")
	if base == "" {
		base = res.Header.Get("Content-Location")
	}
	if base == "" {
		base = c.url.String()
	}
	return parseDescription(res.Body, base)
}

// SetupUDP sets the track up over UDP to the client's RTP port (RTCP on
// the next one) and returns the server's Transport.
func (c *Client) SetupUDP(ctx context.Context, d *Description, rtpPort int) (rtsp.Transport, error) {
	tr := rtsp.Transport{Protocol: "RTP/AVP", Lower: rtsp.LowerUDP, ClientPorts: [2]int{rtpPort, rtpPort + 1}}
	return c.setup(ctx, d, tr.String())
}

// SetupTCP sets the track up interleaved on this connection.
func (c *Client) SetupTCP(ctx context.Context, d *Description) (rtsp.Transport, error) {
	tr := rtsp.Transport{Protocol: "RTP/AVP", Lower: rtsp.LowerTCP, Interleaved: [2]int{0, 1}, HasInterl: true}
	return c.setup(ctx, d, tr.String())
}

func (c *Client) setup(ctx context.Context, d *Description, transport string, h ...rtsp.Field) (rtsp.Transport, error) {
	res, err := c.Do(ctx, rtsp.Setup, d.TrackURL, append([]rtsp.Field{{Name: "Transport", Value: transport}}, h...)...)
	if err != nil {
		return rtsp.Transport{}, err
	}
	trs, err := rtsp.ParseTransports(res.Header.Get("Transport"))
	if err != nil {
		return rtsp.Transport{}, fmt.Errorf("rtspclient: SETUP reply: %w", err)
	}
	return trs[0], nil
}

// ErrNoMultiflow means the server does not offer multi-flow; play a plain
// single flow instead.
var ErrNoMultiflow = errors.New("rtspclient: the server does not support multi-flow")

// SetupMultiflow asks for the track over several flows. A server without
// the option (551, or 461 for the port-less Transport) yields
// ErrNoMultiflow; a refusal of the request itself (too many flows, a mode
// not allowed) is a *StatusError with the server's reason.
func (c *Client) SetupMultiflow(ctx context.Context, d *Description, want multiflow.Request) (multiflow.Response, rtsp.Transport, error) {
	res, err := c.Do(ctx, rtsp.Setup, d.TrackURL,
		rtsp.Field{Name: "Require", Value: multiflow.OptionTag},
		rtsp.Field{Name: "Transport", Value: "RTP/AVP/UDP;unicast;mode=play"},
		rtsp.Field{Name: multiflow.HeaderName, Value: want.String()})
	var se *StatusError
	if errors.As(err, &se) && (se.Status == rtsp.StatusOptionNotSupported ||
		se.Status == rtsp.StatusUnsupportedTransport && !strings.Contains(strings.ToLower(se.Reason), "mode")) {
		return multiflow.Response{}, rtsp.Transport{}, fmt.Errorf("%w (%v)", ErrNoMultiflow, err)
	}
	if err != nil {
		return multiflow.Response{}, rtsp.Transport{}, err
	}
	v := res.Header.Get(multiflow.HeaderName)
	if v == "" {
		// A server that ignored Require set up something else: undo it.
		c.Teardown(ctx)
		c.mu.Lock()
		c.session = ""
		c.mu.Unlock()
		return multiflow.Response{}, rtsp.Transport{}, fmt.Errorf("%w (it ignored Require)", ErrNoMultiflow)
	}
	reply, err := multiflow.ParseResponse(v)
	if err != nil {
		return reply, rtsp.Transport{}, err
	}
	trs, err := rtsp.ParseTransports(res.Header.Get("Transport"))
	if err != nil {
		return reply, rtsp.Transport{}, fmt.Errorf("rtspclient: SETUP reply: %w", err)
	}
	return reply, trs[0], nil
}

// Play starts the session and returns the RTP-Info of the track, if sent.
func (c *Client) Play(ctx context.Context, d *Description) (rtsp.RTPInfo, error) {
	target := d.BaseURL
	if d.Aggregate == "" {
		target = d.TrackURL
	}
	res, err := c.Do(ctx, rtsp.Play, target, rtsp.Field{Name: "Range", Value: "npt=0.000-"})
	if err != nil {
		return rtsp.RTPInfo{}, err
	}
	infos, _ := rtsp.ParseRTPInfo(res.Header.Get("RTP-Info"))
	if len(infos) > 0 {
		return infos[0], nil
	}
	return rtsp.RTPInfo{}, nil
}
