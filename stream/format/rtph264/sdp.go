package rtph264

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Fmtp is the parameter list of the a=fmtp line for a stream with these
// parameter sets: packetization mode 1, the profile and level from the SPS
// (its bytes 1 to 3), and both sets, so that a player can set its decoder
// up before the first in-band ones arrive.
func Fmtp(sps, pps []byte) string {
	var b strings.Builder
	b.WriteString("packetization-mode=1")
	if len(sps) >= 4 {
		b.WriteString("; profile-level-id=")
		b.WriteString(strings.ToUpper(hex.EncodeToString(sps[1:4])))
	}
	if len(sps) > 0 && len(pps) > 0 {
		b.WriteString("; sprop-parameter-sets=")
		b.WriteString(base64.StdEncoding.EncodeToString(sps))
		b.WriteByte(',')
		b.WriteString(base64.StdEncoding.EncodeToString(pps))
	}
	return b.String()
}

// ParseFmtp reads the parameter sets of an a=fmtp parameter list and
// refuses a packetization mode other than 0 or 1 (interleaved mode 2 has
// its own packet types, which the depacketizer does not take).
func ParseFmtp(params string) (sps, pps []byte, err error) {
	for _, kv := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch strings.ToLower(k) {
		case "packetization-mode":
			if v != "0" && v != "1" {
				return nil, nil, fmt.Errorf("rtph264: packetization-mode %s is not supported", v)
			}
		case "sprop-parameter-sets":
			for _, set := range strings.Split(v, ",") {
				b, err := base64.StdEncoding.DecodeString(set)
				if err != nil || len(b) == 0 {
					return nil, nil, fmt.Errorf("rtph264: sprop-parameter-sets %q: not base64 NAL units", v)
				}
				switch b[0] & 0x1F {
				case 7:
					sps = b
				case 8:
					pps = b
				}
			}
		}
	}
	return sps, pps, nil
}
