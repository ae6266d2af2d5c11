#!/usr/bin/env bash
# Sets up (idempotent), builds the release binary and runs the main job on the embedded default
# pose backend: whole-body keypoints of a real signing clip, written as .pose and .json.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
cargo build --release --locked -p signcap
VIDEO="${1:-../shared/eval-media/videos/ase_FOOTBALL.mp4}"
mkdir -p out
target/release/signcap pose "$VIDEO" -o out/main.pose
target/release/signcap pose "$VIDEO" -o out/main.json
echo "wrote out/main.pose and out/main.json"
