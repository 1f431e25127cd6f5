package netif

import (
	"slices"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	var b strings.Builder
	Format(&b, laptopInterfaces())
	want := `NAME    STATE       TYPE      MTU    ADDRESSES
lo      up          loopback  65536  127.0.0.1/8, ::1/128
eth0    up          wired     1500   192.168.1.20/24
wlan0   up          wireless  1500   fe80::dea6:32ff:fe01:204/64, 10.0.0.7/16
wlan1   no-carrier  wireless  1500   -
wlp1s0  down        wireless  1500   -
`
	if got := b.String(); got != want {
		t.Errorf("Format =\n%s\nwant\n%s", got, want)
	}
}

func TestFormatLocal(t *testing.T) {
	ifs, err := List()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	Format(&b, ifs)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(ifs)+1 {
		t.Fatalf("Format wrote %d lines for %d interfaces:\n%s", len(lines), len(ifs), b.String())
	}
	tests := []struct {
		desc     string
		columns  []string // leading columns, the row is found by the first
		contains string
	}{
		{"header", []string{"NAME", "STATE", "TYPE", "MTU", "ADDRESSES"}, ""},
		{"loopback row", []string{"lo", "up", "loopback"}, "127.0.0.1/8"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			for _, line := range lines {
				got := strings.Fields(line)
				if len(got) == 0 || got[0] != tt.columns[0] {
					continue
				}
				if len(got) < len(tt.columns) || !slices.Equal(got[:len(tt.columns)], tt.columns) {
					t.Errorf("row %q, want it to start with columns %q", line, tt.columns)
				}
				if !strings.Contains(line, tt.contains) {
					t.Errorf("row %q lacks %q", line, tt.contains)
				}
				return
			}
			t.Errorf("no %s in:\n%s", tt.desc, b.String())
		})
	}
}
