package netns

import (
	"errors"
	"fmt"

	"flowcam/internal/testutil/impair"
)

// StartWifiRelay starts the impairment bridge in R between ws and wc, which
// is what makes the wifi path carry traffic at all. toClient impairs the
// server -> client direction (the video), toServer the reverse (RTCP, acks).
// In the returned bridge impair.AToB is server -> client. Close stops it.
func (t *Topology) StartWifiRelay(toClient, toServer impair.Profile) (*impair.Bridge, error) {
	if t.relay != nil {
		return nil, errors.New("netns: wifi relay already running")
	}
	var br *impair.Bridge
	err := t.RunIn(t.Relay, func() (err error) {
		br, err = impair.NewBridge(RelayServerSide, RelayClientSide, toClient, toServer)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("wifi relay in %s: %w", t.Relay, err)
	}
	t.relay = br
	return br, nil
}

// stopRelay closes the relay; its sockets would otherwise keep R alive.
func (t *Topology) stopRelay() error {
	if t.relay == nil {
		return nil
	}
	err := t.relay.Close()
	t.relay = nil
	return err
}
