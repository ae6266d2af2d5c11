"""Independent reads and writes of pose files for the Rust tests (pose-format, pickle + NumPy).

Usage:
  pose_peer.py read-pose FILE            pose-format's reading of a .pose as JSON on stdout
  pose_peer.py load-pkl FILE             a Uni-Sign .pkl loaded with pickle, as JSON on stdout
  pose_peer.py repickle IN OUT PROTOCOL  loads IN and pickles it again with another protocol
  pose_peer.py mmpose FILE               person 0 of MMPose predictions JSON, as JSON on stdout
"""
import json
import pickle
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def read_pose(path):
    from pose_format import Pose

    with open(path, "rb") as f:
        pose = Pose.read(f.read())
    h = pose.header
    data = np.asarray(pose.body.data.data, dtype=np.float32)
    conf = np.asarray(pose.body.confidence, dtype=np.float32)
    return {
        "version": float(h.version),
        "width": h.dimensions.width,
        "height": h.dimensions.height,
        "depth": h.dimensions.depth,
        "components": [
            {
                "name": c.name,
                "format": c.format,
                "points": list(c.points),
                "limbs": [list(map(int, l)) for l in c.limbs],
                "colors": [list(map(int, rgb)) for rgb in c.colors],
            }
            for c in h.components
        ],
        "fps": float(pose.body.fps),
        "shape": list(data.shape),
        "data": data.ravel().tolist(),
        "confidence": conf.ravel().tolist(),
    }


def load_pkl(path):
    with open(path, "rb") as f:
        d = pickle.load(f)
    return {
        "keys": sorted(d.keys()),
        "keypoints_types": sorted({type(a).__name__ + ":" + str(a.dtype) for a in d["keypoints"]}),
        "scores_types": sorted({type(a).__name__ + ":" + str(a.dtype) for a in d["scores"]}),
        "keypoints_shapes": sorted({str(a.shape) for a in d["keypoints"]}),
        "scores_shapes": sorted({str(a.shape) for a in d["scores"]}),
        "keypoints": [a[0].tolist() for a in d["keypoints"]],
        "scores": [a[0].astype(np.float64).tolist() for a in d["scores"]],
    }


def repickle(src, dst, protocol):
    with open(src, "rb") as f:
        d = pickle.load(f)
    with open(dst, "wb") as f:
        pickle.dump(d, f, protocol=int(protocol))


def mmpose(path):
    with open(path) as f:
        frames = json.load(f)
    return [
        {
            "keypoints": f["instances"][0]["keypoints"],
            "scores": f["instances"][0]["keypoint_scores"],
        }
        for f in frames
    ]


def main():
    cmd, *args = sys.argv[1:]
    if cmd == "read-pose":
        json.dump(read_pose(args[0]), sys.stdout)
    elif cmd == "load-pkl":
        json.dump(load_pkl(args[0]), sys.stdout)
    elif cmd == "repickle":
        repickle(*args)
    elif cmd == "mmpose":
        json.dump(mmpose(args[0]), sys.stdout)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
