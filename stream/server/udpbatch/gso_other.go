//go:build !linux

package udpbatch

const (
	gsoBuilt    = false
	maxSegments = 1
	maxGSOBytes = 0
	cmsgSpace   = 0
)

func putSegment([]byte, int) {}

func refused(error) bool { return false }
