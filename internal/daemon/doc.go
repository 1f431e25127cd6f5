// Package daemon is flowcamd as a library: its typed configuration (file,
// FLOWCAM_* environment and flags), the wiring of sources, encoders,
// broadcasters, the RTSP server and the HTTP side, reload on SIGHUP by
// diffing the old and new configuration, access control, and systemd
// notification. cmd/flowcamd only reads the command line and calls Run.
package daemon
