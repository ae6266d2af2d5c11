//! `signcap caption` end to end with the tiny parity checkpoint: each segment's caption equals
//! `signcap translate` of the same frames, the CSL prompt gives the official ids, and the SRT and
//! WebVTT files read back in the Python `srt` and `webvtt-py` peers with the same times and text.
//! Errors in the model files give one line in the user's terms.
//!
//! Registered in app/Cargo.toml so that Cargo builds the binary and sets `CARGO_BIN_EXE_signcap`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use signcap_tests::shared_dir;

fn signcap() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signcap"));
    cmd.env_remove("RUST_LOG")
        .env_remove("SIGNCAP_CHECKPOINT")
        .env_remove("SIGNCAP_MT5")
        .env("SIGNCAP_CONFIG", "/nonexistent/signcap-settings.toml");
    cmd
}

fn parity() -> PathBuf {
    shared_dir().join("reference/parity")
}

fn model_args(cmd: &mut Command) -> &mut Command {
    cmd.arg("--checkpoint")
        .arg(parity().join("tiny_unisign_bf16.pth"))
        .arg("--mt5")
        .arg(parity().join("tiny-mt5"))
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run signcap");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn ids(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

/// Captions `input` into `out` (the extension picks the format) with the tiny checkpoint.
fn caption(input: &Path, out: &Path, extra: &[&str]) {
    let mut cmd = signcap();
    cmd.arg("caption").arg(input).arg("-o").arg(out).args(extra);
    run_ok(model_args(&mut cmd));
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn each_caption_equals_translate_of_its_frames_and_the_files_read_back_in_the_peers() {
    let dir = tempfile::tempdir().unwrap();
    let video = shared_dir().join("eval-media/videos/ase_what-is-your-name_25fps.mp4");
    let keypoints = dir.path().join("keypoints.pose");
    let json = dir.path().join("captions.json");
    caption(&video, &json, &["--keypoints", keypoints.to_str().unwrap()]);
    let document = read_json(&json);
    let segments = document["segments"].as_array().unwrap();
    assert!(!segments.is_empty(), "{document}");
    for segment in segments {
        let frames = ids(&segment["frames"]);
        let mut cmd = signcap();
        cmd.arg("translate")
            .arg(dir.path().join("keypoints.pose"))
            .arg("--frames")
            .arg(format!("{}:{}", frames[0], frames[1]))
            .args(["--format", "json"]);
        let translated: Value = serde_json::from_str(&run_ok(model_args(&mut cmd))).unwrap();
        assert_eq!(ids(&segment["ids"]), ids(&translated["ids"]), "{segment}");
        assert_eq!(segment["text"], translated["text"], "{segment}");
        let confidence = segment["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&confidence), "{segment}");
    }

    // The caption files (from the saved keypoints, which skips the pose stage), read by the
    // Python peers: same cues, same times (to the millisecond), same text as the JSON.
    let json = dir.path().join("from-keypoints.json");
    caption(&keypoints, &json, &[]);
    let document = read_json(&json);
    let segments = document["segments"].as_array().unwrap();
    caption(&keypoints, &dir.path().join("captions.srt"), &[]);
    caption(&keypoints, &dir.path().join("captions.vtt"), &[]);
    let parsed: Value = serde_json::from_slice(&signcap_tests::run_peer(
        "captions_peer.py",
        &[
            dir.path().join("captions.srt").as_os_str(),
            dir.path().join("captions.vtt").as_os_str(),
        ],
    ))
    .unwrap();
    for kind in ["srt", "vtt"] {
        let cues = parsed[kind].as_array().unwrap();
        assert_eq!(cues.len(), segments.len(), "{kind}: {parsed}");
        for (cue, segment) in cues.iter().zip(segments) {
            for key in ["start", "end"] {
                let want = segment[key].as_f64().unwrap();
                let got = cue[key].as_f64().unwrap();
                assert!(
                    (want - got).abs() <= 0.0005 + 1e-9,
                    "{kind} {key}: {got} vs {want}"
                );
            }
            let text = segment["text"].as_str().unwrap().trim();
            let want = if text.is_empty() { "…" } else { text };
            assert_eq!(cue["text"].as_str().unwrap(), want, "{kind}");
        }
    }
}

#[test]
fn the_csl_prompt_gives_the_official_ids_in_caption_and_translate() {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(parity().join("expected_football_bf16_zh.json")).unwrap(),
    )
    .unwrap();
    let want = ids(&expected["beam_ids"]);
    let pkl = shared_dir().join("eval-media/unisign_pkl/ase_FOOTBALL.unisign.pkl");

    let mut cmd = signcap();
    cmd.arg("translate")
        .arg(&pkl)
        .args(["--lang", "zh", "--format", "json"]);
    let translated: Value = serde_json::from_str(&run_ok(model_args(&mut cmd))).unwrap();
    assert_eq!(ids(&translated["ids"]), want);
    assert_eq!(translated["prompt_ids"], expected["prompt_ids"]);

    // The clip is one sign: as one segment, the pipeline sees exactly the frames translate saw.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("zh.json");
    caption(&pkl, &out, &["--lang", "zh", "--segments", "whole"]);
    let document = read_json(&out);
    let segments = document["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 1, "{document}");
    assert_eq!(ids(&segments[0]["ids"]), want);
    assert_eq!(ids(&segments[0]["frames"]), vec![0, 61]);
}

#[test]
fn without_a_model_caption_still_writes_the_segments_and_says_how_to_add_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("house.json");
    let output = signcap()
        .arg("caption")
        .arg(shared_dir().join("eval-media/videos/ase_HOUSE.mp4"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let notices: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("no model"))
        .collect();
    assert_eq!(notices.len(), 1, "{stderr}");
    assert!(notices[0].contains("--checkpoint"), "{stderr}");
    let document = read_json(&out);
    let segments = document["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 1, "{document}");
    assert!(segments[0]["text"].is_null());
}

/// Exactly one line on stderr, starting `error:`, containing each of `needles`, and no line of
/// the OS error twice.
fn assert_one_error(cmd: &mut Command, needles: &[&str]) {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for needle in needles {
        assert!(lines[0].contains(needle), "want `{needle}`: {stderr}");
    }
    assert!(
        lines[0].matches("os error").count() <= 1,
        "the OS error is said twice: {stderr}"
    );
}

#[test]
fn bad_model_files_give_one_line_in_the_users_terms() {
    let dir = tempfile::tempdir().unwrap();
    let pose = shared_dir().join("eval-media/poses/ase_FOOTBALL.holistic.pose");
    let mt5 = parity().join("tiny-mt5");
    let translate = |checkpoint: &Path, mt5: &Path| {
        let mut cmd = signcap();
        cmd.arg("translate")
            .arg(&pose)
            .arg("--checkpoint")
            .arg(checkpoint)
            .arg("--mt5")
            .arg(mt5);
        cmd
    };
    let missing = dir.path().join("missing.pth");
    assert_one_error(
        &mut translate(&missing, &mt5),
        &["missing.pth", "no such checkpoint file"],
    );
    // The parity folder holds the checkpoints but is not an mT5 folder.
    assert_one_error(
        &mut translate(&parity().join("tiny_unisign_bf16.pth"), &parity()),
        &["this is not an mT5 folder"],
    );
    let truncated = dir.path().join("truncated.pth");
    let bytes = std::fs::read(parity().join("tiny_unisign_bf16.pth")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    assert_one_error(&mut translate(&truncated, &mt5), &["truncated.pth"]);
    // Caption checks its model before reading the clip.
    let mut cmd = signcap();
    cmd.arg("caption")
        .arg(&pose)
        .arg("-o")
        .arg(dir.path().join("out.srt"))
        .arg("--checkpoint")
        .arg(&missing)
        .arg("--mt5")
        .arg(&mt5);
    assert_one_error(&mut cmd, &["missing.pth", "no such checkpoint file"]);
}
