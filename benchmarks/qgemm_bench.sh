#!/bin/sh
# Builds and runs benchmarks/qgemm_bench.c (see c_bench.sh): the packed r16 kernel alone on one thread.
# Usage: benchmarks/qgemm_bench.sh [rows cols copies]   (default 1536 576 96). Check `uptime` first.
exec "$(dirname "$0")/c_bench.sh" qgemm_bench "$@"
