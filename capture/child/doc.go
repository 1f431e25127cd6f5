// Package child is a frame source fed by a supervised helper process: a
// camera stack flowcamd cannot drive itself (libcamera's rpicam-vid, a
// Jetson's nvarguscamerasrc) or any command that writes video to a pipe.
//
// It starts the command in a process group of its own (the kernel kills
// the command itself if the daemon dies; what it started is stopped with
// its group whenever the daemon stops it), reads MJPEG or raw
// I420, NV12 or YUYV frames from its stdout (or fd 3, for helpers that
// print text on stdout), logs its stderr, and supervises it: a helper that
// exits, falls silent, writes garbage or an oversized frame is killed with
// its whole group and restarted with backoff, while a "NO SIGNAL" card goes
// out about once a second, exactly as for an unplugged V4L2 camera. RTSP
// sessions never notice anything but the picture.
//
// The command comes from the daemon's configuration only, never from a
// client, and is never run through a shell.
package child
