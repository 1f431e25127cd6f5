//go:build !linux

package rtspserver

import "net"

// limitSendQueue is Linux-only; elsewhere the kernel default applies.
func limitSendQueue(net.Conn) {}
