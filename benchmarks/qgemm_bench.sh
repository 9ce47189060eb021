#!/bin/sh
# Builds benchmarks/qgemm_bench.c against the CKernels sources (-O2, as a release build) and runs it.
# Usage: benchmarks/qgemm_bench.sh [rows cols copies]   (default 1536 576 96). Check `uptime` first.
set -e
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/lantern_qgemm_bench"
clang -O2 -std=gnu11 -I Sources/CKernels/include -I Sources/CKernels Sources/CKernels/*.c benchmarks/qgemm_bench.c \
    -lpthread -lm -o "$out"
exec "$out" "$@"
