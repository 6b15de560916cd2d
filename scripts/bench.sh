#!/usr/bin/env bash
# Every benchmark, each printed as a ratio against a reference measured in the same run, and
# docs/benchmarks.md rewritten from the output (with the machine described):
#   1. kernel start-up and idle memory beside ipykernel (bench/kernel_startup.py)
#   2. the course debate and probe matrix against a 200 ms / 4-slots-per-model fake server,
#      beside a sequential Python script using the `openai` package (bench/course_speed.py)
#   3. client and rendering overhead against an instant server (alignment-lab bench --only overhead)
#   4. the embedded engine beside llama.cpp driven directly, batching, :chat overhead, memory,
#      the course debate on the embedded model batched vs sequential, and the embedded engine
#      beside llama.cpp's llama-server on the same GGUF: decode, 4 concurrent requests, the course
#      debate, a 3 x 5 probe (alignment-lab bench)
#   5. model calls from Rust cells: the endpoint beside the magic path, first and later Rust cells
#      beside :chat, chat_all beside one call (alignment-lab bench --only cells)
#   6. pip install of the wheel to the first :chat answer, beside ./install.sh --from-source in a
#      sandbox (bench/install_speed.py --source-install; the source build alone is about 32 minutes)
# Sets up a fresh machine the same way as the test script (scripts/prepare.sh).
#   scripts/bench.sh            # REPEAT=3 by default (about an hour on 2 cores, most of it the source install)
#   SOURCE_INSTALL=0 scripts/bench.sh   # without the 32-minute ./install.sh --from-source reference
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
REPEAT="${REPEAT:-3}"
OUT="$ROOT/target-test-output"
mkdir -p "$OUT" docs
source scripts/prepare.sh

LOG="$OUT/benchmarks.txt"
: > "$LOG"
section() { printf '\n==> %s\n' "$*" | tee -a "$LOG"; }

section "Kernel start-up and idle memory, beside ipykernel"
"$VENV/bin/python" bench/kernel_startup.py --binary "$BIN" --repeat "$REPEAT" 2>&1 | tee -a "$LOG"
section "Course workloads against a fake server (200 ms per call, 4 slots per model), beside sequential Python + openai"
"$VENV/bin/python" bench/course_speed.py --repeat "$REPEAT" 2>&1 | tee -a "$LOG"
section "Client and rendering overhead; embedded engine; course debate on the embedded model; Rust cells"
"$BIN" bench --repeat "$REPEAT" 2>&1 | tee -a "$LOG"
section "Install: pip install of the wheel to the first :chat answer, beside ./install.sh --from-source"
SOURCE_FLAG=--source-install
if [ "${SOURCE_INSTALL:-1}" = 0 ]; then
    SOURCE_FLAG=
    echo "(./install.sh --from-source not measured in this run: SOURCE_INSTALL=0; docs/install.md has the last measurement)" | tee -a "$LOG"
fi
"$VENV/bin/python" bench/install_speed.py --wheel "$ALIGNMENT_LAB_WHEEL" --repeat "$REPEAT" $SOURCE_FLAG 2>&1 | tee -a "$LOG"

{
    echo "# Benchmarks"
    echo
    echo "<!-- Written by scripts/bench.sh; rerun it to refresh. -->"
    echo
    echo "Every number below is a median over $REPEAT repetitions with its spread, printed beside a"
    echo "reference measured in the same run on the same machine. Regenerate with \`scripts/bench.sh\`"
    echo "(\`REPEAT=N\` to change the repetitions). What each benchmark compares, the goals, and what"
    echo "limits the ones that miss are in the notes at the end."
    echo
    echo "## Machine"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
    echo "- memory: $(free -g | awk '/^Mem:/ {print $2}') GiB; OS: $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "- $(rustc --version); the kernel is the release wheel the test script builds and installs"
    echo "  (llama.cpp pinned to x86-64-v3, no OpenMP; see docs/install.md)"
    echo
    echo "## Output"
    echo
    echo '```text'
    cat "$LOG"
    echo '```'
    echo
    cat bench/NOTES.md
} > docs/benchmarks.md
echo "wrote docs/benchmarks.md"
