package publish

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	psdp "github.com/pion/sdp/v3"

	"flowcam/stream/server/broadcast"
)

// Transport is how RTP reaches the hub.
type Transport string

const (
	TCP Transport = "tcp" // interleaved on the RTSP connection: passes NAT and firewalls
	UDP Transport = "udp"
)

// Target is where a path is published.
type Target struct {
	// URL is rtsp:// or rtsps://, with the user and password the hub
	// wants (Digest or Basic, whichever it asks for).
	URL       string
	Transport Transport // "" is TCP; rtsps is always TCP
	// Fingerprint, for rtsps, is the SHA-256 of the hub's certificate in
	// hex (colons allowed): a self-signed hub is trusted by it instead of
	// by a certificate authority.
	Fingerprint string
}

// ErrTarget marks a target that cannot be published to.
var ErrTarget = errors.New("publish target")

// Check says what is wrong with a target, if anything.
func (t Target) Check() error {
	u, err := url.Parse(t.URL)
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a password
		}
		return fmt.Errorf("%w: not a URL: %v", ErrTarget, err)
	case u.Scheme != "rtsp" && u.Scheme != "rtsps":
		return fmt.Errorf("%w: %s: must start rtsp:// or rtsps://", ErrTarget, t.Redacted())
	case u.Host == "":
		return fmt.Errorf("%w: %s: names no host", ErrTarget, t.Redacted())
	case t.Transport != "" && t.Transport != TCP && t.Transport != UDP:
		return fmt.Errorf("%w: transport %q: must be tcp or udp", ErrTarget, t.Transport)
	case u.Scheme == "rtsps" && t.Transport == UDP:
		return fmt.Errorf("%w: %s: rtsps carries RTP over TCP only", ErrTarget, t.Redacted())
	case t.Fingerprint != "" && u.Scheme != "rtsps":
		return fmt.Errorf("%w: %s: a fingerprint is for rtsps:// targets", ErrTarget, t.Redacted())
	}
	if t.Fingerprint != "" {
		if _, err := t.fingerprint(); err != nil {
			return err
		}
	}
	return nil
}

// Redacted is the URL without its password, for logs and pages.
func (t Target) Redacted() string {
	u, err := url.Parse(t.URL)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	return u.String()
}

func (t Target) fingerprint() ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(t.Fingerprint, ":", ""))
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("%w: fingerprint %q: must be the certificate's SHA-256 in hex (64 digits)", ErrTarget, t.Fingerprint)
	}
	return b, nil
}

// client is a gortsplib client set up for the target.
func (t Target) client(queue int) (*gortsplib.Client, error) {
	tr := gortsplib.TransportTCP
	if t.Transport == UDP {
		tr = gortsplib.TransportUDP
	}
	c := &gortsplib.Client{Transport: &tr, WriteQueueSize: queue, UserAgent: "flowcam"}
	if t.Fingerprint != "" {
		want, err := t.fingerprint()
		if err != nil {
			return nil, err
		}
		c.TLSConfig = &tls.Config{InsecureSkipVerify: true, VerifyConnection: pinned(want)}
	}
	return c, nil
}

// pinned accepts exactly the certificate whose SHA-256 is want: the
// chain is not checked, the key is.
func pinned(want []byte) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the hub sent no certificate")
		}
		got := sha256.Sum256(cs.PeerCertificates[0].Raw)
		if subtle.ConstantTimeCompare(got[:], want) != 1 {
			return fmt.Errorf("the hub's certificate has fingerprint %s, not the one configured", hex.EncodeToString(got[:]))
		}
		return nil
	}
}

// mediaOf is the announced media for a stream.
func mediaOf(m broadcast.Media) (*description.Media, error) {
	pt := strconv.Itoa(int(m.PayloadType))
	md := &psdp.MediaDescription{
		MediaName:  psdp.MediaName{Media: "video", Protos: []string{"RTP", "AVP"}, Formats: []string{pt}},
		Attributes: []psdp.Attribute{{Key: "rtpmap", Value: pt + " " + m.RTPMap}},
	}
	if m.Fmtp != "" {
		md.Attributes = append(md.Attributes, psdp.Attribute{Key: "fmtp", Value: pt + " " + m.Fmtp})
	}
	f, err := format.Unmarshal(md, pt)
	if err != nil {
		return nil, fmt.Errorf("announcing %s: %w", m.RTPMap, err)
	}
	return &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{f}}, nil
}
