#!/usr/bin/env bash
# Builds the libFuzzer targets (LanternFuzzing's FuzzTarget, linked by fuzz/Driver with
# -sanitize=fuzzer,address) and runs each for a given time from a seed corpus of real files.
#
#   fuzz/run.sh [--time SECONDS] [--jobs N] [--format text|json] [TARGET...]
#
# TARGET: gguf safetensors tokenizer-json jinja tokenize config request (default: all).
# --time: seconds per target (default 600); --jobs: targets run at once (default 2).
# Work files live in .build-fuzz/work/TARGET (the corpus grows there between runs). A crashing input is
# copied into fuzz/regressions/TARGET/, which FuzzRegressionTests replays in the test suite; commit it
# with the fix. Exit status: 0 when no target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
TIME=600 JOBS=2 FORMAT=text TARGETS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --time) TIME="$2"; shift 2 ;;
        --jobs) JOBS="$2"; shift 2 ;;
        --format) FORMAT="$2"; shift 2 ;;
        -h|--help) sed -n 2,12p "$0"; exit 0 ;;
        *) TARGETS+=("$1"); shift ;;
    esac
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(gguf safetensors tokenizer-json jinja tokenize config request)

SCRATCH=.build-fuzz
log() { if [ "$FORMAT" = json ]; then echo "$@" >&2; else echo "$@"; fi; }
# lld: gold fails with an internal error on the sanitizer runtimes here.
log "building lantern-fuzz (release, -sanitize=fuzzer,address) in $SCRATCH"
swift build -c release --scratch-path "$SCRATCH" --product lantern-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DLANTERN_FUZZ -Xswiftc -use-ld=lld >"$SCRATCH.log" 2>&1 \
    || { tail -30 "$SCRATCH.log" >&2; echo "build failed (log: $SCRATCH.log)" >&2; exit 1; }
BIN="$SCRATCH/release/lantern-fuzz"

run_one() {
    local target="$1" work="$SCRATCH/work/$1"
    mkdir -p "$work/corpus" "$work/seeds" "$work/crashes"
    # The seed writer exits with its arrays alive: no leak check there.
    ASAN_OPTIONS=detect_leaks=0 "$BIN" "$target" --seeds "$work/seeds" >/dev/null
    # -timeout: one input running over 20 s is a hang; -rss_limit_mb: over 3 GB is an unbounded allocation.
    # detect_leaks=0: LeakSanitizer cannot follow Swift's references that carry tag bits (enum payloads),
    # so objects held by lazy globals are reported as lost; real growth shows in -rss_limit_mb instead.
    ASAN_OPTIONS=detect_leaks=0 "$BIN" "$target" "$work/corpus" "$work/seeds" -max_total_time="$TIME" -timeout=20 -rss_limit_mb=3072 \
        -print_final_stats=1 -artifact_prefix="$work/crashes/" >"$work/log" 2>&1
    echo $? >"$work/status"
}

rm -f "$SCRATCH"/work/*/status "$SCRATCH"/work/*/log
running=0
for t in "${TARGETS[@]}"; do
    log "fuzzing $t for $TIME s"
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true

failed=0 json="["
for t in "${TARGETS[@]}"; do
    work="$SCRATCH/work/$t"
    status=$(cat "$work/status" 2>/dev/null || echo 1)
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$' | tail -1)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$work/log" | grep -o '[0-9]*$' | tail -1)
    corpus=$(ls "$work/corpus" | wc -l)
    crashes=()
    for c in "$work"/crashes/*; do
        [ -f "$c" ] || continue
        mkdir -p "fuzz/regressions/$t"
        cp "$c" "fuzz/regressions/$t/"
        crashes+=("fuzz/regressions/$t/$(basename "$c")")
    done
    [ "$status" = 0 ] && [ ${#crashes[@]} -eq 0 ] || failed=1
    if [ "$FORMAT" = json ]; then
        [ "$json" = "[" ] || json+=","
        list=$(printf '"%s",' "${crashes[@]}"); list="[${list%,}]"; [ ${#crashes[@]} -gt 0 ] || list="[]"
        json+="{\"target\":\"$t\",\"seconds\":$TIME,\"status\":$status,\"executions\":${execs:-0},\"exec_per_sec\":${rate:-0},\"corpus\":$corpus,\"crashes\":$list}"
    else
        printf '%-15s status %s  %10s executions  %6s exec/s  corpus %5s  crashes %s\n' \
            "$t" "$status" "${execs:-?}" "${rate:-?}" "$corpus" "${#crashes[@]}"
        [ "$status" = 0 ] || tail -40 "$work/log" | grep -v '^#' | head -40
    fi
done
[ "$FORMAT" = json ] && echo "$json]"
exit $failed
