"""MediaPipe Holistic's own speed, the peer of `signcap bench pose`.

Legacy `solutions.holistic.Holistic(static_image_mode=False, model_complexity=1)`, frames read with
OpenCV and converted to RGB before the clock starts; only the `process` loop is timed, over the
first --frames frames. Prints one JSON object: {"mediapipe", "frames", "loop_s", "fps"}.

Usage: bench_mediapipe.py VIDEO [--frames N]
"""
import argparse
import json
import sys
import time

import cv2
import mediapipe as mp


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("video")
    parser.add_argument("--frames", type=int, default=None)
    args = parser.parse_args()

    capture = cv2.VideoCapture(args.video)
    if not capture.isOpened():
        sys.exit(f"{args.video}: OpenCV cannot open it")
    frames = []
    while args.frames is None or len(frames) < args.frames:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    if not frames:
        sys.exit(f"{args.video}: no frames decoded")

    with mp.solutions.holistic.Holistic(static_image_mode=False, model_complexity=1) as holistic:
        started = time.perf_counter()
        for rgb in frames:
            holistic.process(rgb)
        loop_s = time.perf_counter() - started
    print(json.dumps({
        "mediapipe": mp.__version__,
        "frames": len(frames),
        "loop_s": loop_s,
        "fps": len(frames) / loop_s,
    }))


if __name__ == "__main__":
    main()
