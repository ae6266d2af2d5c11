#!/usr/bin/env bash
# Installs what signcap needs on a fresh Debian 12 machine (run as root). Idempotent and quick
# the second time: every step checks before it works.
#   scripts/setup.sh            system packages + ONNX Runtime
#   scripts/setup.sh --peers    also the Python peers the tests compare against (.venv-peers)
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.31.1
APT_PACKAGES=(pkg-config libclang-dev nasm ffmpeg xvfb xauth imagemagick
  libvulkan1 mesa-vulkan-drivers libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri
  libx11-6 libx11-xcb1 libxcursor1 libxrandr2 libxi6 libxkbcommon0 libxkbcommon-x11-0)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ONNX Runtime: the shared library inside the PyPI wheel (Debian has no package).
ORT_DIR=third_party/onnxruntime
if [ ! -f "$ORT_DIR/libonnxruntime.so.$ORT_VERSION" ]; then
  echo "setup: fetching ONNX Runtime $ORT_VERSION"
  mkdir -p "$ORT_DIR"
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --python-version 3.11 "onnxruntime==$ORT_VERSION" -d "$tmp"
  unzip -q -j -o "$tmp"/onnxruntime-*.whl 'onnxruntime/capi/libonnxruntime.so*' -d "$ORT_DIR"
  rm -rf "$tmp"
fi

if [ "${1:-}" = "--peers" ]; then
  if [ ! -f .venv-peers/.ok ] || ! cmp -s tools/requirements-peers.txt .venv-peers/.ok; then
    echo "setup: installing Python peers into .venv-peers"
    python3 -m venv .venv-peers
    .venv-peers/bin/pip install -q --disable-pip-version-check -r tools/requirements-peers.txt
    cp tools/requirements-peers.txt .venv-peers/.ok
  fi
  tools/fetch_sentencepiece_testdata.sh
fi
