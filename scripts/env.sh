# Sourced by the scripts: where the ONNX Runtime library and the Python peers live.
SIGNCAP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$SIGNCAP_ROOT/third_party/onnxruntime/libonnxruntime.so.1.31.1}"
export SIGNCAP_PYTHON="${SIGNCAP_PYTHON:-$SIGNCAP_ROOT/.venv-peers/bin/python}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR" 2>/dev/null || true
