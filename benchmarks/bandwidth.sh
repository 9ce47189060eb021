#!/bin/sh
# Builds and runs benchmarks/bandwidth.c: the machine's read bandwidth with 1, 2, 4 ... threads up to the
# core count (what "percent of the memory limit" in the README is measured against).
# Usage: benchmarks/bandwidth.sh [MiB] [runs] [--format json]   (default 1024 MiB, 7 runs). Check `uptime` first.
set -e
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/lantern_bandwidth"
flags=""
[ "$(uname -m)" = x86_64 ] && flags="-mavx2"
cc -O2 $flags -pthread benchmarks/bandwidth.c -o "$out"
exec "$out" "$@"
