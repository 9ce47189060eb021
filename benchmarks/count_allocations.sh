#!/usr/bin/env bash
# Heap allocations of the decode loop of `lantern bench`: runs it with a counting malloc shim for 64 and for
# 576 decode steps; the difference is what 512 more decode steps allocate (the goal is 0; start-up varies
# by a couple of allocations from run to run, a per-step allocation would add at least 512).
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
a=$(count 64); b=$(count 576)
echo "{\"allocations_64_steps\": $a, \"allocations_576_steps\": $b, \"extra_for_512_more_steps\": $(( b - a ))}"
