//! Shared helpers for the integration tests: where the reference material lives.

pub mod media;

use std::path::PathBuf;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shared reference folder (`../shared` beside the checkout, or `$SIGNCAP_SHARED`).
/// Panics with a clear message when it is missing: these tests must not silently pass.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("SIGNCAP_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared"));
    assert!(
        dir.join("reference").is_dir(),
        "reference material not found at {} (set SIGNCAP_SHARED)",
        dir.display()
    );
    dir
}

/// The Python interpreter of the peers (`$SIGNCAP_PYTHON`, else `.venv-peers/bin/python`).
pub fn peer_python() -> PathBuf {
    std::env::var_os("SIGNCAP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv-peers/bin/python"))
}

/// Runs a Python peer script from tools/peers with arguments and returns its stdout.
/// Panics with the script's stderr when it fails: a missing peer must fail the test.
pub fn run_peer(script: &str, args: &[&std::ffi::OsStr]) -> Vec<u8> {
    let python = peer_python();
    let path = repo_root().join("tools/peers").join(script);
    let output = std::process::Command::new(&python)
        .arg(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} {}: {e}", python.display(), path.display()));
    assert!(
        output.status.success(),
        "{} failed: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}
