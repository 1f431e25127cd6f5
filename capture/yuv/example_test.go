package yuv_test

import (
	"fmt"
	"image"

	"flowcam/capture"
	"flowcam/capture/yuv"
)

// A YUYV camera frame goes into a picture allocated once per stream.
func ExampleYUYVToI422() {
	const w, h, bytesPerLine = 640, 480, 1280
	frame := make([]byte, bytesPerLine*h) // a dequeued V4L2 buffer
	img := capture.NewYCbCr(capture.Size{Width: w, Height: h}, image.YCbCrSubsampleRatio422)
	if err := yuv.YUYVToI422(img, frame, bytesPerLine, w, h); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(img.Rect.Size(), img.SubsampleRatio)
	// Output: (640,480) YCbCrSubsampleRatio422
}
