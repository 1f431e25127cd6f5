package csi

import (
	"bufio"
	"regexp"
	"strings"
)

// Camera is one camera a camera stack reports.
type Camera struct {
	Index int    // rpicam's --camera index, or cam's 1-based number
	Model string // sensor, e.g. imx708
	ID    string // libcamera's camera id, e.g. /base/soc/i2c0mux/i2c@1/imx219@10
	Modes []string
}

// rpicamLine is a camera in rpicam-hello --list-cameras:
//
//	0 : imx708 [4608x2592 10-bit RGGB] (/base/axi/pcie@120000/rp1/i2c@88000/imx708@1a)
var rpicamLine = regexp.MustCompile(`^(\d+) : (\S+)(?: \[[^\]]*\])? \((.*)\)$`)

// rpicamMode is a line of its Modes list:
//
//	Modes: 'SRGGB10_CSI2P' : 1536x864 [120.13 fps - (768, 432)/3072x1728 crop]
//	                         2304x1296 [56.03 fps - (0, 0)/4608x2592 crop]
var rpicamMode = regexp.MustCompile(`(\d+x\d+) \[([\d.]+) fps`)

// ParseRpicamList reads the output of rpicam-hello --list-cameras (or
// libcamera-hello, or rpicam-vid with the same flag).
func ParseRpicamList(out string) []Camera {
	var cams []Camera
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \r")
		if m := rpicamLine.FindStringSubmatch(line); m != nil {
			cams = append(cams, Camera{Index: atoi(m[1]), Model: m[2], ID: m[3]})
			continue
		}
		if len(cams) == 0 || !strings.HasPrefix(line, " ") {
			continue
		}
		if m := rpicamMode.FindStringSubmatch(line); m != nil {
			c := &cams[len(cams)-1]
			c.Modes = append(c.Modes, m[1]+"@"+m[2])
		}
	}
	return cams
}

// camLine is a camera in libcamera's cam -l:
//
//	1: External camera 'imx219' (/base/soc/i2c0mux/i2c@1/imx219@10)
//	2: 'vimc' (platform/vimc.0 Sensor B)
var camLine = regexp.MustCompile(`^(\d+): (?:.*?)?'([^']*)' \((.*)\)$`)

// camInternal is cam's form for a camera with a location and no model.
var camInternal = regexp.MustCompile(`^(\d+): (Internal \S+ camera) \((.*)\)$`)

// ParseCamList reads the output of libcamera's cam -l.
func ParseCamList(out string) []Camera {
	var cams []Camera
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := camLine.FindStringSubmatch(line); m != nil {
			cams = append(cams, Camera{Index: atoi(m[1]), Model: m[2], ID: m[3]})
		} else if m := camInternal.FindStringSubmatch(line); m != nil {
			cams = append(cams, Camera{Index: atoi(m[1]), Model: m[2], ID: m[3]})
		}
	}
	return cams
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if n > 1<<20 {
			return n
		}
		n = n*10 + int(c-'0')
	}
	return n
}
