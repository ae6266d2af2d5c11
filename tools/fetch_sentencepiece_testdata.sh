#!/usr/bin/env bash
# Fetches the test models of the sentencepiece 0.2.3 sdist (PyPI, Apache-2.0) for the tokenizer
# parity test: test/*.model → target/sentencepiece-testdata/ (or $1). Not committed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
dest="${1:-$SIGNCAP_ROOT/target/sentencepiece-testdata}"
if ls "$dest"/*.model >/dev/null 2>&1; then exit 0; fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# Only the sdist itself is built from source; its build requirements come as wheels.
"$SIGNCAP_PYTHON" -m pip download sentencepiece==0.2.3 --no-binary sentencepiece --no-deps -d "$tmp" -q
tar -xzf "$tmp/sentencepiece-0.2.3.tar.gz" -C "$tmp" --wildcards 'sentencepiece-0.2.3/test/*.model'
mkdir -p "$dest"
cp "$tmp"/sentencepiece-0.2.3/test/*.model "$dest"/
ls "$dest"
