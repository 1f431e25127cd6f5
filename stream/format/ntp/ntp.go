// Package ntp converts between wall-clock time and the 64-bit NTP
// timestamps of RTCP sender reports (RFC 3550 4), and measures round trips
// from their echoes.
package ntp

import "time"

// epochOffset is the seconds from 1900 (NTP's epoch) to 1970 (Unix's).
const epochOffset = 2208988800

// FromTime converts t to a 64-bit NTP timestamp (32.32 fixed point).
func FromTime(t time.Time) uint64 {
	ns := uint64(t.UnixNano())
	return (ns/1e9+epochOffset)<<32 | (ns%1e9)<<32/1e9
}

// ToTime converts a 64-bit NTP timestamp back to wall-clock time.
func ToTime(ntp uint64) time.Time {
	return time.Unix(int64(ntp>>32)-epochOffset, int64((ntp&0xFFFFFFFF)*1e9>>32))
}

// Middle is the middle 32 bits of t's NTP timestamp: the units (1/65536 s)
// in which receiver reports echo the last sender report.
func Middle(t time.Time) uint32 { return uint32(FromTime(t) >> 16) }

// RoundTrip computes RTT = arrival - LSR - DLSR (RFC 3550 6.4.1) for a
// report arriving at now. It refuses no echo (LSR 0) and values that can
// only come from clock trouble or a stale echo.
func RoundTrip(now time.Time, lsr, dlsr uint32) (time.Duration, bool) {
	if lsr == 0 {
		return 0, false
	}
	d := int64(Middle(now) - lsr - dlsr)
	if d < 0 || d > 10<<16 {
		return 0, false
	}
	return time.Duration(d * int64(time.Second) >> 16), true
}
