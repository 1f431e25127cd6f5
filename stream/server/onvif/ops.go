package onvif

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Namespaces of the services and their schema.
const (
	nsDevice = "http://www.onvif.org/ver10/device/wsdl"
	nsMedia  = "http://www.onvif.org/ver10/media/wsdl"
	nsSchema = "http://www.onvif.org/ver10/schema"

	namespaces = `xmlns:tds="` + nsDevice + `" xmlns:trt="` + nsMedia + `" xmlns:tt="` + nsSchema + `"`
)

// call is one authorized request being answered.
type call struct {
	s    *Service
	r    *http.Request
	req  *request
	user string
}

// answer writes the operation's response body, or returns the fault.
func (c *call) answer(w io.Writer) (fault, bool) {
	op := c.req.operation
	var handlers map[string]func(io.Writer) (fault, bool)
	switch c.req.space {
	case nsDevice:
		handlers = map[string]func(io.Writer) (fault, bool){
			"GetSystemDateAndTime": c.systemDateAndTime, "GetDeviceInformation": c.deviceInformation,
			"GetCapabilities": c.capabilities, "GetServices": c.services, "GetScopes": c.scopes,
			"GetNetworkInterfaces": c.networkInterfaces, "GetHostname": c.hostname,
		}
	case nsMedia:
		handlers = map[string]func(io.Writer) (fault, bool){
			"GetProfiles": c.getProfiles, "GetProfile": c.getProfile, "GetVideoSources": c.videoSources,
			"GetVideoEncoderConfigurations": c.encoderConfigurations, "GetVideoEncoderConfiguration": c.encoderConfiguration,
			"GetStreamUri": c.streamURI, "GetSnapshotUri": c.snapshotURI,
		}
	}
	h := handlers[op]
	if h == nil {
		return faultNoAction, false
	}
	return h(w)
}

func ok() (fault, bool) { return fault{}, true }

func (c *call) xaddr(path string) string {
	_, hostport := hostOf(c.r)
	return "http://" + hostport + path
}

func (c *call) systemDateAndTime(w io.Writer) (fault, bool) {
	now := c.s.o.Now().UTC()
	fmt.Fprintf(w, `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>`+
		`<tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>`+
		`<tt:UTCDateTime><tt:Time><tt:Hour>%d</tt:Hour><tt:Minute>%d</tt:Minute><tt:Second>%d</tt:Second></tt:Time>`+
		`<tt:Date><tt:Year>%d</tt:Year><tt:Month>%d</tt:Month><tt:Day>%d</tt:Day></tt:Date></tt:UTCDateTime>`+
		`</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`,
		now.Hour(), now.Minute(), now.Second(), now.Year(), int(now.Month()), now.Day())
	return ok()
}

func (c *call) deviceInformation(w io.Writer) (fault, bool) {
	i := c.s.o.Info
	fmt.Fprintf(w, `<tds:GetDeviceInformationResponse><tds:Manufacturer>%s</tds:Manufacturer><tds:Model>%s</tds:Model>`+
		`<tds:FirmwareVersion>%s</tds:FirmwareVersion><tds:SerialNumber>%s</tds:SerialNumber><tds:HardwareId>%s</tds:HardwareId>`+
		`</tds:GetDeviceInformationResponse>`, escape(i.Manufacturer), escape(i.Model), escape(i.Firmware), escape(i.Serial), escape(i.Hardware))
	return ok()
}

func (c *call) capabilities(w io.Writer) (fault, bool) {
	fmt.Fprintf(w, `<tds:GetCapabilitiesResponse><tds:Capabilities>`+
		`<tt:Device><tt:XAddr>%s</tt:XAddr><tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>true</tt:DiscoveryBye>`+
		`<tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>false</tt:SystemBackup><tt:SystemLogging>false</tt:SystemLogging>`+
		`<tt:FirmwareUpgrade>false</tt:FirmwareUpgrade><tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>0</tt:Minor></tt:SupportedVersions>`+
		`</tt:System></tt:Device>`+
		`<tt:Media><tt:XAddr>%s</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>%t</tt:RTPMulticast>`+
		`<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>`+
		`</tds:Capabilities></tds:GetCapabilitiesResponse>`, escape(c.xaddr(DevicePath)), escape(c.xaddr(MediaPath)), c.s.o.Multicast)
	return ok()
}

func (c *call) services(w io.Writer) (fault, bool) {
	io.WriteString(w, `<tds:GetServicesResponse>`)
	for _, s := range []struct{ ns, path string }{{nsDevice, DevicePath}, {nsMedia, MediaPath}} {
		fmt.Fprintf(w, `<tds:Service><tds:Namespace>%s</tds:Namespace><tds:XAddr>%s</tds:XAddr>`+
			`<tds:Version><tt:Major>2</tt:Major><tt:Minor>0</tt:Minor></tds:Version></tds:Service>`, s.ns, escape(c.xaddr(s.path)))
	}
	io.WriteString(w, `</tds:GetServicesResponse>`)
	return ok()
}

// Scopes are what WS-Discovery probes match and NVRs show.
func (i DeviceInfo) Scopes() []string {
	name := url.PathEscape(i.Name)
	if name == "" {
		name = "flowcam"
	}
	return []string{"onvif://www.onvif.org/Profile/Streaming", "onvif://www.onvif.org/type/video_encoder",
		"onvif://www.onvif.org/name/" + name, "onvif://www.onvif.org/hardware/" + url.PathEscape(i.Model)}
}

func (c *call) scopes(w io.Writer) (fault, bool) {
	io.WriteString(w, `<tds:GetScopesResponse>`)
	for _, s := range c.s.o.Info.Scopes() {
		fmt.Fprintf(w, `<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>%s</tt:ScopeItem></tds:Scopes>`, escape(s))
	}
	io.WriteString(w, `</tds:GetScopesResponse>`)
	return ok()
}

func (c *call) hostname(w io.Writer) (fault, bool) {
	fmt.Fprintf(w, `<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP><tt:Name>%s</tt:Name>`+
		`</tds:HostnameInformation></tds:GetHostnameResponse>`, escape(c.s.o.Info.Name))
	return ok()
}

// networkInterfaces lists the host's interfaces with an IPv4 address.
func (c *call) networkInterfaces(w io.Writer) (fault, bool) {
	ifs, _ := net.Interfaces()
	io.WriteString(w, `<tds:GetNetworkInterfacesResponse>`)
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			n, isNet := a.(*net.IPNet)
			if !isNet || n.IP.To4() == nil {
				continue
			}
			bits, _ := n.Mask.Size()
			fmt.Fprintf(w, `<tds:NetworkInterfaces token="%s"><tt:Enabled>%t</tt:Enabled><tt:Info><tt:Name>%s</tt:Name>`+
				`<tt:HwAddress>%s</tt:HwAddress><tt:MTU>%d</tt:MTU></tt:Info><tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config>`+
				`<tt:Manual><tt:Address>%s</tt:Address><tt:PrefixLength>%d</tt:PrefixLength></tt:Manual><tt:DHCP>false</tt:DHCP>`+
				`</tt:Config></tt:IPv4></tds:NetworkInterfaces>`, escape(ifi.Name), ifi.Flags&net.FlagUp != 0, escape(ifi.Name),
				ifi.HardwareAddr, ifi.MTU, n.IP.To4(), bits)
			break
		}
	}
	io.WriteString(w, `</tds:GetNetworkInterfacesResponse>`)
	return ok()
}

// find is the profile a token names, among those the user may see.
func (c *call) find(tok string) (Profile, bool) {
	tok = strings.TrimSpace(tok)
	for _, p := range c.s.profiles(c.user) {
		t := token(p.Path)
		if tok == "prof_"+t || tok == "vec_"+t || tok == "vsc_"+t || tok == "vs_"+t {
			return p, true
		}
	}
	return Profile{}, false
}

func (c *call) getProfiles(w io.Writer) (fault, bool) {
	io.WriteString(w, `<trt:GetProfilesResponse>`)
	for _, p := range c.s.profiles(c.user) {
		writeProfile(w, "trt:Profiles", p)
	}
	io.WriteString(w, `</trt:GetProfilesResponse>`)
	return ok()
}

func (c *call) getProfile(w io.Writer) (fault, bool) {
	p, found := c.find(c.req.args.ProfileToken)
	if !found {
		return faultNoProfile, false
	}
	io.WriteString(w, `<trt:GetProfileResponse>`)
	writeProfile(w, "trt:Profile", p)
	io.WriteString(w, `</trt:GetProfileResponse>`)
	return ok()
}

// writeProfile is a path's profile: its video source and encoder.
func writeProfile(w io.Writer, elem string, p Profile) {
	t := token(p.Path)
	fmt.Fprintf(w, `<%s token="prof_%s" fixed="true"><tt:Name>%s</tt:Name>`+
		`<tt:VideoSourceConfiguration token="vsc_%s"><tt:Name>%s</tt:Name><tt:UseCount>1</tt:UseCount>`+
		`<tt:SourceToken>vs_%s</tt:SourceToken><tt:Bounds x="0" y="0" width="%d" height="%d"/></tt:VideoSourceConfiguration>`,
		elem, t, escape(p.Path), t, escape(p.Path), t, p.Width, p.Height)
	writeEncoder(w, "tt:VideoEncoderConfiguration", p)
	fmt.Fprintf(w, `</%s>`, elem)
}

// writeEncoder is a path's encoder configuration.
func writeEncoder(w io.Writer, elem string, p Profile) {
	t := token(p.Path)
	enc, quality := "JPEG", float64(p.Quality)
	if p.Codec == "h264" {
		enc, quality = "H264", 5
	}
	fps := max(int(p.FPS+0.5), 1)
	fmt.Fprintf(w, `<%s token="vec_%s"><tt:Name>%s</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>%s</tt:Encoding>`+
		`<tt:Resolution><tt:Width>%d</tt:Width><tt:Height>%d</tt:Height></tt:Resolution><tt:Quality>%g</tt:Quality>`+
		`<tt:RateControl><tt:FrameRateLimit>%d</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval>`+
		`<tt:BitrateLimit>%d</tt:BitrateLimit></tt:RateControl>`,
		elem, t, escape(p.Path), enc, p.Width, p.Height, quality, fps, int(p.Bitrate/1000))
	if p.Codec == "h264" {
		fmt.Fprintf(w, `<tt:H264><tt:GovLength>%d</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>`, 2*fps)
	}
	fmt.Fprintf(w, `<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address>`+
		`<tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>`+
		`<tt:SessionTimeout>PT60S</tt:SessionTimeout></%s>`, elem)
}

func (c *call) videoSources(w io.Writer) (fault, bool) {
	io.WriteString(w, `<trt:GetVideoSourcesResponse>`)
	for _, p := range c.s.profiles(c.user) {
		fmt.Fprintf(w, `<trt:VideoSources token="vs_%s"><tt:Framerate>%g</tt:Framerate><tt:Resolution><tt:Width>%d</tt:Width>`+
			`<tt:Height>%d</tt:Height></tt:Resolution></trt:VideoSources>`, token(p.Path), p.FPS, p.Width, p.Height)
	}
	io.WriteString(w, `</trt:GetVideoSourcesResponse>`)
	return ok()
}

func (c *call) encoderConfigurations(w io.Writer) (fault, bool) {
	io.WriteString(w, `<trt:GetVideoEncoderConfigurationsResponse>`)
	for _, p := range c.s.profiles(c.user) {
		writeEncoder(w, "trt:Configurations", p)
	}
	io.WriteString(w, `</trt:GetVideoEncoderConfigurationsResponse>`)
	return ok()
}

func (c *call) encoderConfiguration(w io.Writer) (fault, bool) {
	p, found := c.find(c.req.args.ConfigurationToken)
	if !found {
		return faultNoConfig, false
	}
	io.WriteString(w, `<trt:GetVideoEncoderConfigurationResponse>`)
	writeEncoder(w, "trt:Configuration", p)
	io.WriteString(w, `</trt:GetVideoEncoderConfigurationResponse>`)
	return ok()
}

func (c *call) streamURI(w io.Writer) (fault, bool) {
	p, found := c.find(c.req.args.ProfileToken)
	if !found {
		return faultNoProfile, false
	}
	switch strings.ToUpper(strings.TrimSpace(c.req.args.Protocol)) {
	case "", "RTSP", "UDP", "HTTP": // HTTP: the same URL, which the RTSP port tunnels too
	default:
		return faultNoStream, false
	}
	writeURI(w, "trt:GetStreamUriResponse", c.rtspURL(p.Path))
	return ok()
}

func (c *call) snapshotURI(w io.Writer) (fault, bool) {
	p, found := c.find(c.req.args.ProfileToken)
	if !found {
		return faultNoProfile, false
	}
	writeURI(w, "trt:GetSnapshotUriResponse", c.xaddr("/snapshot.jpg?path="+url.QueryEscape(p.Path)))
	return ok()
}

func writeURI(w io.Writer, elem, uri string) {
	fmt.Fprintf(w, `<%s><trt:MediaUri><tt:Uri>%s</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>`+
		`<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></%s>`, elem, escape(uri), elem)
}
