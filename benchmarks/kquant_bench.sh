#!/bin/sh
# Builds benchmarks/kquant_bench.c against the CKernels sources (same -O2 as a release build) and runs it.
# Usage: benchmarks/kquant_bench.sh [rows cols [TYPE,TYPE...]]   (default 896 4864, all types). Check `uptime` first.
set -e
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/lantern_kquant_bench"
clang -O2 -std=gnu11 -I Sources/CKernels/include -I Sources/CKernels Sources/CKernels/*.c benchmarks/kquant_bench.c \
    -lpthread -lm -o "$out"
exec "$out" "$@"
