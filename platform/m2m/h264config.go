package m2m

// H264Config sets up an H264Encoder. A zero Bitrate or GOP, and a Profile
// or Level of -1, keep the driver's own.
type H264Config struct {
	Bitrate int // bits/s
	// GOP is the frames from one IDR picture to the next.
	GOP int
	// Profile is V4L2's menu index: 0 baseline, 1 constrained baseline,
	// 2 main, 4 high (V4L2_MPEG_VIDEO_H264_PROFILE_*); -1 keeps the driver's.
	Profile int
	// Level is V4L2's menu index (V4L2_MPEG_VIDEO_H264_LEVEL_*: 11 is
	// level 4.0); -1 keeps the driver's.
	Level int
}

// DefaultH264 is what a 720p25 camera stream on a Pi 4 gets: 2 Mbit/s, an
// IDR picture a second, constrained baseline at level 4.0 (what every
// player decodes, and no B-frames to reorder).
var DefaultH264 = H264Config{Bitrate: 2_000_000, GOP: 25, Profile: 1, Level: 11}
