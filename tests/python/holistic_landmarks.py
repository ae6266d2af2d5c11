#!/usr/bin/env python3
"""Runs Python mediapipe 0.10.21 Holistic (video mode, model_complexity=1, smoothing on) on raw RGB24
frames and writes, per frame, the pose / hand / face landmarks in pixels (null where not found).

    holistic_landmarks.py FRAMES.rgb WIDTH HEIGHT OUT.json
"""

import json
import sys

import mediapipe as mp
import numpy as np


def pixels(landmarks, width, height):
    if landmarks is None:
        return None
    return [[lm.x * width, lm.y * height, getattr(lm, "visibility", 0.0)] for lm in landmarks.landmark]


def main() -> None:
    frames_path, width, height, out_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    raw = np.fromfile(frames_path, dtype=np.uint8)
    frame_bytes = width * height * 3
    if raw.size % frame_bytes:
        sys.exit(f"{frames_path}: {raw.size} bytes is not a whole number of {width}x{height} RGB frames")
    frames = raw.reshape(-1, height, width, 3)
    results = []
    with mp.solutions.holistic.Holistic(static_image_mode=False, model_complexity=1) as holistic:
        for frame in frames:
            r = holistic.process(np.ascontiguousarray(frame))
            results.append(
                {
                    "pose": pixels(r.pose_landmarks, width, height),
                    "left_hand": pixels(r.left_hand_landmarks, width, height),
                    "right_hand": pixels(r.right_hand_landmarks, width, height),
                    "face": pixels(r.face_landmarks, width, height),
                }
            )
    with open(out_path, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
