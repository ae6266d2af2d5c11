"""Builds small ONNX models with the signatures of the real RTMW/YOLOX exports, for tests/pose_rtmw.rs.

The real models cannot be downloaded here, so the test runs rtmlib and signcap on these instead:
  det_nms.onnx    YOLOX with NMS inside (mmdeploy onnx_sdk layout): input [1,3,416,416] ->
                  dets [1,5,5] (x1,y1,x2,y2,score in model pixels), labels [1,5]
  det_raw.onnx    YOLOX raw head: input [1,3,416,416] -> [1,3549,6] (cx,cy,log w,log h as grid
                  offsets, objectness, one class score) over the stride 8/16/32 grids
  det_empty.onnx  like det_nms but every score below 0.3, so the full frame stands in
  pose.onnx       RTMW SimCC: input [1,3,256,192] -> simcc_x [1,133,384], simcc_y [1,133,512]

Every output is a fixed pattern plus a term computed from the input image (average-pooled pixels
through seeded random weights), so a wrong letterbox, crop, channel order or normalisation
changes the outputs and the test fails. The boxes are laid out to exercise the 0.3 and 0.7 score
thresholds, NMS and the largest-box rule; a seventh of the keypoints get a large negative bias so
their score is not positive (rtmlib then puts them at location -1).

Usage: make_rtmw_test_models.py OUT_DIR
"""
import math
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
DET_SIZE = 416
POSE_W, POSE_H = 192, 256
NUM_KEYPOINTS = 133
STRIDES = (8, 16, 32)


def save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def pooled_features(nodes, inits, input_name, kernel, scale):
    """input -> AveragePool(kernel) -> Flatten -> * scale, named 'features'."""
    inits.append(numpy_helper.from_array(np.array(scale, np.float32), "feature_scale"))
    nodes += [
        helper.make_node("AveragePool", [input_name], ["pooled"], kernel_shape=[kernel, kernel],
                         strides=[kernel, kernel]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("Mul", ["flat", "feature_scale"], ["features"]),
    ]


def detector_with_nms(path, rng, base_dets):
    """dets = base + features @ W (per column scale), labels = 0."""
    n = len(base_dets)
    nodes, inits = [], []
    pooled_features(nodes, inits, "input", 104, 1.0 / 255.0)
    features = 3 * (DET_SIZE // 104) ** 2
    column_scale = np.array([2.0, 2.0, 2.0, 2.0, 0.003], np.float32)
    weights = (rng.standard_normal((features, n, 5)).astype(np.float32) * column_scale)
    inits += [
        numpy_helper.from_array(weights.reshape(features, n * 5), "w"),
        numpy_helper.from_array(np.asarray(base_dets, np.float32).reshape(n * 5), "base"),
        numpy_helper.from_array(np.array([1, n, 5], np.int64), "dets_shape"),
        numpy_helper.from_array(np.zeros((1, n), np.int64), "labels"),
    ]
    nodes += [
        helper.make_node("MatMul", ["features", "w"], ["delta"]),
        helper.make_node("Add", ["delta", "base"], ["flat_dets"]),
        helper.make_node("Reshape", ["flat_dets", "dets_shape"], ["dets"]),
    ]
    graph = helper.make_graph(
        nodes, "yolox_nms_test",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, DET_SIZE, DET_SIZE])],
        [helper.make_tensor_value_info("dets", TensorProto.FLOAT, [1, n, 5]),
         helper.make_tensor_value_info("labels", TensorProto.INT64, [1, n])],
        inits)
    save(graph, path)


def detector_raw_head(path, rng):
    grids = [(DET_SIZE // s, DET_SIZE // s, s) for s in STRIDES]
    anchors = sum(h * w for h, w, _ in grids)
    base = np.tile(np.array([0.5, 0.5, 0.0, 0.0, 0.01, 0.5], np.float32), (anchors, 1))

    def anchor(stride, gx, gy):
        offset = 0
        for h, w, s in grids:
            if s == stride:
                return offset + gy * w + gx
            offset += h * w
        raise ValueError(stride)

    def put(stride, gx, gy, width, height, objectness, class_score):
        base[anchor(stride, gx, gy)] = [0.5, 0.5, math.log(width / stride),
                                        math.log(height / stride), objectness, class_score]

    put(16, 10, 8, 200, 210, 0.95, 0.95)   # score 0.90: kept
    put(16, 11, 8, 190, 200, 0.90, 0.90)   # 0.81, overlaps the first: removed by NMS
    put(32, 9, 3, 260, 240, 0.92, 0.92)    # 0.85, apart and larger: kept and chosen
    put(8, 5, 40, 40, 60, 0.87, 0.87)      # 0.76, small: kept, not chosen
    put(32, 6, 6, 380, 300, 0.80, 0.75)    # 0.60 < 0.7: dropped before NMS
    nodes, inits = [], []
    pooled_features(nodes, inits, "input", 104, 1.0 / 255.0)
    features = 3 * (DET_SIZE // 104) ** 2
    column_scale = np.array([0.02, 0.02, 0.01, 0.01, 0.002, 0.002], np.float32)
    weights = rng.standard_normal((features, anchors, 6)).astype(np.float32) * column_scale
    inits += [
        numpy_helper.from_array(weights.reshape(features, anchors * 6), "w"),
        numpy_helper.from_array(base.reshape(anchors * 6), "base"),
        numpy_helper.from_array(np.array([1, anchors, 6], np.int64), "out_shape"),
    ]
    nodes += [
        helper.make_node("MatMul", ["features", "w"], ["delta"]),
        helper.make_node("Add", ["delta", "base"], ["flat_output"]),
        helper.make_node("Reshape", ["flat_output", "out_shape"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "yolox_raw_test",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, DET_SIZE, DET_SIZE])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, anchors, 6])],
        inits)
    save(graph, path)


def simcc_pose(path, rng):
    hidden = 16
    pooled = 3 * (POSE_H // 32) * (POSE_W // 32)
    nodes, inits = [], []
    nodes += [
        helper.make_node("AveragePool", ["input"], ["pooled"], kernel_shape=[32, 32], strides=[32, 32]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Tanh", ["h1"], ["h"]),
    ]
    inits += [
        numpy_helper.from_array(rng.standard_normal((pooled, hidden)).astype(np.float32) * 0.1, "w1"),
        numpy_helper.from_array(rng.standard_normal(hidden).astype(np.float32) * 0.1, "b1"),
    ]
    negative = np.where(np.arange(NUM_KEYPOINTS) % 7 == 3, -5.0, 0.0).astype(np.float32)
    outputs = []
    for axis, bins in (("x", POSE_W * 2), ("y", POSE_H * 2)):
        w = rng.standard_normal((hidden, NUM_KEYPOINTS * bins)).astype(np.float32) * 0.3
        b = (rng.standard_normal((NUM_KEYPOINTS, bins)).astype(np.float32) * 0.05
             + negative[:, None]).reshape(-1)
        inits += [
            numpy_helper.from_array(w, f"w_{axis}"),
            numpy_helper.from_array(b, f"b_{axis}"),
            numpy_helper.from_array(np.array([1, NUM_KEYPOINTS, bins], np.int64), f"shape_{axis}"),
        ]
        nodes += [
            helper.make_node("MatMul", ["h", f"w_{axis}"], [f"m_{axis}"]),
            helper.make_node("Add", [f"m_{axis}", f"b_{axis}"], [f"a_{axis}"]),
            helper.make_node("Reshape", [f"a_{axis}", f"shape_{axis}"], [f"simcc_{axis}"]),
        ]
        outputs.append(helper.make_tensor_value_info(f"simcc_{axis}", TensorProto.FLOAT,
                                                     [1, NUM_KEYPOINTS, bins]))
    graph = helper.make_graph(
        nodes, "rtmw_simcc_test",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, POSE_H, POSE_W])],
        outputs, inits)
    save(graph, path)


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261125)
    # x1, y1, x2, y2, score in model pixels: the first is filtered (0.2 <= 0.3) although largest,
    # the third is the largest of the kept ones.
    detector_with_nms(out / "det_nms.onnx", rng, [
        [10, 10, 405, 400, 0.20],
        [100, 20, 300, 230, 0.90],
        [50, 40, 380, 220, 0.80],
        [300, 100, 340, 180, 0.35],
        [0, 0, 0, 0, 0.01],
    ])
    detector_with_nms(out / "det_empty.onnx", rng, [
        [100, 20, 300, 230, 0.25],
        [50, 40, 380, 220, 0.10],
        [0, 0, 0, 0, 0.0],
    ])
    detector_raw_head(out / "det_raw.onnx", rng)
    simcc_pose(out / "pose.onnx", rng)


if __name__ == "__main__":
    main()
