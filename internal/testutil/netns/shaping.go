package netns

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// nftTable is the nftables table (family inet) holding the loss rules.
const nftTable = "imp"

// Token bucket parameters of RateLimit.
const (
	// minBurst lets at least ~10 full-size frames through back to back:
	// a video frame leaves the server as a burst of packets and a bucket
	// smaller than that would drop frames an average-rate link carries.
	minBurst = 16 << 10
	// burstDivisor sizes the bucket for fast rates: 32 ms worth of traffic
	// (bits/s / 250 = bytes in 32 ms), about one frame interval at 30 fps.
	burstDivisor = 250
)

// RateLimit caps the egress rate of dev in ns to bitsPerSec with a tbf qdisc
// (replacing any root qdisc). Burst is max(rate/250, 16 KiB) bytes and the
// queue holds up to 100 ms; see the constants for why.
func (t *Topology) RateLimit(ns, dev string, bitsPerSec int64) error {
	return t.Shape(ns, dev, bitsPerSec, DefaultQueue)
}

// DefaultQueue is how long RateLimit's queue holds a packet: a small router
// buffer, so excess rate turns into loss quickly instead of seconds of
// bufferbloat.
const DefaultQueue = 100 * time.Millisecond

// Shape is RateLimit with a queue of the given depth, in time at the rate:
// a home router's buffer is hundreds of milliseconds deep.
func (t *Topology) Shape(ns, dev string, bitsPerSec int64, queue time.Duration) error {
	return t.tbf("replace", ns, dev, bitsPerSec, queue)
}

// Reshape changes the rate of the tbf qdisc Shape or RateLimit put on dev,
// keeping the packets already queued (a link that slows down does not
// flush its buffer).
func (t *Topology) Reshape(ns, dev string, bitsPerSec int64, queue time.Duration) error {
	return t.tbf("change", ns, dev, bitsPerSec, queue)
}

func (t *Topology) tbf(verb, ns, dev string, bitsPerSec int64, queue time.Duration) error {
	if bitsPerSec <= 0 || queue <= 0 {
		return fmt.Errorf("tc qdisc on %s/%s: rate %d bit/s and queue %v must be positive", ns, dev, bitsPerSec, queue)
	}
	burst := max(bitsPerSec/burstDivisor, minBurst)
	_, err := output("tc", "-n", ns, "qdisc", verb, "dev", dev, "root", "tbf",
		"rate", strconv.FormatInt(bitsPerSec, 10)+"bit",
		"burst", strconv.FormatInt(burst, 10),
		"latency", strconv.FormatInt(queue.Milliseconds(), 10)+"ms")
	if err != nil {
		return fmt.Errorf("tc qdisc on %s/%s: %w", ns, dev, err)
	}
	return nil
}

// ClearQdisc restores the default root qdisc of dev in ns. Clearing a device
// without a configured qdisc is not an error.
func (t *Topology) ClearQdisc(ns, dev string) error {
	out, err := output("tc", "-n", ns, "qdisc", "del", "dev", dev, "root")
	if err != nil && !isNoQdisc(out) {
		return fmt.Errorf("tc qdisc on %s/%s: %w", ns, dev, err)
	}
	return nil
}

// isNoQdisc recognises tc's complaint about deleting the default qdisc.
func isNoQdisc(out []byte) bool {
	s := string(out)
	return strings.Contains(s, "Cannot delete qdisc with handle of zero") ||
		strings.Contains(s, "Cannot find specified qdisc") || strings.Contains(s, "No such file or directory")
}

// RandomLoss drops percent % of the packets leaving dev in ns, whether sent
// locally (output hook) or routed (forward hook), using nftables' numgen
// random. It replaces an earlier setting for the same device; 0 removes it.
// Each device gets its own pair of chains so devices can be set independently
// without remembering state here, and the whole change is one atomic nft
// transaction.
func (t *Topology) RandomLoss(ns, dev string, percent int) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("nft loss on %s/%s: percent %d out of 0..100", ns, dev, percent)
	}
	script := lossScript(dev, percent)
	cmd := t.Cmd(ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft loss on %s/%s: %w: %s\nscript:\n%s", ns, dev, err, strings.TrimSpace(string(out)), script)
	}
	return nil
}

// lossScript declares table and chains (a no-op when they exist), empties
// the device's chains and, for percent > 0, adds the drop rule to each.
func lossScript(dev string, percent int) string {
	s := fmt.Sprintf("table inet %s {}\n", nftTable)
	for _, hook := range []string{"output", "forward"} {
		chain := lossChain(hook, dev)
		s += fmt.Sprintf("add chain inet %s %s { type filter hook %s priority 0; policy accept; }\n",
			nftTable, chain, hook)
		s += fmt.Sprintf("flush chain inet %s %s\n", nftTable, chain)
		switch {
		case percent == 100: // nft rejects "mod 100 < 100" as out of range
			s += fmt.Sprintf("add rule inet %s %s oifname %s drop\n", nftTable, chain, strconv.Quote(dev))
		case percent > 0:
			s += fmt.Sprintf("add rule inet %s %s oifname %s numgen random mod 100 < %d drop\n",
				nftTable, chain, strconv.Quote(dev), percent)
		}
	}
	return s
}

// lossChain names the chain of one hook and device. nft 1.0 takes no quoted
// chain names, so a device name with other than [A-Za-z0-9_] is hex-encoded.
func lossChain(hook, dev string) string {
	for _, r := range dev {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "loss_" + hook + "_x" + hex.EncodeToString([]byte(dev))
		}
	}
	return "loss_" + hook + "_" + dev
}

// ClearLoss removes every RandomLoss rule in ns. Clearing when none is set is
// not an error.
func (t *Topology) ClearLoss(ns string) error {
	if err := run("ip", "netns", "exec", ns, "nft", "list", "table", "inet", nftTable); err != nil {
		return nil // no table, nothing to clear
	}
	if err := run("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", nftTable); err != nil {
		return fmt.Errorf("nft clear loss in %s: %w", ns, err)
	}
	return nil
}

// LinkDown takes dev in ns down, like an unplugged cable or a lost wifi
// association: the peer sees no carrier and ns loses the connected route.
func (t *Topology) LinkDown(ns, dev string) error { return t.setLink(ns, dev, "down") }

// LinkUp brings dev in ns back up; addresses and routes return with it.
func (t *Topology) LinkUp(ns, dev string) error { return t.setLink(ns, dev, "up") }

func (t *Topology) setLink(ns, dev, state string) error {
	if err := run("ip", "-n", ns, "link", "set", "dev", dev, state); err != nil {
		return fmt.Errorf("link %s %s/%s: %w", state, ns, dev, err)
	}
	return nil
}
