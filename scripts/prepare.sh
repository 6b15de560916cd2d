# Sourced by scripts/test.sh and scripts/bench.sh: everything a fresh machine needs before the
# kernel can be tested or measured — system packages, the embedded model and the Gemma 3 test
# model, a Python venv with the Jupyter tools, llama.cpp's llama-server (built once, cached
# outside the clone), and the release wheel (maturin) installed into that venv, so the Jupyter-level
# tests and benchmarks run the kernel a student's `pip install` gives. `cargo test --release`
# then shares the wheel's build. Exports the paths it sets up.

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/alignment-lab/target}"
# rust-analyzer's crates (inside evcxr) read $CI at compile time; a value that differs between
# runs rebuilds them and everything above. Build the same way in CI and at a desk.
unset CI
export ALIGNMENT_LAB_HOME="${ALIGNMENT_LAB_HOME:-$HOME/.cache/alignment-lab/home}"
VENV="${ALIGNMENT_LAB_TEST_VENV:-$HOME/.cache/alignment-lab/venv}"

step() { printf '\n==> %s\n' "$*"; }

step "System packages (build tools; Chromium and pandoc for the browser and export tests)"
scripts/system-deps.sh chromium pandoc

step "Embedded model"
scripts/fetch-model.sh

step "Python venv for the Jupyter tools ($VENV)"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet -r tests/python/requirements.txt

step "Test model (Gemma 3 270M, a second architecture for the prompt tests)"
PYTHON="$VENV/bin/python" scripts/fetch-test-model.sh

step "llama.cpp's llama-server, the reference the tests and benchmarks compare with"
ALIGNMENT_LAB_LLAMA_SERVER="$(PIP="$VENV/bin/pip" scripts/llama-server.sh)"
export ALIGNMENT_LAB_LLAMA_SERVER
echo "llama-server: $ALIGNMENT_LAB_LLAMA_SERVER"

step "Build: the release wheel (maturin), installed into the test venv"
WHEEL_DIR="$CARGO_TARGET_DIR/wheels"
rm -f "$WHEEL_DIR"/alignment_lab-*.whl
"$VENV/bin/maturin" build --release --locked --out "$WHEEL_DIR"
ALIGNMENT_LAB_WHEEL="$(ls "$WHEEL_DIR"/alignment_lab-*.whl)"
export ALIGNMENT_LAB_WHEEL
# The wheel's kernel.json replaces whatever an earlier `alignment-lab install --prefix` wrote.
"$VENV/bin/pip" install --quiet --force-reinstall --no-deps "$ALIGNMENT_LAB_WHEEL"
BIN="$VENV/bin/alignment-lab"
export ALIGNMENT_LAB_BIN="$BIN"
echo "wheel: $ALIGNMENT_LAB_WHEEL ($(du -h "$ALIGNMENT_LAB_WHEEL" | cut -f1)); kernel: $BIN"
# JUPYTER_PATH comes before the user's data dir: tests and benchmarks must run this build's
# kernel, not one that install.sh put in ~/.local/share/jupyter.
export JUPYTER_PATH="$VENV/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
