#!/usr/bin/env bash
# Fuzz the parsers that read untrusted text — the magic line, the SSE stream, answer extraction
# and the judge's reply — with cargo-fuzz (libFuzzer), FUZZ_SECONDS each (default 600), two
# targets at a time. Needs a nightly toolchain; installs cargo-fuzz if it is missing.
#
#   scripts/fuzz.sh                      # all four, 10 minutes each
#   FUZZ_SECONDS=60 scripts/fuzz.sh sse_stream
#
# Seeds live in fuzz/seeds/<target> (small, in git); the growing corpus and any crash go under
# $CARGO_TARGET_DIR/fuzz (not in git). A crash makes this script fail and names the input file;
# turn it into a regression test beside the parser before fixing it.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/alignment-lab/target}/fuzz"
SECONDS_EACH="${FUZZ_SECONDS:-600}"
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(magic_line sse_stream answer_extraction judge_reply)

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
cargo +nightly fuzz build -O

run() {
    local target=$1
    local corpus="$CARGO_TARGET_DIR/corpus/$target" artifacts="$CARGO_TARGET_DIR/artifacts/$target/"
    mkdir -p "$corpus" "$artifacts"
    local status=0
    cargo +nightly fuzz run -O "$target" "$corpus" "seeds/$target" -- \
        -max_total_time="$SECONDS_EACH" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts" -print_final_stats=1 \
        > "$CARGO_TARGET_DIR/$target.log" 2>&1 || status=$?
    local runs
    runs=$(grep -E '^stat::number_of_executed_units' "$CARGO_TARGET_DIR/$target.log" | awk '{print $2}')
    echo "fuzz $target: exit $status, ${runs:-?} inputs in ${SECONDS_EACH} s (log: $CARGO_TARGET_DIR/$target.log)"
    return $status
}

failed=0
for ((i = 0; i < ${#TARGETS[@]}; i += 2)); do
    pids=()
    for t in "${TARGETS[@]:i:2}"; do
        run "$t" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
done
exit $failed
