package netif

import (
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// TestLoopback runs against the real machine: "lo" always exists.
func TestLoopback(t *testing.T) {
	tests := []struct {
		name string
		get  func() ([]Interface, error)
	}{
		{"List", List},
		{"Lookup", func() ([]Interface, error) { return Lookup("lo") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ifs, err := tt.get()
			if err != nil {
				t.Fatal(err)
			}
			var lo *Interface
			for i := range ifs {
				if ifs[i].Name == "lo" {
					lo = &ifs[i]
				}
			}
			if lo == nil {
				t.Fatalf("no lo in %+v", ifs)
			}
			if !lo.Up || !lo.Loopback || lo.Wireless || lo.Index <= 0 || lo.MTU <= 0 {
				t.Errorf("lo = %+v, want up loopback, not wireless, with index and MTU", *lo)
			}
			want := netip.MustParseAddr("127.0.0.1")
			if got, ok := lo.IPv4(); !ok || got != want {
				t.Errorf("lo.IPv4() = %v, %v; want %v", got, ok, want)
			}
			if !slices.Contains(lo.Addrs, netip.MustParsePrefix("127.0.0.1/8")) {
				t.Errorf("lo.Addrs = %v, want 127.0.0.1/8 among them", lo.Addrs)
			}
		})
	}
}

func TestLookupMissing(t *testing.T) {
	tests := []struct {
		names   []string
		missing []string
	}{
		{[]string{"wlan9"}, []string{`network interface "wlan9" not found`}},
		{[]string{"lo", "wlan9", "eth99"}, []string{`network interfaces "wlan9", "eth99" not found`}},
		{[]string{""}, []string{`network interface "" not found`}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.names, ","), func(t *testing.T) {
			ifs, err := Lookup(tt.names...)
			if err == nil {
				t.Fatalf("Lookup(%q) = %+v, want error", tt.names, ifs)
			}
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("error %v does not wrap ErrNotFound", err)
			}
			msg := err.Error()
			for _, want := range append(tt.missing, "available: ", "lo") {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
		})
	}
}

// laptop is a machine with one wired, three wireless and the loopback
// interface. Its sysfs tree under testdata/laptop mirrors the kernel's layout:
// wlan0 has both the cfg80211 phy80211 link and the wireless-extensions
// directory (a mac80211 driver on a kernel with CONFIG_WEXT), wlp1s0 only
// phy80211 (no wireless extensions), wlan1 only wireless (a vendor WEXT-only
// driver). The flags and addresses stand in for the kernel's answers.
func laptop(t *testing.T) source {
	t.Helper()
	mac := func(s string) net.HardwareAddr {
		hw, err := net.ParseMAC(s)
		if err != nil {
			t.Fatal(err)
		}
		return hw
	}
	up := net.FlagUp | net.FlagBroadcast | net.FlagMulticast
	nis := []net.Interface{
		{Index: 1, MTU: 65536, Name: "lo", Flags: net.FlagUp | net.FlagLoopback | net.FlagRunning},
		{Index: 2, MTU: 1500, Name: "eth0", HardwareAddr: mac("dc:a6:32:01:02:03"), Flags: up | net.FlagRunning},
		{Index: 3, MTU: 1500, Name: "wlan0", HardwareAddr: mac("dc:a6:32:01:02:04"), Flags: up | net.FlagRunning},
		{Index: 4, MTU: 1500, Name: "wlan1", HardwareAddr: mac("00:0f:00:aa:bb:cc"), Flags: up},
		{Index: 5, MTU: 1500, Name: "wlp1s0", HardwareAddr: mac("8c:f8:c5:11:22:33"), Flags: net.FlagBroadcast | net.FlagMulticast},
	}
	addrs := map[string][]net.Addr{
		"lo": {
			&net.IPNet{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(8, 32)},
			&net.IPNet{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
		},
		"eth0": {&net.IPNet{IP: net.IPv4(192, 168, 1, 20), Mask: net.CIDRMask(24, 32)}},
		"wlan0": {
			&net.IPNet{IP: net.ParseIP("fe80::dea6:32ff:fe01:204"), Mask: net.CIDRMask(64, 128)},
			&net.IPNet{IP: net.IPv4(10, 0, 0, 7), Mask: net.CIDRMask(16, 32)},
		},
	}
	return source{
		root:       os.DirFS("testdata/laptop"),
		interfaces: func() ([]net.Interface, error) { return nis, nil },
		addrs:      func(ni net.Interface) ([]net.Addr, error) { return addrs[ni.Name], nil },
	}
}

func TestListFixture(t *testing.T) {
	ifs, err := laptop(t).list()
	if err != nil {
		t.Fatal(err)
	}
	want := laptopInterfaces()
	if !reflect.DeepEqual(ifs, want) {
		t.Errorf("list() =\n%+v\nwant\n%+v", ifs, want)
	}
}

func laptopInterfaces() []Interface {
	p := netip.MustParsePrefix
	return []Interface{
		{Name: "lo", Index: 1, Up: true, Running: true, Loopback: true, MTU: 65536,
			Addrs: []netip.Prefix{p("127.0.0.1/8"), p("::1/128")}},
		{Name: "eth0", Index: 2, Up: true, Running: true, MTU: 1500, HardwareAddr: "dc:a6:32:01:02:03",
			Addrs: []netip.Prefix{p("192.168.1.20/24")}},
		{Name: "wlan0", Index: 3, Up: true, Running: true, Wireless: true, MTU: 1500, HardwareAddr: "dc:a6:32:01:02:04",
			Addrs: []netip.Prefix{p("fe80::dea6:32ff:fe01:204/64"), p("10.0.0.7/16")}},
		{Name: "wlan1", Index: 4, Up: true, Wireless: true, MTU: 1500, HardwareAddr: "00:0f:00:aa:bb:cc"},
		{Name: "wlp1s0", Index: 5, Wireless: true, MTU: 1500, HardwareAddr: "8c:f8:c5:11:22:33"},
	}
}

func TestIsWireless(t *testing.T) {
	fixture := os.DirFS("testdata/laptop")
	tests := []struct {
		desc string
		root fs.FS
		name string
		want bool
	}{
		{"phy80211 link and wireless dir", fixture, "wlan0", true},
		{"phy80211 link only", fixture, "wlp1s0", true},
		{"wireless dir only", fixture, "wlan1", true},
		{"wired", fixture, "eth0", false},
		{"loopback", fixture, "lo", false},
		{"not in sysfs", fixture, "absent0", false},
		{"path in name", fixture, "../net/wlan0", false},
		{"empty name", fixture, "", false},
		{"no sysfs mounted", fstest.MapFS{}, "wlan0", false},
		{"nil root", nil, "wlan0", false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := isWireless(tt.root, tt.name); got != tt.want {
				t.Errorf("isWireless(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestLookupFixture(t *testing.T) {
	all := laptopInterfaces()
	tests := []struct {
		names   []string
		want    []Interface
		wantErr string
	}{
		{names: nil, want: []Interface{}},
		{names: []string{"wlan0", "eth0"}, want: []Interface{all[2], all[1]}},
		{names: []string{"eth0"}, want: []Interface{all[1]}},
		{names: []string{"wlan9"},
			wantErr: `network interface "wlan9" not found; available: eth0, lo, wlan0, wlan1, wlp1s0`},
		{names: []string{"eth0", "wlan9", "Eth0"},
			wantErr: `network interfaces "wlan9", "Eth0" not found; available: eth0, lo, wlan0, wlan1, wlp1s0`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.names, ","), func(t *testing.T) {
			got, err := laptop(t).lookup(tt.names...)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrNotFound) {
					t.Fatalf("lookup(%q) error = %v, want %q wrapping ErrNotFound", tt.names, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("lookup(%q) =\n%+v\nwant\n%+v", tt.names, got, tt.want)
			}
		})
	}
}

func TestLookupNoInterfaces(t *testing.T) {
	s := source{
		interfaces: func() ([]net.Interface, error) { return nil, nil },
		addrs:      func(net.Interface) ([]net.Addr, error) { return nil, nil },
	}
	_, err := s.lookup("eth0")
	if want := `network interface "eth0" not found; available: none`; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestListErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		desc string
		s    source
		want string
	}{
		{"interfaces", source{
			interfaces: func() ([]net.Interface, error) { return nil, boom },
		}, "listing network interfaces: boom"},
		{"addrs", source{
			interfaces: func() ([]net.Interface, error) { return []net.Interface{{Index: 2, Name: "eth0"}}, nil },
			addrs:      func(net.Interface) ([]net.Addr, error) { return nil, boom },
		}, `listing addresses of network interface "eth0": boom`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := tt.s.list()
			if err == nil || err.Error() != tt.want || !errors.Is(err, boom) {
				t.Errorf("list() error = %v, want %q wrapping the cause", err, tt.want)
			}
		})
	}
}

func TestPrefixes(t *testing.T) {
	p := netip.MustParsePrefix
	tests := []struct {
		desc string
		in   net.Addr
		want []netip.Prefix
	}{
		{"IPv4 in 16 bytes", &net.IPNet{IP: net.IPv4(192, 168, 1, 20), Mask: net.CIDRMask(24, 32)}, []netip.Prefix{p("192.168.1.20/24")}},
		{"IPv4 in 4 bytes", &net.IPNet{IP: net.IP{10, 1, 2, 3}, Mask: net.CIDRMask(8, 32)}, []netip.Prefix{p("10.1.2.3/8")}},
		{"IPv4 with 16-byte mask", &net.IPNet{IP: net.IPv4(10, 1, 2, 3), Mask: net.CIDRMask(96+20, 128)}, []netip.Prefix{p("10.1.2.3/20")}},
		{"IPv6", &net.IPNet{IP: net.ParseIP("2001:db8::5"), Mask: net.CIDRMask(64, 128)}, []netip.Prefix{p("2001:db8::5/64")}},
		{"IPAddr", &net.IPAddr{IP: net.ParseIP("2001:db8::5")}, []netip.Prefix{p("2001:db8::5/128")}},
		{"non-contiguous mask", &net.IPNet{IP: net.IPv4(10, 1, 2, 3), Mask: net.IPMask{255, 0, 255, 0}}, nil},
		{"garbage IP", &net.IPNet{IP: net.IP{1, 2, 3}, Mask: net.CIDRMask(8, 32)}, nil},
		{"other type", &net.UDPAddr{IP: net.IPv4(10, 1, 2, 3)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := prefixes([]net.Addr{tt.in}); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("prefixes(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestIPv4(t *testing.T) {
	p := netip.MustParsePrefix
	tests := []struct {
		desc   string
		addrs  []netip.Prefix
		want   netip.Addr
		wantOK bool
	}{
		{"none", nil, netip.Addr{}, false},
		{"IPv6 only", []netip.Prefix{p("fe80::1/64")}, netip.Addr{}, false},
		{"first IPv4 after IPv6", []netip.Prefix{p("fe80::1/64"), p("10.0.0.7/16"), p("10.0.0.8/16")},
			netip.MustParseAddr("10.0.0.7"), true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, ok := Interface{Addrs: tt.addrs}.IPv4()
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("IPv4() = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
