#!/usr/bin/env bash
# Heap allocations per decode step of `lantern bench`: runs it with a counting malloc shim for 64 and for
# 128 decode steps; the difference divided by 64 is what one decode step allocates (the goal is 0).
#   benchmarks/count_allocations.sh [--model PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL_ARGS=()
[ "${1:-}" = "--model" ] && MODEL_ARGS=(--model "$2")
SHIM=$(mktemp -d)/malloc_count.so
cc -O2 -shared -fPIC -o "$SHIM" benchmarks/malloc_count.c
swift build -c release --product lantern >&2
count() {
  LD_PRELOAD="$SHIM" .build/release/lantern bench "${MODEL_ARGS[@]}" --threads 2 --prompt-tokens 16 --gen-tokens "$1" --reps 1 \
    --format json 2>&1 >/dev/null | sed -n 's/^allocations: //p'
}
a=$(count 64); b=$(count 128)
echo "{\"allocations_64_steps\": $a, \"allocations_128_steps\": $b, \"per_decode_step\": $(( (b - a) / 64 ))}"
