module flowcam

go 1.26.8

require (
	github.com/bluenviron/gortsplib/v4 v4.12.3
	github.com/pion/rtcp v1.2.20
	github.com/pion/rtp v1.10.6
	github.com/pixiv/go-libjpeg v0.0.0-20190822045933-3da21a74767d
	golang.org/x/net v0.34.0
	golang.org/x/sys v0.29.0
)

require (
	github.com/bluenviron/mediacommon v1.14.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/pion/randutil v0.1.0 // indirect
	github.com/pion/sdp/v3 v3.0.10 // indirect
)
