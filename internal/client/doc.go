// Package client is flowcam, the companion client, as a library: its
// typed configuration, where the frames go (a file, a pipe), the live
// status line and the JSON report, around the pull engine in
// stream/client/pull. cmd/flowcam only reads the command line and calls Run.
package client
