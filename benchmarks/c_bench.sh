#!/bin/sh
# Builds benchmarks/NAME.c against the CKernels sources (-O2, as a release build) and runs it with ARGS.
# Usage: benchmarks/c_bench.sh NAME [ARGS...]   (kquant_bench.sh and qgemm_bench.sh call it; attention_bench runs directly). Check `uptime` first.
set -e
cd "$(dirname "$0")/.."
name="$1"; shift
out="${TMPDIR:-/tmp}/lantern_$name"
clang -O2 -std=gnu11 -I Sources/CKernels/include -I Sources/CKernels Sources/CKernels/*.c "benchmarks/$name.c" \
    -lpthread -lm -o "$out"
exec "$out" "$@"
