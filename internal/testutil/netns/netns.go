// Package netns owns the throw-away network topology of the multi-flow
// integration tests: three network namespaces (server S, client C, relay R),
// the veth pairs joining them (a direct "eth" path S<->C and a "wifi" path
// S<->R<->C that is bridged in R by package impair), and the kernel-side
// impairments on them (tbf rate limits, nftables random loss, link down/up).
//
// Everything is created under names carrying a random suffix, so parallel
// runs do not clash, and Close removes all of it again. The functions wrap
// the ip, tc and nft commands; their errors name the command and quote its
// output.
package netns

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"flowcam/internal/testutil/impair"
)

// Addresses of the two paths. The wifi path is one subnet whose two ends are
// joined at layer 2 through namespace R, so nothing routes between the paths.
const (
	ServerEthIP  = "10.77.1.1"
	ClientEthIP  = "10.77.1.2"
	ServerWifiIP = "10.77.2.1"
	ClientWifiIP = "10.77.2.2"
)

// Interface names. They live inside the namespaces only (veths are created
// directly in their namespace), so they cannot clash between parallel runs.
const (
	EthDev          = "eth"  // in S and in C
	WifiDev         = "wifi" // in S and in C
	RelayServerSide = "ws"   // in R, peer of S:wifi
	RelayClientSide = "wc"   // in R, peer of C:wifi
)

// Topology is one set of namespaces and veths built by NewTopology.
type Topology struct {
	Server, Client, Relay string // namespace names, usable with ip -n / ip netns exec

	relay *impair.Bridge // started by StartWifiRelay, stopped by Close
}

// Available says why the namespace tests cannot run here, or nil if they can.
// Callers skip on error outside CI.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("netns: needs root (network namespaces, veths, tc, nft)")
	}
	for _, tool := range []string{"ip", "tc", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("netns: %s not found (apt-get install iproute2 nftables): %w", tool, err)
		}
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		return fmt.Errorf("netns: ip netns unsupported: %w: %s", err, bytes.TrimSpace(out))
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		return fmt.Errorf("netns: kernel without network namespaces: %w", err)
	}
	return nil
}

// NewTopology builds the namespaces prefix-XXXXXX-{s,c,r} and both paths and
// brings every link up. On failure it removes whatever it had built.
func NewTopology(prefix string) (*Topology, error) {
	if strings.ContainsAny(prefix, "/ \t\n") {
		return nil, fmt.Errorf("netns: bad prefix %q", prefix)
	}
	suffix, err := randomSuffix()
	if err != nil {
		return nil, err
	}
	base := prefix + "-" + suffix
	t := &Topology{Server: base + "-s", Client: base + "-c", Relay: base + "-r"}
	if err := t.build(); err != nil {
		if cerr := t.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("cleanup after failed build: %w", cerr))
		}
		return nil, err
	}
	return t, nil
}

func randomSuffix() (string, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("netns: random suffix: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// build does the work of NewTopology; each step depends on the previous one.
func (t *Topology) build() error {
	for _, ns := range t.namespaces() {
		if err := run("ip", "netns", "add", ns); err != nil {
			return err
		}
		// New veths inherit "default", so IPv6 (DAD, router solicitations,
		// MLD) never starts on them: the tests want to count every frame.
		if err := t.sysctl(ns, "net/ipv6/conf/default/disable_ipv6", "1"); err != nil {
			return err
		}
		if err := run("ip", "-n", ns, "link", "set", "dev", "lo", "up"); err != nil {
			return err
		}
	}
	if err := t.vethPair(t.Server, EthDev, t.Client, EthDev); err != nil {
		return err
	}
	if err := t.vethPair(t.Server, WifiDev, t.Relay, RelayServerSide); err != nil {
		return err
	}
	if err := t.vethPair(t.Relay, RelayClientSide, t.Client, WifiDev); err != nil {
		return err
	}
	if err := t.addresses(); err != nil {
		return err
	}
	return t.linksUp()
}

func (t *Topology) namespaces() []string { return []string{t.Server, t.Client, t.Relay} }

// devices lists every veth end as (namespace, device).
func (t *Topology) devices() [][2]string {
	return [][2]string{
		{t.Server, EthDev}, {t.Client, EthDev},
		{t.Server, WifiDev}, {t.Relay, RelayServerSide},
		{t.Relay, RelayClientSide}, {t.Client, WifiDev},
	}
}

// vethPair creates the pair directly inside its namespaces, so the short
// fixed names never exist in the root namespace where they could clash.
func (t *Topology) vethPair(ns1, dev1, ns2, dev2 string) error {
	if err := run("ip", "-n", ns1, "link", "add", "name", dev1, "type", "veth",
		"peer", "name", dev2, "netns", ns2); err != nil {
		return err
	}
	for _, end := range [][2]string{{ns1, dev1}, {ns2, dev2}} {
		// Explicit as well as via "default": harmless if already set and
		// it documents the intent per device.
		if err := t.sysctl(end[0], "net/ipv6/conf/"+end[1]+"/disable_ipv6", "1"); err != nil {
			return err
		}
	}
	return nil
}

func (t *Topology) addresses() error {
	for _, a := range [][3]string{
		{t.Server, EthDev, ServerEthIP}, {t.Client, EthDev, ClientEthIP},
		{t.Server, WifiDev, ServerWifiIP}, {t.Client, WifiDev, ClientWifiIP},
	} {
		if err := run("ip", "-n", a[0], "addr", "add", a[2]+"/24", "dev", a[1]); err != nil {
			return err
		}
	}
	return nil
}

func (t *Topology) linksUp() error {
	for _, d := range t.devices() {
		t.disableOffloads(d[0], d[1])
		if err := run("ip", "-n", d[0], "link", "set", "dev", d[1], "up"); err != nil {
			return err
		}
	}
	return nil
}

// disableOffloads keeps frames at or below the MTU so that the relay sees,
// delays and drops real packets rather than 64 KiB TSO/GSO aggregates (which
// it could not write back out without the metadata, and whose loss would be
// a burst loss no real link has). gso_max_segs 1 makes the sender's kernel
// segment in software; ethtool additionally turns GRO off where installed.
// Both are best effort: the relay also copes with aggregates (vnet header).
func (t *Topology) disableOffloads(ns, dev string) {
	_ = run("ip", "-n", ns, "link", "set", "dev", dev, "gso_max_segs", "1")
	if _, err := exec.LookPath("ethtool"); err == nil {
		_ = run("ip", "netns", "exec", ns, "ethtool", "-K", dev, "gro", "off", "gso", "off", "tso", "off")
	}
}

// sysctl writes /proc/sys/KEY in namespace ns. A missing key (kernel without
// IPv6) is not an error: there is then nothing to disable.
func (t *Topology) sysctl(ns, key, value string) error {
	return RunIn(ns, func() error {
		err := os.WriteFile("/proc/sys/"+key, []byte(value), 0)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("sysctl %s=%s in %s: %w", key, value, ns, err)
		}
		return nil
	})
}

// Close stops the wifi relay and removes the namespaces together with their
// veths, qdiscs and nft tables. It is idempotent and also cleans up a partially built topology.
// The veths and tables are removed explicitly first: a namespace whose name
// is gone lives on while any process (an ip netns exec child) or socket still
// holds it, and it should not keep our impairments alive in the meantime.
func (t *Topology) Close() error {
	var errs []error
	if err := t.stopRelay(); err != nil {
		errs = append(errs, err)
	}
	for _, ns := range t.namespaces() {
		if !nsExists(ns) {
			continue
		}
		_ = run("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", nftTable)
		for _, d := range t.devices() {
			if d[0] == ns && linkExists(ns, d[1]) {
				_ = run("ip", "-n", ns, "link", "del", "dev", d[1])
			}
		}
		if err := run("ip", "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func nsExists(ns string) bool {
	_, err := os.Stat(nsPath(ns))
	return err == nil
}

func linkExists(ns, dev string) bool {
	return exec.Command("ip", "-n", ns, "link", "show", "dev", dev).Run() == nil
}

func nsPath(ns string) string { return "/run/netns/" + ns }

// Cmd returns a command running name in namespace ns (ip netns exec). It is
// how the test starts flowcamd and flowcam as child processes.
func (t *Topology) Cmd(ns string, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// run executes a command and folds its output into the error.
func run(name string, args ...string) error {
	_, err := output(name, args...)
	return err
}

func output(name string, args ...string) ([]byte, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// FlushNeighbors forgets the ARP entries of S and C. After probing a path
// that could not work (the wifi path before its relay runs) the entry is
// INCOMPLETE or FAILED and the kernel retries only after its 1 s retransmit
// time; flushing makes the next packet resolve at once.
func (t *Topology) FlushNeighbors() error {
	for _, ns := range []string{t.Server, t.Client} {
		if err := run("ip", "-n", ns, "neigh", "flush", "all"); err != nil {
			return err
		}
	}
	return nil
}
