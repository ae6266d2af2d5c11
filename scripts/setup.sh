#!/usr/bin/env bash
# Installs what signcap needs on a fresh Debian 12 machine (run as root). Idempotent and quick
# the second time: every step checks before it works.
#   scripts/setup.sh            system packages + ONNX Runtime
#   scripts/setup.sh --peers    also the Python peers the tests compare against (.venv-peers)
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.31.1
APT_PACKAGES=(unzip python3-pip python3-venv ca-certificates pkg-config libclang-dev nasm ffmpeg xvfb xauth imagemagick
  libvulkan1 mesa-vulkan-drivers libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri
  libx11-6 libx11-xcb1 libxcursor1 libxrandr2 libxi6 libxkbcommon0 libxkbcommon-x11-0)

# The toolchain is not installed here (rustup is the way); say so in one line when it is missing
# or older than the project's rust-version.
need_rust=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
have_rust=$(cargo --version 2>/dev/null | sed -n 's/^cargo \([0-9.]*\).*/\1/p')
if [ -z "$have_rust" ]; then
  echo "setup: cargo not found; install Rust $need_rust or newer with https://rustup.rs (curl https://sh.rustup.rs -sSf | sh)" >&2
  exit 1
elif [ "$(printf '%s\n%s\n' "$need_rust" "$have_rust" | sort -V | head -1)" != "$need_rust" ]; then
  echo "setup: cargo $have_rust is older than the project's rust-version $need_rust; run: rustup update stable" >&2
  exit 1
fi

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
