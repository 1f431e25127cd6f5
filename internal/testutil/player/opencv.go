package player

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
)

//go:embed opencv.py
var openCVScript string

// Python is the interpreter Debian's python3-opencv is installed for: a
// python3 earlier on PATH (pyenv, a virtualenv) would not see it.
const Python = "/usr/bin/python3"

// OpenCVResult is what OpenCV's VideoCapture made of a stream: the codec
// it found (its FourCC, "h264" or "MJPG"), the picture size, frames read
// and how many of them differ.
type OpenCVResult struct {
	Codec    string `json:"codec"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Frames   int    `json:"frames"`
	Distinct int    `json:"distinct"`
	Error    string `json:"error"`
}

// OpenCV reads n frames of url with OpenCV's VideoCapture (Python, the
// FFmpeg backend, as most OpenCV programs open a camera stream) over
// transport (tcp or udp).
func OpenCV(ctx context.Context, url, transport string, n int) (OpenCVResult, error) {
	cmd := exec.CommandContext(ctx, Python, "-c", openCVScript, url, fmt.Sprint(n))
	cmd.Env = append(os.Environ(), "OPENCV_FFMPEG_CAPTURE_OPTIONS=rtsp_transport;"+transport)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	runErr := cmd.Run()
	var r OpenCVResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return r, fmt.Errorf("opencv: %v (%v)\n%s%s", runErr, err, out.String(), stderr.String())
	}
	if r.Error != "" || runErr != nil {
		return r, fmt.Errorf("opencv: %s %v\n%s", r.Error, runErr, stderr.String())
	}
	return r, nil
}
