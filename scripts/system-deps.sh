#!/usr/bin/env bash
# System packages the build needs: a C/C++ toolchain, cmake and libclang (llama.cpp via
# llama-cpp-2 and its bindgen step), and Python's venv module. Shared by install.sh and the
# test script. Exits with a clear message instead of letting a build fail deep inside bindgen.
set -euo pipefail

missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if ! ls /usr/lib/llvm-*/lib/libclang*.so* /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1; then
    missing+=(libclang-dev)
fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
for extra in "$@"; do
    dpkg -s "$extra" >/dev/null 2>&1 || missing+=("$extra")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "system: build tools present"
    exit 0
fi

echo "system: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    apt_get=(apt-get)
elif command -v sudo >/dev/null 2>&1; then
    apt_get=(sudo apt-get)
else
    echo "error: these packages are needed to build Alignment Lab: ${missing[*]}" >&2
    echo "       install them (Debian/Ubuntu: apt-get install ${missing[*]}) and run this again." >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: no apt-get here; install a C/C++ compiler, cmake and libclang (${missing[*]}) with your package manager." >&2
    exit 1
fi
DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" update -qq
DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq "${missing[@]}" >/dev/null
for tool in cc c++ cmake; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: $tool is still missing after installing packages; llama.cpp cannot be built without a C++ toolchain." >&2
        exit 1
    fi
done
echo "system: installed ${missing[*]}"
