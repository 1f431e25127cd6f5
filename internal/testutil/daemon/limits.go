package daemon

import "os"

// LoopbackCrowd raises flowcamd's per-address limits through its
// environment, for tests and benchmarks that play many clients from one
// loopback address, which the defaults rightly refuse. A config file's own
// values are overridden; tests of the limits themselves call
// t.Setenv(key, "") for the keys they set in a file.
func LoopbackCrowd() {
	for k, v := range map[string]string{
		"FLOWCAM_RTSP_MAX_SESSIONS_PER_IP":    "500",
		"FLOWCAM_RTSP_MAX_CONNECTIONS_PER_IP": "500",
		"FLOWCAM_RTSP_MAX_SESSIONS":           "500",
		"FLOWCAM_RTSP_MAX_CONNECTIONS":        "1000",
		"FLOWCAM_RTSP_REQUESTS_PER_SECOND":    "1000",
	} {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
}
