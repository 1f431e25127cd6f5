//go:build race

package udpbatch

// raceOn: the race detector makes sync.Pool (x/net keeps its message
// headers in one) drop items at random, so allocation counts mean nothing.
const raceOn = true
