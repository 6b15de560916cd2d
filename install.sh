#!/usr/bin/env bash
# Alignment Lab installer: builds and installs the `alignment-lab` binary, fetches the embedded
# model, makes sure JupyterLab is available and installs the kernelspec.
#
#   ./install.sh         install
#   ./install.sh --run   install, then execute the course notebook headlessly
#                        (on the embedded model when no local model server is running)
#
# Idempotent: run it again to update. Works as root and as a normal user (with sudo for apt).
set -euo pipefail
cd "$(dirname "$0")"

RUN=0
for arg in "$@"; do
    case "$arg" in
        --run) RUN=1 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
    esac
done

step() { printf '\n==> %s\n' "$*"; }

step "System packages"
scripts/system-deps.sh

step "Rust toolchain"
if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo is not on PATH. Install Rust with rustup (https://rustup.rs), open a new shell, and run ./install.sh again." >&2
    exit 1
fi
cargo --version
if command -v rustup >/dev/null 2>&1; then
    # evcxr's completions use rust-analyzer, which needs the standard library's source.
    rustup component add rust-src >/dev/null 2>&1 || echo "note: could not add rust-src; Rust completions may be limited"
fi

step "Building and installing alignment-lab (a clean build takes about 15 minutes)"
cargo install --path . --locked
BIN="$(command -v alignment-lab || echo "${CARGO_HOME:-$HOME/.cargo}/bin/alignment-lab")"
echo "installed $BIN"

step "Embedded model"
scripts/fetch-model.sh

step "Jupyter"
if command -v jupyter >/dev/null 2>&1 && jupyter lab --version >/dev/null 2>&1; then
    JUPYTER="$(command -v jupyter)"
    echo "using $JUPYTER"
    "$BIN" install --user
else
    VENV="${ALIGNMENT_LAB_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/alignment-lab}/venv"
    if [ ! -x "$VENV/bin/jupyter-lab" ]; then
        echo "no JupyterLab found; creating $VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --upgrade pip
        "$VENV/bin/pip" install --quiet jupyterlab nbconvert
    fi
    JUPYTER="$VENV/bin/jupyter"
    "$BIN" install --user
    echo "JupyterLab: $VENV/bin/jupyter lab"
fi

cat <<DONE

Alignment Lab is installed.
  Open the course:   $JUPYTER lab notebooks/alignment-lab.ipynb   (pick "Rust · Alignment Lab")
  Run it headless:   $BIN run notebooks/alignment-lab.ipynb
  Use LM Studio:     start its local server (Developer → Start Server); the kernel finds it.
DONE

if [ "$RUN" -eq 1 ]; then
    step "Running the course notebook"
    "$BIN" run notebooks/alignment-lab.ipynb --output notebooks/alignment-lab.executed.ipynb
fi
