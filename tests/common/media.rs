//! Helpers for the media and pose-file tests: the Python peers and generated clips.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python interpreter with the peers (`$SIGNCAP_PYTHON`, else `.venv-peers/bin/python`).
/// Panics when it is missing: tests against the peers must not silently pass.
pub fn peer_python() -> PathBuf {
    let python = std::env::var_os("SIGNCAP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join(".venv-peers/bin/python"));
    assert!(
        python.exists(),
        "Python peers not found at {} (run scripts/setup.sh --peers or set SIGNCAP_PYTHON)",
        python.display()
    );
    python
}

/// Runs `tests/python/pose_peer.py` with `args` and parses its JSON output (`Null` when empty).
pub fn pose_peer(args: &[&str]) -> serde_json::Value {
    let script = crate::repo_root().join("tests/python/pose_peer.py");
    let out = Command::new(peer_python())
        .arg(&script)
        .args(args)
        .output()
        .expect("run the Python peer");
    assert!(
        out.status.success(),
        "pose_peer.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(&out.stdout).expect("peer output is JSON")
}

/// Runs a tool (`ffmpeg`, `ffprobe`) and returns its stdout; panics with its stderr on failure.
pub fn run_tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} not runnable: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A path as `&str` for command lines.
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}
