//! `signcap pose` end to end on a real clip: the written `.pose` reads in pose-format with one
//! frame per decoded frame (ffprobe's count), the video's size and rate, and points on the signer.
//!
//! Registered in app/Cargo.toml so that Cargo builds the binary and sets `CARGO_BIN_EXE_signcap`.

use std::process::Command;

use signcap_tests::media::{path_str, pose_peer, run_tool};
use signcap_tests::shared_dir;

#[test]
fn pose_command_writes_a_pose_file_that_pose_format_reads() {
    let clip = shared_dir().join("eval-media/videos/ase_HOUSE.mp4");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("house.pose");
    let status = Command::new(env!("CARGO_BIN_EXE_signcap"))
        .arg("pose")
        .arg(&clip)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());

    let probe = run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames,width,height,avg_frame_rate",
            "-of",
            "json",
            path_str(&clip),
        ],
    );
    let probe: serde_json::Value = serde_json::from_str(&probe).unwrap();
    let stream = &probe["streams"][0];
    let frames: u64 = stream["nb_read_frames"].as_str().unwrap().parse().unwrap();
    let (num, den) = stream["avg_frame_rate"]
        .as_str()
        .unwrap()
        .split_once('/')
        .unwrap();
    let fps = num.parse::<f64>().unwrap() / den.parse::<f64>().unwrap();

    let peer = pose_peer(&["read-pose", path_str(&out)]);
    assert_eq!(peer["shape"], serde_json::json!([frames, 1, 133, 2]));
    assert_eq!(peer["width"], stream["width"]);
    assert_eq!(peer["height"], stream["height"]);
    assert_eq!(peer["fps"].as_f64().unwrap() as f32, fps as f32);
    // The signer's face is in the picture: its confident points lie inside the frame (hands
    // and wrists may rest below the bottom edge).
    let (w, h) = (
        peer["width"].as_f64().unwrap(),
        peer["height"].as_f64().unwrap(),
    );
    let data = peer["data"].as_array().unwrap();
    let conf = peer["confidence"].as_array().unwrap();
    let mut confident = 0;
    for (i, c) in conf.iter().enumerate() {
        let point = i % 133;
        if (point == 0 || (23..91).contains(&point)) && c.as_f64().unwrap() > 0.5 {
            confident += 1;
            let (x, y) = (
                data[2 * i].as_f64().unwrap(),
                data[2 * i + 1].as_f64().unwrap(),
            );
            assert!(
                (0.0..w).contains(&x) && (0.0..h).contains(&y),
                "point {point}: {x}, {y}"
            );
        }
    }
    let face_points = frames as usize * 69;
    assert!(
        confident > face_points / 2,
        "{confident} of {face_points} face points confident"
    );
}

/// `signcap translate VIDEO` runs the pose stage itself: its result equals translating the
/// `.pose` file `signcap pose` writes for the same clip, and it uses every decoded frame.
#[test]
fn translate_on_a_video_equals_translate_on_its_pose_file() {
    let clip = shared_dir().join("eval-media/videos/ase_HOUSE.mp4");
    let parity = shared_dir().join("reference/parity");
    let dir = tempfile::tempdir().unwrap();
    let pose_file = dir.path().join("house.pose");
    let signcap = env!("CARGO_BIN_EXE_signcap");
    let status = Command::new(signcap)
        .args(["pose", path_str(&clip), "-o", path_str(&pose_file)])
        .status()
        .unwrap();
    assert!(status.success());
    let translate = |input: &std::path::Path| -> serde_json::Value {
        let out = Command::new(signcap)
            .arg("translate")
            .arg(input)
            .arg("--checkpoint")
            .arg(parity.join("tiny_unisign_f32.pth"))
            .arg("--mt5")
            .arg(parity.join("tiny-mt5"))
            .args(["--beams", "2", "--max-new-tokens", "12", "--format", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let from_video = translate(&clip);
    let from_pose_file = translate(&pose_file);
    assert_eq!(from_video["ids"], from_pose_file["ids"]);
    assert_eq!(from_video["text"], from_pose_file["text"]);
    let peer = pose_peer(&["read-pose", path_str(&pose_file)]);
    assert_eq!(
        from_video["frame_indices"].as_array().unwrap().len() as u64,
        peer["shape"][0].as_u64().unwrap()
    );
}
