#!/usr/bin/env python3
"""Converts the MediaPipe Holistic TFLite models from the mediapipe 0.10.21 wheel to ONNX (opset 17).

Every converted model is checked against the TFLite interpreter on the same inputs, and a NOTICE with
the sha256 of every input and output is written next to the ONNX files.

    python -m venv /tmp/mpconv && /tmp/mpconv/bin/pip install -r tools/requirements-convert.txt
    pip download mediapipe==0.10.21 --no-deps --only-binary=:all: --python-version 3.11 \
        --platform manylinux_2_28_x86_64 -d /tmp/mpwheel
    /tmp/mpconv/bin/python tools/convert_mediapipe.py \
        --wheel /tmp/mpwheel/mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl \
        --out assets/models/mediapipe

pose_detection.tflite stores some weights sparsely behind TFLite DENSIFY ops, which tf2onnx cannot
convert. Those ops are replaced by the dense constants that the TFLite interpreter computes for them
(see `densified_constants`).
"""

import argparse
import hashlib
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

WHEEL_NAME = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"

# (path inside the wheel, ONNX file name, input value range the Holistic graph feeds it)
MODELS = [
    ("mediapipe/modules/pose_detection/pose_detection.tflite", "pose_detection.onnx", (-1.0, 1.0)),
    ("mediapipe/modules/pose_landmark/pose_landmark_full.tflite", "pose_landmark_full.onnx", (0.0, 1.0)),
    ("mediapipe/modules/hand_landmark/hand_landmark_full.tflite", "hand_landmark_full.onnx", (0.0, 1.0)),
    ("mediapipe/modules/holistic_landmark/hand_recrop.tflite", "hand_recrop.onnx", (0.0, 1.0)),
    ("mediapipe/modules/face_landmark/face_landmark.tflite", "face_landmark.onnx", (0.0, 1.0)),
    (
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "face_detection_short_range.onnx",
        (-1.0, 1.0),
    ),
    # The hand fallback's palm detector (not part of Holistic: hand_landmark_tracking_cpu's).
    ("mediapipe/modules/palm_detection/palm_detection_full.tflite", "palm_detection_full.onnx", (0.0, 1.0)),
]

# Outputs kept per model where the backend needs fewer than the model has. TFLite computes every
# output; ONNX Runtime computes only what the kept outputs depend on. Holistic runs with
# segmentation off, and the body model's segmentation decoder is a quarter of its cost; the world
# landmarks are not used either.
KEPT_OUTPUTS = {
    "pose_landmark_full.onnx": ["Identity", "Identity_1", "Identity_3"],
}

OPSET = 17
# Largest accepted |onnx - tflite| relative to max(1, largest |tflite| output value), per output.
MAX_RELATIVE_DIFF = 1e-3


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tflite_interpreter(tflite_path: Path):
    """An interpreter without the XNNPACK delegate: with it, densified tensors read back as zeros."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_path=str(tflite_path),
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    return interpreter


def densify_outputs(tflite_path: Path) -> list[tuple[str, int]]:
    """Name and tensor index of every tensor that a DENSIFY op of the main graph produces."""
    from tf2onnx.tflite.Model import Model
    from tf2onnx.tflite_utils import lookup_enum

    model = Model.GetRootAsModel(tflite_path.read_bytes(), 0)
    outputs = []
    graph = model.Subgraphs(0)
    for o in range(graph.OperatorsLength()):
        op = graph.Operators(o)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if lookup_enum(builtin, "BuiltinOperator") == "DENSIFY":
            index = op.Outputs(0)
            outputs.append((graph.Tensors(index).Name().decode(), index))
    return outputs


def densified_constants(tflite_path: Path) -> dict[str, np.ndarray]:
    """The dense value of every DENSIFY output, read from the interpreter after one run."""
    outputs = densify_outputs(tflite_path)
    if not outputs:
        return {}
    interpreter = tflite_interpreter(tflite_path)
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], dtype=detail["dtype"]))
    interpreter.invoke()
    # The interpreter's tensor indices of subgraph 0 are the flatbuffer's.
    constants = {name: interpreter.get_tensor(index).copy() for name, index in outputs}
    for name, value in constants.items():
        if not np.any(value):
            sys.exit(f"{tflite_path}: densified tensor {name} reads back as zeros")
    return constants


def install_densify_patch(constants: dict[str, np.ndarray]) -> None:
    """Makes tf2onnx emit each DENSIFY output as a dense constant instead of a DENSIFY node.

    tf2onnx reads every constant buffer as a dense array; the sparse inputs of DENSIFY have fewer
    values than their shape, so those become placeholder zeros (left unused and pruned).
    """
    import tensorflow as tf
    from onnx import helper, numpy_helper
    from tf2onnx import tflite_utils

    real_tensor_util = tflite_utils.tensor_util
    real_parse = tflite_utils.parse_tflite_graph

    class LenientTensorUtil:
        @staticmethod
        def MakeNdarray(tensor_proto):  # noqa: N802 (tf's name)
            try:
                return real_tensor_util.MakeNdarray(tensor_proto)
            except ValueError:
                shape = [d.size for d in tensor_proto.tensor_shape.dim]
                return np.zeros(shape, dtype=tf.dtypes.as_dtype(tensor_proto.dtype).as_numpy_dtype)

        def __getattr__(self, name):
            return getattr(real_tensor_util, name)

    def parse_with_dense_constants(*args, **kwargs):
        nodes, op_cnt, attr_cnt, shapes, dtypes, inputs, outputs, name = real_parse(*args, **kwargs)
        replaced = []
        for node in nodes:
            if node.op_type == "TFL_DENSIFY":
                out = node.output[0]
                value = numpy_helper.from_array(constants[out], name=out)
                node = helper.make_node("Const", [], outputs=[out], name=out, value=value)
            replaced.append(node)
        return replaced, op_cnt, attr_cnt, shapes, dtypes, inputs, outputs, name

    if constants:
        tflite_utils.tensor_util = LenientTensorUtil()
        tflite_utils.parse_tflite_graph = parse_with_dense_constants
    else:
        tflite_utils.tensor_util = real_tensor_util
        tflite_utils.parse_tflite_graph = real_parse


def convert(tflite_path: Path, onnx_path: Path) -> None:
    import tf2onnx
    from tf2onnx import tflite_utils

    real_tensor_util = tflite_utils.tensor_util
    real_parse = tflite_utils.parse_tflite_graph
    try:
        install_densify_patch(densified_constants(tflite_path))
        tf2onnx.convert.from_tflite(str(tflite_path), opset=OPSET, output_path=str(onnx_path))
    finally:
        tflite_utils.tensor_util = real_tensor_util
        tflite_utils.parse_tflite_graph = real_parse


def keep_outputs(onnx_path: Path, kept: list[str]) -> None:
    """Rewrites the model with only the `kept` outputs and the nodes they need."""
    import onnx
    from onnx import utils

    model = onnx.load(str(onnx_path))
    inputs = [i.name for i in model.graph.input]
    utils.extract_model(str(onnx_path), str(onnx_path), inputs, kept)


def check(tflite_path: Path, onnx_path: Path, value_range: tuple[float, float]) -> list[str]:
    """Runs both on the same seeded inputs; returns one line per output, exits on a mismatch."""
    import onnxruntime

    rng = np.random.default_rng(2026)
    interpreter = tflite_interpreter(tflite_path)
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    lines = []
    for trial in range(3):
        feeds = {}
        for detail, onnx_input in zip(interpreter.get_input_details(), session.get_inputs()):
            shape = detail["shape"]
            low, high = value_range
            if trial == 0:
                # A smooth image-like input: gradients plus blobs.
                ys, xs = np.meshgrid(np.linspace(0, 1, shape[1]), np.linspace(0, 1, shape[2]), indexing="ij")
                planes = [xs, ys, 0.5 + 0.5 * np.sin(8 * xs) * np.cos(6 * ys)]
                unit = np.stack(planes, axis=-1)[None].astype(np.float32)
            else:
                unit = rng.random(shape, dtype=np.float32)
            value = (low + (high - low) * unit).astype(np.float32)
            interpreter.set_tensor(detail["index"], value)
            feeds[onnx_input.name] = value
        interpreter.invoke()
        tflite_outputs = {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}
        onnx_outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
        expected = set(KEPT_OUTPUTS.get(onnx_path.name, tflite_outputs))
        if set(onnx_outputs) != expected or not expected <= set(tflite_outputs):
            sys.exit(f"{onnx_path}: outputs {sorted(onnx_outputs)}, expected {sorted(expected)} of TFLite's {sorted(tflite_outputs)}")
        for o_name, o_value in onnx_outputs.items():
            t_name, t_value = o_name, tflite_outputs[o_name]
            o_value = o_value.reshape(t_value.shape)
            # Outputs near 0 (presence logits on noise) are compared in absolute terms.
            scale = max(float(np.abs(t_value).max()), 1.0)
            diff = float(np.abs(o_value - t_value).max())
            lines.append(f"  trial {trial} {o_name} {list(t_value.shape)}: max |diff| {diff:.3g} of {scale:.3g}")
            if diff > MAX_RELATIVE_DIFF * scale:
                sys.exit(f"{onnx_path}: output {o_name} differs from TFLite {t_name}: {diff} > {MAX_RELATIVE_DIFF} x {scale}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, required=True, help=f"path to {WHEEL_NAME}")
    parser.add_argument("--out", type=Path, required=True, help="output folder (assets/models/mediapipe)")
    args = parser.parse_args()
    if not args.wheel.is_file():
        sys.exit(f"{args.wheel}: wheel not found")
    args.out.mkdir(parents=True, exist_ok=True)

    notice_rows = []
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(args.wheel) as wheel:
        license_member = next(n for n in wheel.namelist() if n.endswith(".dist-info/LICENSE"))
        (args.out / "LICENSE").write_bytes(wheel.read(license_member))
        for member, onnx_name, value_range in MODELS:
            tflite_path = Path(tmp) / Path(member).name
            tflite_path.write_bytes(wheel.read(member))
            onnx_path = args.out / onnx_name
            print(f"{member} -> {onnx_path}", flush=True)
            convert(tflite_path, onnx_path)
            if onnx_name in KEPT_OUTPUTS:
                keep_outputs(onnx_path, KEPT_OUTPUTS[onnx_name])
            for line in check(tflite_path, onnx_path, value_range):
                print(line)
            notice_rows.append((member, sha256(tflite_path), onnx_name, sha256(onnx_path)))

    lines = [
        "The ONNX files in this folder were converted from the TensorFlow Lite models of MediaPipe",
        "(Copyright The MediaPipe Authors, Apache License 2.0, see LICENSE in this folder).",
        "",
        f"Source: PyPI wheel {WHEEL_NAME}",
        f"  sha256 {sha256(args.wheel)}",
        f"Converted by tools/convert_mediapipe.py (tf2onnx 1.17.0, opset {OPSET}); the DENSIFY ops of",
        "pose_detection were replaced by their dense values as computed by the TFLite interpreter.",
        *[f"{name} keeps only the outputs {', '.join(kept)} (the rest are unused)." for name, kept in KEPT_OUTPUTS.items()],
        f"Each ONNX file matches the TFLite interpreter to within {MAX_RELATIVE_DIFF} of the output magnitude.",
        "",
        "input (inside the wheel)  sha256  ->  output  sha256",
    ]
    for member, tflite_sha, onnx_name, onnx_sha in notice_rows:
        lines.append(f"{member}  {tflite_sha}")
        lines.append(f"  -> {onnx_name}  {onnx_sha}")
    (args.out / "NOTICE").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out / 'NOTICE'}")


if __name__ == "__main__":
    main()
