//! The RTMW backend against rtmlib itself (PyPI, the library Uni-Sign vendors): both run the same
//! small ONNX models (tests/python/make_rtmw_test_models.py: the real models' signatures, outputs
//! computed from the input) on the same real frames, and must agree.
//!
//! What must hold, and why these tolerances:
//! * the detector and pose-model inputs are **bit-identical** to rtmlib's (its letterbox through
//!   `cv2.resize` and its crop through `cv2.warpAffine`): any difference is a bug;
//! * with identical inputs, ONNX Runtime 1.31.1 on both sides gives identical outputs, so the only
//!   remaining differences are float rounding in the box and keypoint arithmetic (float32 vs float64
//!   order, `exp` in the raw head): under 1e-4 px for frames this size. Boxes, centres and
//!   keypoints must agree within 1e-3 px and scores within 1e-6, far below one SimCC bin (0.5 crop
//!   pixels, several image pixels here), so a decoding error cannot hide.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use signcap_engine::keypoints::NUM_KEYPOINTS;
use signcap_engine::pose::rtmw::{self, PersonBox, RgbImage, RtmwEstimator};
use signcap_engine::pose::{PoseBackendKind, PoseConfig, PoseEstimator};
use signcap_engine::source::Frame;
use signcap_tests::{repo_root, shared_dir};

const POSITION_TOLERANCE_PX: f64 = 1e-3;
const SCORE_TOLERANCE: f64 = 1e-6;

fn python() -> PathBuf {
    std::env::var_os("SIGNCAP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

fn ort_library() -> PathBuf {
    std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("third_party/onnxruntime/libonnxruntime.so.1.31.1"))
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Frame `index` of `video` as a PNG, decoded once by ffmpeg so both sides read the same pixels.
fn extract_frame(video: &Path, index: u32, png: &Path) {
    run(
        Command::new("ffmpeg").args([
            "-v".as_ref(),
            "error".as_ref(),
            "-nostdin".as_ref(),
            "-y".as_ref(),
            "-i".as_ref(),
            video.as_os_str(),
            "-vf".as_ref(),
            format!("select=eq(n\\,{index})").as_ref(),
            "-frames:v".as_ref(),
            "1".as_ref(),
            png.as_os_str(),
        ]),
        "ffmpeg frame extraction",
    );
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn assert_bit_identical(ours: &[f32], theirs: &[f32], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: tensor sizes differ");
    let mismatches: Vec<usize> = (0..ours.len())
        .filter(|&i| ours[i].to_bits() != theirs[i].to_bits())
        .collect();
    assert!(
        mismatches.is_empty(),
        "{what}: {} of {} values differ from rtmlib, first at {}: ours {} vs rtmlib {}",
        mismatches.len(),
        ours.len(),
        mismatches[0],
        ours[mismatches[0]],
        theirs[mismatches[0]]
    );
}

fn numbers(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect()
}

fn assert_close(ours: f64, theirs: f64, tolerance: f64, what: &str) {
    assert!(
        (ours - theirs).abs() <= tolerance,
        "{what}: ours {ours} vs rtmlib {theirs} (tolerance {tolerance})"
    );
}

struct Job {
    name: String,
    image: PathBuf,
    det_model: PathBuf,
}

#[test]
fn rtmw_backend_matches_rtmlib_on_real_frames() {
    let videos = shared_dir().join("eval-media/videos");
    let work = tempfile::tempdir().expect("tempdir");
    let models = work.path().join("models");
    let script_dir = repo_root().join("tests/python");
    run(
        Command::new(python())
            .arg(script_dir.join("make_rtmw_test_models.py"))
            .arg(&models),
        "make_rtmw_test_models.py (needs the peers: scripts/setup.sh --peers)",
    );

    // A 640x360 frame (the letterbox shrinks it) and a 320x240 one (it grows it).
    let football = work.path().join("football.png");
    let house = work.path().join("house.png");
    extract_frame(&videos.join("ase_FOOTBALL.mp4"), 30, &football);
    extract_frame(&videos.join("ase_HOUSE.mp4"), 30, &house);
    let jobs: Vec<Job> = [
        ("football_nms", &football, "det_nms.onnx"),
        ("football_raw", &football, "det_raw.onnx"),
        ("football_empty", &football, "det_empty.onnx"),
        ("house_nms", &house, "det_nms.onnx"),
        ("house_raw", &house, "det_raw.onnx"),
    ]
    .into_iter()
    .map(|(name, image, det)| Job {
        name: name.to_string(),
        image: image.clone(),
        det_model: models.join(det),
    })
    .collect();
    let pose_model = models.join("pose.onnx");

    let jobs_json = serde_json::Value::Array(
        jobs.iter()
            .map(|job| {
                serde_json::json!({
                    "name": job.name,
                    "image": job.image,
                    "det_model": job.det_model,
                    "pose_model": pose_model,
                })
            })
            .collect(),
    );
    let jobs_path = work.path().join("jobs.json");
    std::fs::write(&jobs_path, jobs_json.to_string()).expect("write jobs");
    let reference = work.path().join("reference");
    run(
        Command::new(python())
            .arg(script_dir.join("rtmlib_reference.py"))
            .arg(&jobs_path)
            .arg(&reference),
        "rtmlib_reference.py (needs rtmlib and onnxruntime: scripts/setup.sh --peers)",
    );

    let mut saw_fallback = false;
    let mut saw_non_positive_score = false;
    for job in &jobs {
        let rgb = image::open(&job.image)
            .unwrap_or_else(|e| panic!("{}: {e}", job.image.display()))
            .to_rgb8();
        let (width, height) = rgb.dimensions();
        let frame = Frame {
            index: 30,
            time: 1.0,
            captured_at: Instant::now(),
            width,
            height,
            rgb: Arc::new(rgb.into_raw()),
        };
        let config = PoseConfig {
            backend: PoseBackendKind::Rtmw,
            rtmw_model: Some(pose_model.clone()),
            det_model: Some(job.det_model.clone()),
            ort_library: Some(ort_library()),
            ..PoseConfig::default()
        };
        let mut estimator = RtmwEstimator::new(&config).expect("load the test models");
        let pose = estimator.estimate(&frame).expect("estimate");
        let person = estimator.last_person_box().expect("a box was used");
        let image = RgbImage {
            rgb: &frame.rgb,
            width: width as usize,
            height: height as usize,
        };

        let name = &job.name;
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(reference.join(format!("{name}.json"))).expect("reference"),
        )
        .expect("reference json");

        // Detector input: the letterboxed frame, bit for bit.
        let ours = rtmw::detector_input(image, estimator.detector_input_size());
        assert_close(
            ours.ratio,
            expected["ratio"].as_f64().expect("ratio"),
            0.0,
            &format!("{name} letterbox ratio"),
        );
        assert_bit_identical(
            &ours.tensor_nchw,
            &read_f32(&reference.join(format!("{name}.det_input.f32"))),
            &format!("{name} detector input"),
        );

        // The chosen box (largest of rtmlib's boxes), or the full frame.
        match expected["box"].as_array() {
            None => {
                saw_fallback = true;
                assert_eq!(
                    person,
                    PersonBox::full_image(width as usize, height as usize),
                    "{name}: rtmlib found no box, so the full frame must be used"
                );
            }
            Some(_) => {
                for (i, (o, t)) in person
                    .xyxy_in_image
                    .iter()
                    .zip(numbers(&expected["box"]))
                    .enumerate()
                {
                    assert_close(*o, t, POSITION_TOLERANCE_PX, &format!("{name} box[{i}]"));
                }
            }
        }

        // Pose input: the affine crop, normalised, bit for bit.
        let crop = rtmw::pose_input(image, &person, estimator.pose_input_size());
        assert_bit_identical(
            &crop.tensor_nchw,
            &read_f32(&reference.join(format!("{name}.pose_input.f32"))),
            &format!("{name} pose input"),
        );
        for (axis, (o, t)) in crop
            .center_in_image
            .iter()
            .zip(numbers(&expected["center"]))
            .chain(crop.scale_in_image.iter().zip(numbers(&expected["scale"])))
            .enumerate()
        {
            assert_close(
                *o,
                t,
                POSITION_TOLERANCE_PX,
                &format!("{name} centre/scale[{axis}]"),
            );
        }

        // Keypoints and scores.
        let keypoints = expected["keypoints"].as_array().expect("keypoints");
        let scores = numbers(&expected["scores"]);
        assert_eq!(keypoints.len(), NUM_KEYPOINTS);
        assert_eq!(pose.keypoints_in_image.len(), NUM_KEYPOINTS);
        let (mut worst_position, mut worst_score) = (0f64, 0f64);
        for (k, ours) in pose.keypoints_in_image.iter().enumerate() {
            let xy = numbers(&keypoints[k]);
            worst_position = worst_position
                .max((ours.x as f64 - xy[0]).abs())
                .max((ours.y as f64 - xy[1]).abs());
            worst_score = worst_score.max((ours.score as f64 - scores[k]).abs());
            assert_close(
                ours.x as f64,
                xy[0],
                POSITION_TOLERANCE_PX,
                &format!("{name} keypoint {k} x"),
            );
            assert_close(
                ours.y as f64,
                xy[1],
                POSITION_TOLERANCE_PX,
                &format!("{name} keypoint {k} y"),
            );
            assert_close(
                ours.score as f64,
                scores[k],
                SCORE_TOLERANCE,
                &format!("{name} keypoint {k} score"),
            );
            saw_non_positive_score |= scores[k] <= 0.0;
        }
        eprintln!(
            "{name}: inputs bit-identical; largest keypoint difference {worst_position:.2e} px, \
             score difference {worst_score:.2e}"
        );
        assert_eq!(pose.time, frame.time);
        let stages: Vec<&str> = estimator
            .last_stage_ms()
            .iter()
            .map(|(stage, _)| *stage)
            .collect();
        assert!(
            stages.contains(&"detector_run") && stages.contains(&"pose_run"),
            "{name}: stage timings missing: {stages:?}"
        );
    }
    // The models were built to exercise these paths; make sure they did.
    assert!(saw_fallback, "no job exercised the full-frame fallback");
    assert!(
        saw_non_positive_score,
        "no keypoint exercised rtmlib's score <= 0 rule"
    );
}

#[test]
fn missing_model_files_are_named_in_the_error() {
    let work = tempfile::tempdir().expect("tempdir");
    let missing = work.path().join("no-such-rtmw.onnx");
    let config = PoseConfig {
        backend: PoseBackendKind::Rtmw,
        rtmw_model: Some(missing.clone()),
        det_model: Some(missing.clone()),
        ort_library: Some(ort_library()),
        ..PoseConfig::default()
    };
    let message = match signcap_engine::pose::create_estimator(&config) {
        Ok(_) => panic!("a missing model must be an error"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.contains("no-such-rtmw.onnx") && message.contains("not found"),
        "unhelpful error: {message}"
    );

    let unset = PoseConfig {
        backend: PoseBackendKind::Rtmw,
        ..PoseConfig::default()
    };
    let message = match signcap_engine::pose::create_estimator(&unset) {
        Ok(_) => panic!("unset model paths must be an error"),
        Err(e) => e.to_string(),
    };
    assert!(message.contains("det_model"), "unhelpful error: {message}");
}
