#!/usr/bin/env bash
# llama.cpp's own `llama-server` (the engine under LM Studio and Ollama), the reference the
# benchmarks and tests/python/test_real_server.py measure the kernel against. Built with cmake
# from the llama.cpp sources in PyPI's llama-cpp-python sdist (vendor/llama.cpp) — crates.io's
# llama-cpp-sys-2 ships llama.cpp without the server — and cached outside the clone, keyed by the
# sdist version, so only the first run on a machine pays the ~8 minute build.
#   scripts/llama-server.sh            # prints the binary's path, building it if needed
#   scripts/llama-server.sh --check    # exit 0 if the cached binary exists and runs, else 1
# Needs cmake and a C++ compiler (scripts/system-deps.sh installs them) and a pip to download the
# sdist ($PIP, or the test venv's, or python3 -m pip).
set -euo pipefail

VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
CACHE="${ALIGNMENT_LAB_CACHE:-$HOME/.cache/alignment-lab}/llama-server-$VERSION"
BINARY="$CACHE/bin/llama-server"

works() {
    # The exact file the tests run, and that it starts: a half-written or foreign file fails here.
    [ -x "$BINARY" ] && "$BINARY" --version >/dev/null 2>&1
}

if [ "${1:-}" = "--check" ]; then
    works
    exit
fi
if works; then
    echo "$BINARY"
    exit 0
fi

PIP="${PIP:-}"
if [ -z "$PIP" ]; then
    if [ -x "${VENV:-/nonexistent}/bin/pip" ]; then PIP="$VENV/bin/pip"; else PIP="python3 -m pip"; fi
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "building llama-server from llama-cpp-python $VERSION's sdist (about 8 minutes on 2 cores)" >&2
$PIP download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$WORK" >&2
tar -xzf "$WORK"/llama_cpp_python-"$VERSION".tar.gz -C "$WORK"
SRC="$WORK/llama_cpp_python-$VERSION/vendor/llama.cpp"
# Static libraries: one binary that can live in the cache on its own. No libcurl (the tests give
# it a local model file). CPU flags are llama.cpp's defaults (native), what a student who builds
# llama.cpp gets.
cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=ON >&2
cmake --build "$WORK/build" --target llama-server -j "$(nproc)" >&2
mkdir -p "$CACHE/bin"
# Copy then rename, so an interrupted copy never leaves a binary that looks complete.
cp "$WORK/build/bin/llama-server" "$BINARY.partial"
mv "$BINARY.partial" "$BINARY"
works || { echo "the llama-server just built does not run: $BINARY" >&2; exit 1; }
echo "$BINARY"
