"""Runs rtmlib (PyPI) the way Uni-Sign's demo/pose_extraction.py does, as the reference for
tests/pose_rtmw.rs.

Usage: rtmlib_reference.py JOBS_JSON OUT_DIR
JOBS_JSON is a list of {"name", "image" (PNG), "det_model", "pose_model"}. For each job it writes
OUT_DIR/<name>.json (chosen box, keypoints, scores) and the model inputs rtmlib built:
OUT_DIR/<name>.det_input.f32 and OUT_DIR/<name>.pose_input.f32 (float32 NCHW, little-endian).
"""
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import onnx
from rtmlib import RTMPose, YOLOX


def input_hw(path):
    dims = onnx.load(path, load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    return dims[2].dim_value, dims[3].dim_value


def nchw(hwc):
    # What rtmlib's BaseTool.inference feeds the session.
    return np.ascontiguousarray(hwc.transpose(2, 0, 1), dtype=np.float32)[None]


def run(job, out_dir):
    img = cv2.imread(job["image"])  # BGR, as Uni-Sign reads frames with OpenCV
    det_h, det_w = input_hw(job["det_model"])
    pose_h, pose_w = input_hw(job["pose_model"])
    det = YOLOX(job["det_model"], model_input_size=(det_h, det_w), backend="onnxruntime", device="cpu")
    pose = RTMPose(job["pose_model"], model_input_size=(pose_w, pose_h), backend="onnxruntime",
                   device="cpu")

    det_input, ratio = det.preprocess(img)
    boxes = det(img)
    all_boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).tolist()
    # Uni-Sign's change to rtmlib's YOLOX.postprocess: keep only the largest box.
    if len(boxes) > 0:
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        best = int(np.argmax(areas))
        boxes = boxes[best:best + 1]
    keypoints, scores = pose(img, bboxes=boxes)
    bbox = boxes[0] if len(boxes) > 0 else [0, 0, img.shape[1], img.shape[0]]
    pose_input, center, scale = pose.preprocess(img, bbox)

    name = job["name"]
    nchw(det_input).tofile(out_dir / f"{name}.det_input.f32")
    nchw(pose_input).tofile(out_dir / f"{name}.pose_input.f32")
    result = {
        "ratio": float(ratio),
        "boxes": all_boxes,
        "box": [float(v) for v in bbox] if len(boxes) > 0 else None,
        "center": [float(v) for v in center],
        "scale": [float(v) for v in scale],
        "keypoints": np.asarray(keypoints[0], dtype=np.float64).tolist(),
        "scores": np.asarray(scores[0], dtype=np.float64).tolist(),
    }
    (out_dir / f"{name}.json").write_text(json.dumps(result))


def main():
    jobs = json.loads(Path(sys.argv[1]).read_text())
    out_dir = Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    for job in jobs:
        run(job, out_dir)


if __name__ == "__main__":
    main()
