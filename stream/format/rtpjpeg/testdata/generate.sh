#!/bin/sh
# Regenerates the test pictures (committed; run by hand, not by the tests).
# Needs ffmpeg and cjpeg (libjpeg-turbo-progs).
set -eu
cd "$(dirname "$0")"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
ffmpeg -v error -f lavfi -i testsrc2=s=160x120 -frames:v 1 -y "$t/src.ppm"
ffmpeg -v error -f lavfi -i testsrc2=s=2048x16 -frames:v 1 -y "$t/wide.ppm"
ffmpeg -v error -f lavfi -i testsrc2=s=100x50 -frames:v 1 -y "$t/odd.ppm"
cjpeg -quality 80 -sample 2x2 "$t/src.ppm" >420.jpg
cjpeg -quality 10 -baseline -sample 2x2 "$t/src.ppm" >420-q10.jpg
cjpeg -quality 10 -sample 2x2 "$t/src.ppm" >420-16bit.jpg
cjpeg -quality 80 -sample 2x1 "$t/src.ppm" >422.jpg
cjpeg -quality 80 -sample 2x2 -restart 1 "$t/src.ppm" >420-restart.jpg
cjpeg -quality 50 -sample 2x1 -restart 3B "$t/src.ppm" >422-restart.jpg
cjpeg -quality 80 -sample 1x1 "$t/src.ppm" >444.jpg
cjpeg -quality 80 -progressive "$t/src.ppm" >progressive.jpg
cjpeg -quality 80 -optimize "$t/src.ppm" >optimized.jpg
cjpeg -quality 80 -grayscale "$t/src.ppm" >gray.jpg
cjpeg -quality 80 "$t/wide.ppm" >2048x16.jpg
cjpeg -quality 80 "$t/odd.ppm" >100x50.jpg
