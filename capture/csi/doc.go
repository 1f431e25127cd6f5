// Package csi knows the camera stacks that own CSI cameras: libcamera on a
// Raspberry Pi (its rpicam-vid app, the older libcamera-vid, or its
// GStreamer element elsewhere) and Argus on a Jetson (nvarguscamerasrc).
// Their images exist only after the vendor's ISP, so flowcamd runs their
// tools as supervised helpers (capture/child); this package builds those
// command lines from the configuration, says what layout their frames
// have, and reads their camera lists. It runs nothing itself.
package csi
