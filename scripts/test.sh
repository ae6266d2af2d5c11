#!/usr/bin/env bash
# Sets up (idempotent) and runs every check and test: formatting, clippy, the workspace tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --peers
source scripts/env.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
