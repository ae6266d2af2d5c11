//! Pose files against independent readers: pose-format (Python) for `.pose`, Python's pickle +
//! NumPy and the Uni-Sign parity fixture for `.pkl`, Python's json for MMPose predictions.

use std::path::{Path, PathBuf};

use serde_json::Value;
use signcap_engine::keypoints::pose_format::PoseFormatFile;
use signcap_engine::keypoints::{
    self, NUM_KEYPOINTS, PoseFileError, PoseReadOptions, PoseSequence, read_pose_file,
    read_pose_file_with, read_unisign_pkl_file, write_pose_file,
};
use signcap_tests::media::{path_str, pose_peer};
use signcap_tests::shared_dir;

fn poses_dir() -> PathBuf {
    shared_dir().join("eval-media/poses")
}

fn eval_pose_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(poses_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pose"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        12,
        "eval-media/poses should hold 12 .pose files"
    );
    files
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().map_or(f32::NAN, |x| x as f32))
        .collect()
}

/// Bitwise equality, treating all NaNs as equal (pose-format files use NaN for missing points).
fn assert_same_f32(ours: &[f32], theirs: &[f32], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: length");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(
            a == b || (a.is_nan() && b.is_nan()),
            "{what}[{i}]: ours {a}, pose-format {b}"
        );
    }
}

fn assert_file_matches_peer(file: &PoseFormatFile, peer: &Value, what: &str) {
    let h = &file.header;
    assert_eq!(
        h.version,
        peer["version"].as_f64().unwrap() as f32,
        "{what}"
    );
    assert_eq!(
        u64::from(h.width),
        peer["width"].as_u64().unwrap(),
        "{what}"
    );
    assert_eq!(
        u64::from(h.height),
        peer["height"].as_u64().unwrap(),
        "{what}"
    );
    assert_eq!(
        u64::from(h.depth),
        peer["depth"].as_u64().unwrap(),
        "{what}"
    );
    let components = peer["components"].as_array().unwrap();
    assert_eq!(h.components.len(), components.len(), "{what}");
    for (ours, theirs) in h.components.iter().zip(components) {
        assert_eq!(ours.name, theirs["name"].as_str().unwrap());
        assert_eq!(ours.format, theirs["format"].as_str().unwrap());
        let points: Vec<&str> = theirs["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert_eq!(ours.points, points, "{what} {}", ours.name);
        let limbs: Vec<(u16, u16)> = theirs["limbs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l[0].as_u64().unwrap() as u16, l[1].as_u64().unwrap() as u16))
            .collect();
        assert_eq!(ours.limbs, limbs, "{what} {}", ours.name);
        assert_eq!(
            ours.colors.len(),
            theirs["colors"].as_array().unwrap().len()
        );
    }
    assert_eq!(file.fps, peer["fps"].as_f64().unwrap() as f32, "{what} fps");
    let shape: Vec<usize> = peer["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(
        shape,
        vec![file.frames, file.people, h.total_points(), h.num_dims()],
        "{what} shape"
    );
    assert_same_f32(&file.data, &f32s(&peer["data"]), what);
    assert_same_f32(&file.confidence, &f32s(&peer["confidence"]), what);
}

#[test]
fn eval_pose_files_read_as_pose_format_reads_them() {
    for path in eval_pose_files() {
        let ours = PoseFormatFile::from_bytes(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let peer = pose_peer(&["read-pose", path_str(&path)]);
        assert_file_matches_peer(&ours, &peer, &path.display().to_string());
    }
}

/// Index of a named point in pose-format's flat point list.
fn point_index(peer: &Value, component: &str, point: &str) -> usize {
    let mut offset = 0;
    for c in peer["components"].as_array().unwrap() {
        let points = c["points"].as_array().unwrap();
        if c["name"] == component {
            return offset + points.iter().position(|p| p == point).unwrap();
        }
        offset += points.len();
    }
    panic!("no {component}/{point}");
}

/// (x, y, confidence) of person 0 at `frame` as pose-format reads it.
fn peer_point(peer: &Value, frame: usize, index: usize) -> (f32, f32, f32) {
    let shape: Vec<usize> = peer["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let (people, points, dims) = (shape[1], shape[2], shape[3]);
    let at = (frame * people * points + index) * dims;
    let data = &peer["data"];
    let conf = &peer["confidence"][frame * people * points + index];
    let f = |v: &Value| v.as_f64().map_or(f32::NAN, |x| x as f32);
    (f(&data[at]), f(&data[at + 1]), f(conf))
}

fn assert_point(seq: &PoseSequence, frame: usize, coco: usize, expected: (f32, f32, f32)) {
    let k = seq.frames[frame].keypoints_in_image[coco];
    let same = |a: f32, b: f32| a == b || (a.is_nan() && b.is_nan());
    assert!(
        same(k.x, expected.0) && same(k.y, expected.1) && same(k.score, expected.2),
        "frame {frame} COCO point {coco}: ours {k:?}, expected {expected:?}"
    );
}

#[test]
fn eval_pose_files_map_to_coco_wholebody_by_point_name() {
    // (component, point name, COCO-WholeBody index) for each layout, from the layouts' own names.
    let holistic = [
        ("POSE_LANDMARKS", "NOSE", 0),
        ("POSE_LANDMARKS", "LEFT_SHOULDER", 5),
        ("POSE_LANDMARKS", "RIGHT_WRIST", 10),
        ("POSE_LANDMARKS", "LEFT_HIP", 11),
        ("POSE_LANDMARKS", "RIGHT_HEEL", 22),
        ("LEFT_HAND_LANDMARKS", "WRIST", 91),
        ("LEFT_HAND_LANDMARKS", "PINKY_TIP", 111),
        ("RIGHT_HAND_LANDMARKS", "THUMB_TIP", 116),
    ];
    let reduced_holistic = [
        ("POSE_LANDMARKS", "LEFT_SHOULDER", 5),
        ("POSE_LANDMARKS", "RIGHT_ELBOW", 8),
        ("LEFT_HAND_LANDMARKS", "INDEX_FINGER_TIP", 99),
        ("RIGHT_HAND_LANDMARKS", "WRIST", 112),
    ];
    let openpose = [
        ("pose_keypoints_2d", "Nose", 0),
        ("pose_keypoints_2d", "LEye", 1),
        ("pose_keypoints_2d", "LShoulder", 5),
        ("pose_keypoints_2d", "RWrist", 10),
        ("pose_keypoints_2d", "RHeel", 22),
        ("face_keypoints_2d", "FB_8", 31),
        ("hand_left_keypoints_2d", "BASE", 91),
        ("hand_right_keypoints_2d", "P_DIP", 132),
    ];
    let coco = [
        ("BODY", "left_wrist", 9),
        ("BODY", "right_small_toe", 21),
        ("FACE", "face-0", 23),
        ("LEFT_HAND", "left_hand_0", 91),
        ("RIGHT_HAND", "right_hand_20", 132),
    ];
    for path in eval_pose_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let checks: &[(&str, &str, usize)] = if name.contains("openpose") {
            &openpose
        } else if name.contains("cocowholebody133") {
            &coco
        } else if name.starts_with("sgg_") {
            &reduced_holistic
        } else {
            &holistic
        };
        let seq = read_pose_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let peer = pose_peer(&["read-pose", path_str(&path)]);
        assert_eq!(seq.width as u64, peer["width"].as_u64().unwrap(), "{name}");
        assert_eq!(seq.fps as f32, peer["fps"].as_f64().unwrap() as f32);
        assert_eq!(seq.frames.len() as u64, peer["shape"][0].as_u64().unwrap());
        for frame in &seq.frames {
            assert_eq!(frame.keypoints_in_image.len(), NUM_KEYPOINTS, "{name}");
        }
        for t in [0, seq.frames.len() / 2, seq.frames.len() - 1] {
            for &(component, point, coco_index) in checks {
                let expected = peer_point(&peer, t, point_index(&peer, component, point));
                assert_point(&seq, t, coco_index, expected);
            }
        }
        assert!((seq.frames[1].time - 1.0 / seq.fps).abs() < 1e-9);
    }
}

fn football_sequence() -> PoseSequence {
    read_pose_file_with(
        &poses_dir().join("ase_FOOTBALL.mmpose_wholebody.json"),
        &PoseReadOptions {
            frame_size: Some((640, 360)),
            fps: Some(29.97),
        },
    )
    .unwrap()
}

#[test]
fn mmpose_json_reads_as_python_parses_it() {
    let path = poses_dir().join("ase_FOOTBALL.mmpose_wholebody.json");
    let seq = football_sequence();
    let peer = pose_peer(&["mmpose", path_str(&path)]);
    let frames = peer.as_array().unwrap();
    assert_eq!(seq.frames.len(), frames.len());
    assert_eq!((seq.width, seq.height), (640, 360));
    for (ours, theirs) in seq.frames.iter().zip(frames) {
        for (i, k) in ours.keypoints_in_image.iter().enumerate() {
            let xy = &theirs["keypoints"][i];
            assert_eq!(k.x, xy[0].as_f64().unwrap() as f32);
            assert_eq!(k.y, xy[1].as_f64().unwrap() as f32);
            assert_eq!(k.score, theirs["scores"][i].as_f64().unwrap() as f32);
        }
    }
    // Without the frame size it is a clear error naming the file.
    let err = read_pose_file(&path).unwrap_err().to_string();
    assert!(
        err.contains(path_str(&path)) && err.contains("frame size"),
        "{err}"
    );
}

#[test]
fn written_pose_file_reads_in_pose_format_with_the_same_values() {
    let seq = football_sequence();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("football.pose");
    write_pose_file(&out, &seq).unwrap();

    let peer = pose_peer(&["read-pose", path_str(&out)]);
    assert_eq!(peer["version"].as_f64().unwrap() as f32, 0.2);
    assert_eq!(peer["shape"], serde_json::json!([62, 1, 133, 2]));
    assert_eq!(peer["fps"].as_f64().unwrap() as f32, 29.97f32);
    assert_eq!(
        (peer["width"].as_u64(), peer["height"].as_u64()),
        (Some(640), Some(360))
    );
    let data = f32s(&peer["data"]);
    let conf = f32s(&peer["confidence"]);
    let ours_xy: Vec<f32> = seq
        .frames
        .iter()
        .flat_map(|f| f.keypoints_in_image.iter().flat_map(|k| [k.x, k.y]))
        .collect();
    let ours_conf: Vec<f32> = seq
        .frames
        .iter()
        .flat_map(|f| f.keypoints_in_image.iter().map(|k| k.score))
        .collect();
    assert_same_f32(&ours_xy, &data, "data");
    assert_same_f32(&ours_conf, &conf, "confidence");
    // Same component layout as MMPose's own pose-format export of this clip.
    let reference = pose_peer(&[
        "read-pose",
        path_str(&poses_dir().join("ase_FOOTBALL.cocowholebody133.pose")),
    ]);
    for (ours, theirs) in peer["components"]
        .as_array()
        .unwrap()
        .iter()
        .zip(reference["components"].as_array().unwrap())
    {
        assert_eq!(ours["name"], theirs["name"]);
        assert_eq!(ours["points"], theirs["points"]);
        assert_eq!(ours["limbs"], theirs["limbs"]);
    }
    // And our reader gives back what we wrote.
    let back = read_pose_file(&out).unwrap();
    assert_eq!(back.frames.len(), seq.frames.len());
    for (a, b) in back.frames.iter().zip(&seq.frames) {
        assert_eq!(a.keypoints_in_image, b.keypoints_in_image);
    }
}

/// `raw.keypoints` (T, 1, 133, 2) f64 and `raw.scores` (T, 1, 133) f32 from the parity fixture.
fn parity_raw() -> (Vec<f64>, Vec<f32>) {
    let bytes =
        std::fs::read(shared_dir().join("reference/parity/inputs_football.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let k = st.tensor("raw.keypoints").unwrap();
    assert_eq!(k.shape(), &[62, 1, 133, 2]);
    let s = st.tensor("raw.scores").unwrap();
    assert_eq!(s.shape(), &[62, 1, 133]);
    let keypoints = k
        .data()
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let scores = s
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (keypoints, scores)
}

fn assert_pkl_equals_parity(path: &Path) {
    let (keypoints, scores) = parity_raw();
    let poses = read_unisign_pkl_file(path).unwrap();
    let ours_k: Vec<f64> = poses
        .keypoints_normalized
        .iter()
        .flatten()
        .flat_map(|p| *p)
        .collect();
    let ours_s: Vec<f32> = poses.scores.iter().flatten().copied().collect();
    assert_eq!(ours_k, keypoints, "{}", path.display());
    assert_eq!(ours_s, scores, "{}", path.display());
}

#[test]
fn unisign_pkl_reads_as_the_parity_fixture() {
    let pkl = shared_dir().join("eval-media/unisign_pkl/ase_FOOTBALL.unisign.pkl");
    assert_pkl_equals_parity(&pkl);
    // In pixels through the common entry point.
    let (keypoints, scores) = parity_raw();
    let opts = PoseReadOptions {
        frame_size: Some((640, 360)),
        fps: None,
    };
    let seq = read_pose_file_with(&pkl, &opts).unwrap();
    assert_eq!(seq.fps, keypoints::DEFAULT_FPS);
    for (t, frame) in seq.frames.iter().enumerate() {
        for (i, k) in frame.keypoints_in_image.iter().enumerate() {
            let at = (t * 133 + i) * 2;
            assert_eq!(k.x, (keypoints[at] * 640.0) as f32);
            assert_eq!(k.y, (keypoints[at + 1] * 360.0) as f32);
            assert_eq!(k.score, scores[t * 133 + i]);
        }
    }
    // Python pickles of every protocol the demo's pickle.dump may use.
    let dir = tempfile::tempdir().unwrap();
    for protocol in ["2", "3", "4", "5"] {
        let out = dir.path().join(format!("p{protocol}.pkl"));
        pose_peer(&["repickle", path_str(&pkl), path_str(&out), protocol]);
        assert_pkl_equals_parity(&out);
    }
}

#[test]
fn written_pkl_loads_in_python_with_the_unisign_layout() {
    let seq = football_sequence();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("football.pkl");
    write_pose_file(&out, &seq).unwrap();
    let peer = pose_peer(&["load-pkl", path_str(&out)]);
    assert_eq!(peer["keys"], serde_json::json!(["keypoints", "scores"]));
    assert_eq!(
        peer["keypoints_types"],
        serde_json::json!(["ndarray:float64"])
    );
    assert_eq!(peer["scores_types"], serde_json::json!(["ndarray:float32"]));
    assert_eq!(peer["keypoints_shapes"], serde_json::json!(["(1, 133, 2)"]));
    assert_eq!(peer["scores_shapes"], serde_json::json!(["(1, 133)"]));
    let frames = peer["keypoints"].as_array().unwrap();
    assert_eq!(frames.len(), seq.frames.len());
    for (t, frame) in seq.frames.iter().enumerate() {
        for (i, k) in frame.keypoints_in_image.iter().enumerate() {
            let xy = &frames[t][i];
            assert_eq!(xy[0].as_f64().unwrap(), f64::from(k.x) / 640.0);
            assert_eq!(xy[1].as_f64().unwrap(), f64::from(k.y) / 360.0);
            assert_eq!(peer["scores"][t][i].as_f64().unwrap() as f32, k.score);
        }
    }
    // The Python pickle of the file we wrote reads back to the same sequence.
    let back = read_pose_file_with(
        &out,
        &PoseReadOptions {
            frame_size: Some((640, 360)),
            fps: Some(29.97),
        },
    )
    .unwrap();
    for (a, b) in back.frames.iter().zip(&seq.frames) {
        for (p, q) in a.keypoints_in_image.iter().zip(&b.keypoints_in_image) {
            assert!((p.x - q.x).abs() <= 1e-4 && (p.y - q.y).abs() <= 1e-4);
            assert_eq!(p.score, q.score);
        }
    }
}

#[test]
fn json_round_trips_and_has_the_documented_fields() {
    let seq = football_sequence();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("football.json");
    write_pose_file(&out, &seq).unwrap();
    let value: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(value["width"], 640);
    assert_eq!(value["height"], 360);
    assert_eq!(value["frames"].as_array().unwrap().len(), 62);
    assert_eq!(
        value["frames"][3]["keypoints"].as_array().unwrap().len(),
        133
    );
    assert_eq!(
        value["frames"][3]["keypoints"][9].as_array().unwrap().len(),
        3
    );
    let back = read_pose_file(&out).unwrap();
    assert!(
        back == seq,
        "the JSON file did not read back to what was written"
    );
}

#[test]
fn bad_pose_files_give_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(poses_dir().join("ase_FOOTBALL.cocowholebody133.pose")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.pose", Vec::new(), "empty"),
        (
            "truncated.pose",
            good[..good.len() / 2].to_vec(),
            "truncated",
        ),
        ("header_only.pose", good[..40].to_vec(), "truncated"),
        ("text.pose", b"hello, not a pose".to_vec(), ""),
        ("garbage.pkl", b"\x80\x04garbage".to_vec(), "pickle"),
        ("list.pkl", b"\x80\x04]\x94.".to_vec(), "keypoints"),
        ("bad.json", b"{\"width\": 3".to_vec(), "JSON"),
        ("wrong.json", b"{\"a\": 1}".to_vec(), "pose JSON"),
    ];
    for (name, bytes, needle) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = read_pose_file(&path).unwrap_err();
        assert!(
            matches!(err, PoseFileError::Format { .. }),
            "{name}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.starts_with(path_str(&path)), "{msg}");
        assert!(msg.contains(needle), "{name}: {msg}");
    }
    let missing = dir.path().join("missing.pose");
    let msg = read_pose_file(&missing).unwrap_err().to_string();
    assert!(
        msg.contains("missing.pose") && msg.contains("No such file"),
        "{msg}"
    );
    let unknown = dir.path().join("x.csv");
    let msg = write_pose_file(&unknown, &football_sequence())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("x.csv") && msg.contains("unknown pose file type"),
        "{msg}"
    );
}
