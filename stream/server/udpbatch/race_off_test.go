//go:build !race

package udpbatch

const raceOn = false
