#!/usr/bin/env bash
# The full test suite, from a fresh machine: system packages, the embedded model, a Python venv
# with the Jupyter test tools (scripts/prepare.sh), fmt and clippy, the Rust tests (unit,
# wiremock, real models, llama-server beside the embedded engine, load), the kernel through real Jupyter clients (jupyter_kernel_test,
# nbclient + nbconvert, JupyterLab in Chromium, fault matrix, hostile protocol peers), then the
# benchmarks with fewer repetitions than scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

OUT="$ROOT/target-test-output"
mkdir -p "$OUT"
# Screenshots, HTML/LaTeX/PDF exports and logs the Python tests leave for a person to look at.
export ALIGNMENT_LAB_TEST_OUTPUT="$OUT"
# Here a missing model, browser or pandoc is a failure, not a skipped test.
export ALIGNMENT_LAB_REQUIRE_MODEL=1 ALIGNMENT_LAB_REQUIRE_BROWSER=1 ALIGNMENT_LAB_REQUIRE_PANDOC=1
export ALIGNMENT_LAB_REQUIRE_WHEEL=1

source scripts/prepare.sh

step "Formatting and lints"
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
# The client crate Rust cells use is its own package (the kernel builds it inside evcxr).
CELLS_TARGET="$CARGO_TARGET_DIR/cells-crate"
cargo fmt --manifest-path cells/Cargo.toml --check
CARGO_TARGET_DIR="$CELLS_TARGET" cargo clippy --manifest-path cells/Cargo.toml --all-targets -- -D warnings

step "Rust tests (unit, HTTP via wiremock, embedded SmolLM2), in the wheel's release profile"
cargo test --release --locked --no-fail-fast 2>&1 | tee "$OUT/cargo-test.log"
CARGO_TARGET_DIR="$CELLS_TARGET" cargo test --manifest-path cells/Cargo.toml 2>&1 | tee -a "$OUT/cargo-test.log"

step "Kernel through real Jupyter clients"
"$VENV/bin/python" -m pytest tests/python -v -p no:cacheprovider --durations=25

step "Benchmark: pip install of the wheel to the first :chat answer"
"$VENV/bin/python" bench/install_speed.py --wheel "$ALIGNMENT_LAB_WHEEL" | tee "$OUT/install-speed.txt"

step "Benchmark: kernel start to kernel_info_reply, beside ipykernel"
"$VENV/bin/python" bench/kernel_startup.py --binary "$BIN" --repeat 5 | tee "$OUT/kernel-startup.txt"

step "Benchmark: course workloads on a 200 ms fake server, beside sequential Python + openai"
"$VENV/bin/python" bench/course_speed.py --repeat 2 | tee "$OUT/course-speed.txt"

step "Benchmark: overhead; embedded engine against llama.cpp direct; debate batching; Rust cells (full run: scripts/bench.sh)"
"$BIN" bench --repeat 3 --only overhead,embedded | tee "$OUT/alignment-lab-bench.txt"
"$BIN" bench --repeat 1 --only debate | tee -a "$OUT/alignment-lab-bench.txt"
"$BIN" bench --repeat 1 --only server | tee -a "$OUT/alignment-lab-bench.txt"
"$BIN" bench --repeat 1 --only cells | tee -a "$OUT/alignment-lab-bench.txt"
