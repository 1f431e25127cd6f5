//go:build !race

package broadcast

const raceOn = false
