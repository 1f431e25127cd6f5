package onvif

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"flowcam/stream/auth"
)

// SOAP envelope namespaces: 1.2, which ONVIF uses, and 1.1, which some
// old clients still send.
const (
	soap12 = "http://www.w3.org/2003/05/soap-envelope"
	soap11 = "http://schemas.xmlsoap.org/soap/envelope/"
)

// maxRequest bounds a request body: the largest ONVIF request a client
// sends here is well under 8 KiB.
const maxRequest = 64 << 10

// ErrMalformed marks a request that is not a SOAP envelope this service
// reads: not XML, a DOCTYPE (entities are never expanded), no body.
var ErrMalformed = errors.New("malformed SOAP request")

// request is one parsed SOAP call.
type request struct {
	soap      string // the envelope's namespace, answered in kind
	space     string // the operation's namespace (device, media)
	operation string // its local name, e.g. GetProfiles
	token     *auth.UsernameToken
	args      args
}

// args are the parameters of the operations served, wherever they sit
// in the body.
type args struct {
	ProfileToken       string `xml:"ProfileToken"`
	ConfigurationToken string `xml:"ConfigurationToken"`
	Protocol           string `xml:"StreamSetup>Transport>Protocol"`
	Category           string `xml:"Category"`
}

type envelope struct {
	XMLName xml.Name `xml:"Envelope"`
	Header  struct {
		Security struct {
			UsernameToken *struct {
				Username string `xml:"Username"`
				Password struct {
					Type  string `xml:"Type,attr"`
					Value string `xml:",chardata"`
				} `xml:"Password"`
				Nonce   string `xml:"Nonce"`
				Created string `xml:"Created"`
			} `xml:"UsernameToken"`
		} `xml:"Security"`
	} `xml:"Header"`
	Body struct {
		Inner []byte `xml:",innerxml"`
	} `xml:"Body"`
}

// parseRequest reads a SOAP request. XML from the network is hostile: the
// size is bounded by the caller, a DOCTYPE (the only way to declare
// entities) is refused outright, and encoding/xml expands no entity but
// the five predefined ones and bounds nesting depth.
func parseRequest(body []byte) (*request, error) {
	if err := noDirectives(body); err != nil {
		return nil, err
	}
	var env envelope
	if err := xml.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if env.XMLName.Space != soap12 && env.XMLName.Space != soap11 {
		return nil, fmt.Errorf("%w: the root is not a SOAP 1.2 or 1.1 Envelope", ErrMalformed)
	}
	req := &request{soap: env.XMLName.Space}
	op, err := firstElement(env.Body.Inner)
	if err != nil {
		return nil, err
	}
	req.space, req.operation = op.Space, op.Local
	if err := xml.Unmarshal(env.Body.Inner, &req.args); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if t := env.Header.Security.UsernameToken; t != nil {
		req.token = &auth.UsernameToken{User: strings.TrimSpace(t.Username), Digest: strings.TrimSpace(t.Password.Value),
			Nonce: strings.TrimSpace(t.Nonce), Created: strings.TrimSpace(t.Created)}
		if t.Password.Type != "" && !strings.HasSuffix(t.Password.Type, "#PasswordDigest") {
			req.token.Digest = "" // PasswordText would put the password on the wire: not taken
		}
	}
	return req, nil
}

// noDirectives refuses a document with a DOCTYPE or other directive.
func noDirectives(body []byte) error {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if _, ok := tok.(xml.Directive); ok {
			return fmt.Errorf("%w: DOCTYPE and other directives are not accepted", ErrMalformed)
		}
	}
}

// firstElement is the operation: the body's first element.
func firstElement(inner []byte) (xml.Name, error) {
	d := xml.NewDecoder(bytes.NewReader(inner))
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.Name{}, fmt.Errorf("%w: the Body names no operation", ErrMalformed)
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name, nil
		}
	}
}

// fault is a SOAP fault: its code (Sender or Receiver), ONVIF subcode and
// reason.
type fault struct {
	status  int // HTTP status
	code    string
	subcode string
	reason  string
}

var (
	faultNotAuthorized = fault{400, "Sender", "ter:NotAuthorized", "Sender not authorized"}
	faultMalformed     = fault{400, "Sender", "ter:WellFormed", "The request is not a well-formed SOAP envelope"}
	faultNoAction      = fault{400, "Sender", "ter:ActionNotSupported", "The action is not supported by this device"}
	faultNoProfile     = fault{400, "Sender", "ter:InvalidArgVal/ter:NoProfile", "No such profile"}
	faultNoConfig      = fault{400, "Sender", "ter:InvalidArgVal/ter:NoConfig", "No such configuration"}
	faultNoStream      = fault{400, "Sender", "ter:InvalidArgVal/ter:InvalidStreamSetup", "Only RTSP, RTSP over HTTP and UDP streams are offered"}
)

// write answers the fault in the request's SOAP version.
func (f fault) write(w io.Writer, soap string) {
	codes := strings.Split(f.subcode, "/")
	sub := ""
	for _, s := range codes {
		sub += `<s:Subcode><s:Value>` + s + `</s:Value>`
	}
	sub += strings.Repeat(`</s:Subcode>`, len(codes))
	if soap == soap11 { // 1.1 has no subcodes: the ONVIF code goes in faultcode
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="%s" xmlns:ter="http://www.onvif.org/ver10/error">`+
			`<s:Body><s:Fault><faultcode>%s</faultcode><faultstring>%s</faultstring></s:Fault></s:Body></s:Envelope>`,
			soap11, f.subcode[strings.LastIndexByte(f.subcode, '/')+1:], escape(f.reason))
		return
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="%s" xmlns:ter="http://www.onvif.org/ver10/error">`+
		`<s:Body><s:Fault><s:Code><s:Value>s:%s</s:Value>%s</s:Code><s:Reason><s:Text xml:lang="en">%s</s:Text></s:Reason>`+
		`</s:Fault></s:Body></s:Envelope>`, soap12, f.code, sub, escape(f.reason))
}

// escape makes text safe inside an element or attribute.
func escape(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
