#!/usr/bin/env bash
# System packages the build needs, shared by install.sh and the test script:
#   - a C and C++ compiler and make (llama.cpp is compiled by the `cmake` crate),
#   - cmake itself,
#   - libclang's C library *and* clang's builtin headers (llama-cpp-sys-2 runs bindgen, which
#     loads libclang at run time through clang-sys and parses llama.h, which needs <stddef.h>
#     from clang's resource directory),
#   - Python's venv module with ensurepip (the Jupyter venv).
# Extra arguments name further Debian packages a caller needs (the test script: chromium, pandoc).
#
#   scripts/system-deps.sh [PACKAGE…]                  check, then install what is missing with apt
#   scripts/system-deps.sh --print-missing [PACKAGE…]  only print the missing packages, one a line
#
# Every check tests for the exact file or tool the build uses, never a neighbour of it: the
# libclang check once matched `libclang-cpp.so.14` (the C++ interface, which bindgen cannot use),
# so a fresh Debian image skipped libclang-dev and the build died inside bindgen.
# SYSTEM_DEPS_ROOT (default: empty, i.e. /) prefixes every file path the checks look at, so
# tests/system_deps.rs can run this logic against a fake root. The checks use only bash builtins
# and the tools they look for, so a test can also give them a fake PATH.
set -euo pipefail
shopt -s nullglob

ROOT="${SYSTEM_DEPS_ROOT:-}"

# True when `name` is a file name clang-sys would load as libclang: libclang.so, libclang-N.so,
# libclang.so.N, libclang-N.so.N — but not libclang-cpp.so.N (clang-sys skips "-cpp." names).
is_libclang_c_library() {
    local name="$1"
    case "$name" in
        *-cpp.*) return 1 ;;
        libclang.so | libclang-*.so | libclang.so.* | libclang-*.so.*) return 0 ;;
        *) return 1 ;;
    esac
}

# Directories holding a libclang C library, in clang-sys's search order: only LIBCLANG_PATH (a
# directory or the library file itself) when it is set, else the Linux directory patterns of
# clang-sys 1.9 (build/common.rs, DIRECTORIES_LINUX).
libclang_dirs() {
    local candidates=() dir file
    if [ -n "${LIBCLANG_PATH:-}" ]; then
        if [ -f "$ROOT$LIBCLANG_PATH" ]; then
            is_libclang_c_library "${LIBCLANG_PATH##*/}" && echo "$ROOT${LIBCLANG_PATH%/*}"
            return 0
        fi
        candidates=("$ROOT$LIBCLANG_PATH")
    else
        candidates=(
            "$ROOT"/usr/local/llvm*/lib* "$ROOT"/usr/local/lib*/*/* "$ROOT"/usr/local/lib*/*
            "$ROOT"/usr/local/lib* "$ROOT"/usr/lib*/*/* "$ROOT"/usr/lib*/* "$ROOT"/usr/lib*
        )
    fi
    for dir in "${candidates[@]}"; do
        [ -d "$dir" ] || continue
        for file in "$dir"/libclang*.so*; do
            if is_libclang_c_library "${file##*/}"; then
                echo "$dir"
                break
            fi
        done
    done
}

# True when clang's builtin headers are where libclang looks for them (its resource directory,
# `<libdir>/clang/<version>/include`) or where Debian's libclang-common-N-dev puts them.
have_clang_builtin_headers() {
    local dir headers=()
    for dir in "$@"; do
        headers+=("$dir"/clang/*/include/stddef.h)
    done
    headers+=("$ROOT"/usr/lib/llvm-*/lib/clang/*/include/stddef.h "$ROOT"/usr/lib/clang/*/include/stddef.h)
    [ ${#headers[@]} -gt 0 ]
}

have_libclang() {
    local dirs
    mapfile -t dirs < <(libclang_dirs)
    [ ${#dirs[@]} -gt 0 ] && have_clang_builtin_headers "${dirs[@]}"
}

have_command() { command -v "$1" >/dev/null 2>&1; }

# Debian packages named by callers, each checked by the file its test uses.
have_extra() {
    case "$1" in
        chromium) [ -x "$ROOT/usr/bin/chromium" ] ;; # the browser test launches exactly this
        pandoc) have_command pandoc ;;
        *) [ -n "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep ' installed$' || true)" ] ;;
    esac
}

missing_packages() {
    have_command cc || echo gcc
    have_command c++ || echo g++
    have_command make || echo make
    have_command cmake || echo cmake
    have_libclang || echo libclang-dev
    have_command python3 && python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || echo python3-venv
    local extra
    for extra in "$@"; do
        have_extra "$extra" || echo "$extra"
    done
}

if [ "${1:-}" = "--print-missing" ]; then
    shift
    missing_packages "$@"
    exit 0
fi

mapfile -t missing < <(missing_packages "$@")
if [ ${#missing[@]} -eq 0 ]; then
    echo "system: build tools present"
    exit 0
fi

explain() {
    echo "       (gcc, g++, make, cmake: compile llama.cpp; libclang-dev: libclang and clang's headers" >&2
    echo "        for the llama.cpp bindings; python3-venv: the Jupyter venv)" >&2
}

echo "system: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    apt_get=(apt-get)
elif have_command sudo; then
    apt_get=(sudo apt-get)
else
    echo "error: these Debian/Ubuntu packages are needed to build Alignment Lab: ${missing[*]}" >&2
    explain
    echo "       ask your administrator to run: sudo apt-get install ${missing[*]}" >&2
    echo "       then run this again." >&2
    exit 1
fi
if ! have_command apt-get; then
    echo "error: no apt-get on this system; install the equivalents of ${missing[*]} with your package manager." >&2
    explain
    echo "       If libclang lives elsewhere, set LIBCLANG_PATH to the directory holding libclang.so." >&2
    exit 1
fi
DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" update -qq
DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq "${missing[@]}" >/dev/null

# Installing is not the same as having: check again with the same tests.
mapfile -t still < <(missing_packages "$@")
if [ ${#still[@]} -gt 0 ]; then
    echo "error: still missing after apt-get install: ${still[*]}" >&2
    if [[ " ${still[*]} " == *" libclang-dev "* && -n "${LIBCLANG_PATH:-}" ]]; then
        echo "       LIBCLANG_PATH=$LIBCLANG_PATH holds no libclang.so; bindgen searches only there. Unset it or point it at libclang's directory." >&2
    fi
    exit 1
fi
echo "system: installed ${missing[*]}"
