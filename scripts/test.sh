#!/usr/bin/env bash
# The full test suite, from a fresh machine: system packages, the embedded model, a Python venv
# with the Jupyter test tools, the Rust tests (unit, wiremock, real model) and the kernel
# through real Jupyter clients (jupyter_kernel_test, nbclient, jupyter_client).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/alignment-lab/target}"
# rust-analyzer's crates (inside evcxr) read $CI at compile time; a value that differs between
# runs rebuilds them and everything above. Build the same way in CI and at a desk.
unset CI
export ALIGNMENT_LAB_HOME="${ALIGNMENT_LAB_HOME:-$HOME/.cache/alignment-lab/home}"
export ALIGNMENT_LAB_REQUIRE_MODEL=1
VENV="${ALIGNMENT_LAB_TEST_VENV:-$HOME/.cache/alignment-lab/venv}"
OUT="$ROOT/target-test-output"
mkdir -p "$OUT"

step() { printf '\n==> %s\n' "$*"; }

step "System packages"
scripts/system-deps.sh

step "Embedded model"
scripts/fetch-model.sh

step "Python venv for the Jupyter tools ($VENV)"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet -r tests/python/requirements.txt

step "Formatting"
cargo fmt --check

step "Rust tests (unit, HTTP via wiremock, embedded SmolLM2)"
cargo test --locked --no-fail-fast 2>&1 | tee "$OUT/cargo-test.log"

step "Kernel through real Jupyter clients"
BIN="$CARGO_TARGET_DIR/debug/alignment-lab"
"$BIN" install --prefix "$VENV"
# JUPYTER_PATH comes before the user's data dir: the tests must run this build's kernel, not
# one that install.sh put in ~/.local/share/jupyter.
export JUPYTER_PATH="$VENV/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
"$VENV/bin/python" -m pytest tests/python -v -p no:cacheprovider

step "Benchmark: kernel start to kernel_info_reply, beside ipykernel"
"$VENV/bin/python" bench/kernel_startup.py --binary "$BIN" --repeat 5 | tee "$OUT/kernel-startup.txt"

step "Benchmark: embedded engine against llama.cpp direct, batching, :chat overhead, memory"
"$BIN" bench --repeat 3 | tee "$OUT/embedded-bench.txt"
