# Reads frames from an RTSP URL with OpenCV's VideoCapture and prints, as
# JSON, the codec, size, frames read and how many differ.
# usage: python3 opencv.py URL FRAMES
import hashlib
import json
import struct
import sys

import cv2

url, want = sys.argv[1], int(sys.argv[2])
res = {"codec": "", "width": 0, "height": 0, "frames": 0, "distinct": 0, "error": ""}
cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
if not cap.isOpened():
    res["error"] = "VideoCapture did not open " + url
else:
    res["codec"] = struct.pack("<I", int(cap.get(cv2.CAP_PROP_FOURCC))).decode("latin-1").strip("\0 ")
    sums = set()
    while res["frames"] < want:
        ok, frame = cap.read()
        if not ok:
            res["error"] = "read failed after %d frames" % res["frames"]
            break
        res["height"], res["width"] = frame.shape[0], frame.shape[1]
        res["frames"] += 1
        sums.add(hashlib.md5(frame.tobytes()).hexdigest())
    res["distinct"] = len(sums)
    cap.release()
print(json.dumps(res))
