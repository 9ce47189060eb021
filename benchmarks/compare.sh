#!/usr/bin/env bash
# Lantern versus llama.cpp on the same GGUF file, same machine, same run: prefill (pp) and decode (tg)
# tokens/s, alternating the two engines ROUNDS times per setting and reporting medians and ratios.
#
#   benchmarks/compare.sh [--model PATH] [--rounds N]
#
# Installs llama-cpp-python into a virtual environment outside the repository on first use
# ($LANTERN_BENCH_VENV, default ~/.cache/lantern/bench-venv; compiling llama.cpp takes several minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=""
ROUNDS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
VENV="${LANTERN_BENCH_VENV:-$HOME/.cache/lantern/bench-venv}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
  echo "installing llama-cpp-python into $VENV ..." >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet llama-cpp-python
fi
swift build -c release --product lantern >&2
LANTERN=.build/release/lantern
# the default model: fetched into the cache on first use
[ -n "$MODEL" ] || MODEL=$($LANTERN fetch)
echo "model: $MODEL" >&2
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" >&2

RESULTS=$(mktemp)
for setting in "2 128" "1 128" "2 512"; do
  set -- $setting
  threads=$1 pp=$2
  for round in $(seq "$ROUNDS"); do
    for act in int8x2 int8; do
      $LANTERN bench --model "$MODEL" --threads "$threads" --activations "$act" --prompt-tokens "$pp" --gen-tokens 64 \
        --reps 1 --format json | sed "s/^/lantern-$act $threads $pp /" >> "$RESULTS"
    done
    "$VENV/bin/python" benchmarks/llamacpp_bench.py --model "$MODEL" --threads "$threads" --pp "$pp" --tg 64 --reps 1 \
      | sed "s/^/llama.cpp $threads $pp /" >> "$RESULTS"
  done
done
python3 - "$RESULTS" <<'PY'
import json, sys, statistics
rows = {}
for line in open(sys.argv[1]):
    engine, threads, pp, obj = line.split(" ", 3)
    o = json.loads(obj)
    for k in ("pp_tps", "tg_tps"):
        rows.setdefault((int(threads), int(pp), k), {}).setdefault(engine, []).append(o[k])
print("| threads | prompt | metric | Lantern int8x2 (default) | Lantern int8 | llama.cpp | ratio int8x2 | ratio int8 |")
print("|---|---|---|---|---|---|---|---|")
out = []
for (threads, pp, k), v in sorted(rows.items(), key=lambda kv: (-kv[0][0], kv[0][1], kv[0][2])):
    a, b, c = (statistics.median(v[e]) for e in ("lantern-int8x2", "lantern-int8", "llama.cpp"))
    name = f"prefill {pp} tok/s" if k == "pp_tps" else "decode 64 tok/s"
    print(f"| {threads} | {pp} | {name} | {a:.1f} | {b:.1f} | {c:.1f} | {a / c:.2f}x | {b / c:.2f}x |")
    out.append({"threads": threads, "prompt_tokens": pp, "metric": k, "lantern_int8x2": a, "lantern_int8": b,
                "llama_cpp": c, "ratio_int8x2": a / c, "ratio_int8": b / c, "runs": v})
json.dump(out, open("benchmarks/last-run.json", "w"), indent=1)
PY
