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
