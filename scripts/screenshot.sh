#!/usr/bin/env bash
# Opens a real clip in the release binary under Xvfb (a real X window, no GPU: Vulkan on
# lavapipe) and saves a screenshot of the screen while the app shows the video with the
# skeleton; the app closes itself through --quit-after.
#   scripts/screenshot.sh [VIDEO] [OUT.png]
# SIGNCAP_BIN=target/debug/signcap uses an existing binary instead of building the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
VIDEO="${1:-${SIGNCAP_SHARED:-../shared}/eval-media/videos/ase_FOOTBALL.mp4}"
OUT="${2:-out/screenshot.png}"
BIN="${SIGNCAP_BIN:-target/release/signcap}"
if [ -z "${SIGNCAP_BIN:-}" ]; then
  cargo build --release --locked -p signcap
fi
mkdir -p "$(dirname "$OUT")"
# Keep the user's settings (recent files) untouched.
SIGNCAP_CONFIG="$(mktemp -d)/settings.toml"
export SIGNCAP_CONFIG
xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" bash -c '
  "$1" --open "$2" --quit-after 10 &
  app=$!
  sleep 8
  import -window root "$3"
  wait "$app"
' screenshot "$BIN" "$VIDEO" "$OUT"
echo "wrote $OUT"
