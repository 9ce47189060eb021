#!/bin/sh
# Builds and runs benchmarks/kquant_bench.c (see c_bench.sh).
# Usage: benchmarks/kquant_bench.sh [rows cols [TYPE,TYPE...]]   (default 896 4864, all types). Check `uptime` first.
exec "$(dirname "$0")/c_bench.sh" kquant_bench "$@"
