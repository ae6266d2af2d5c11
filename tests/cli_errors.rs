//! The real `signcap` binary on bad input: every case gives exactly one clear error line that
//! names the file, and a non-zero exit, never a panic.
//!
//! Registered in app/Cargo.toml so that Cargo builds the binary and sets `CARGO_BIN_EXE_signcap`.

use std::path::{Path, PathBuf};
use std::process::Command;

use signcap_tests::media::{path_str, run_tool};
use signcap_tests::shared_dir;

fn signcap() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signcap"));
    cmd.env_remove("RUST_LOG").env_remove("RUST_BACKTRACE");
    cmd
}

/// Runs `cmd` and checks the contract: exit code 1, nothing on stdout, one `error:` line on
/// stderr that contains `needle`.
fn assert_one_clear_error(mut cmd: Command, needle: &str) -> String {
    let out = cmd.output().expect("run signcap");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(out.status.code(), Some(1), "exit status; stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert_eq!(lines.len(), 1, "exactly one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(needle), "should name {needle}: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    lines[0].to_string()
}

fn pose_cmd(video: &Path, output: &Path) -> Command {
    let mut cmd = signcap();
    cmd.arg("pose").arg(video).arg("-o").arg(output);
    cmd
}

fn good_clip() -> PathBuf {
    shared_dir().join("eval-media/videos/ase_HOUSE.mp4")
}

#[test]
fn bad_videos_give_one_error_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.pose");
    let football = std::fs::read(shared_dir().join("eval-media/videos/ase_FOOTBALL.mp4")).unwrap();
    let mut noise = vec![0u8; 100_000];
    let mut x = 0x9e37_79b9_u32;
    for b in &mut noise {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = (x >> 7) as u8;
    }
    let files: Vec<(&str, Vec<u8>, &str)> = vec![
        ("corrupt.mp4", noise, "not a readable video"),
        (
            "truncated.mp4",
            football[..football.len() / 3].to_vec(),
            "truncated",
        ),
        ("empty.mp4", Vec::new(), "empty"),
        (
            "notes.mp4",
            b"shopping list\n".repeat(100),
            "not a readable video",
        ),
    ];
    for (name, bytes, reason) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let line = assert_one_clear_error(pose_cmd(&path, &out), path_str(&path));
        assert!(line.contains(reason), "{line}");
    }
    let wav = dir.path().join("speech.wav");
    run_tool(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1",
            path_str(&wav),
        ],
    );
    let line = assert_one_clear_error(pose_cmd(&wav, &out), path_str(&wav));
    assert!(line.contains("no video stream"), "{line}");
    let missing = dir.path().join("missing.mp4");
    let line = assert_one_clear_error(pose_cmd(&missing, &out), path_str(&missing));
    assert!(line.contains("no such file"), "{line}");
    assert!(!out.exists(), "no output for failed runs");
}

#[test]
fn missing_model_file_gives_one_error_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("rtmw-x.onnx");
    let det = dir.path().join("yolox.onnx");
    std::fs::write(&det, b"placeholder: exists").unwrap();
    let mut cmd = pose_cmd(&good_clip(), &dir.path().join("out.pkl"));
    cmd.args(["--pose-backend", "rtmw", "--pose-model"])
        .arg(&model)
        .arg("--det-model")
        .arg(&det);
    let line = assert_one_clear_error(cmd, path_str(&model));
    assert!(line.contains("model file not found"), "{line}");
}

#[test]
fn missing_onnx_runtime_gives_one_error_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("libonnxruntime.so.1.31.1");
    let mut cmd = pose_cmd(&good_clip(), &dir.path().join("out.pose"));
    cmd.env("ORT_DYLIB_PATH", &lib);
    let line = assert_one_clear_error(cmd, path_str(&lib));
    assert!(line.contains("ONNX Runtime"), "{line}");
}

#[test]
fn missing_ffmpeg_and_bad_output_type_give_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = pose_cmd(&good_clip(), &dir.path().join("out.pose"));
    cmd.env("SIGNCAP_FFPROBE", "/nonexistent/ffprobe");
    let line = assert_one_clear_error(cmd, path_str(&good_clip()));
    assert!(line.contains("install FFmpeg"), "{line}");

    let csv = dir.path().join("out.csv");
    assert_one_clear_error(pose_cmd(&good_clip(), &csv), path_str(&csv));
}
