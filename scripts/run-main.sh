#!/usr/bin/env bash
# Sets up (idempotent), builds the release binary and runs the main job on the embedded default
# pose backend: `signcap caption` on a real signing clip. Without model files it still finds the
# signing segments and writes them with the keypoints of every frame; with a model (given by
# $SIGNCAP_CHECKPOINT and $SIGNCAP_MT5) it writes the captions.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
cargo build --release --locked -p signcap
VIDEO="${1:-../shared/eval-media/videos/ase_what-is-your-name_25fps.mp4}"
mkdir -p out
target/release/signcap caption "$VIDEO" -o out/main.srt --keypoints out/main.pose
target/release/signcap caption out/main.pose -o out/main.json
echo "wrote out/main.srt, out/main.json and out/main.pose"
