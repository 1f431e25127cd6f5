package nvr_test

import (
	"net/http"
	"strings"
	"testing"

	"flowcam/internal/testutil/daemon"
)

const timeRequest = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>` +
	`<GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>`

// TestONVIFSwitch: the device service answers on the HTTP port by
// default, and onvif.enabled: false turns it off.
func TestONVIFSwitch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		config string
		want   int
	}{{"", http.StatusOK}, {"onvif:\n  enabled: false\n", http.StatusNotFound}} {
		d := daemon.StartConfig(t, sources[0].config+c.config)
		res, err := http.Post(d.HTTPURL("/onvif/device_service"), "application/soap+xml", strings.NewReader(timeRequest))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("config %q: %s, want %d", c.config, res.Status, c.want)
		}
	}
}
