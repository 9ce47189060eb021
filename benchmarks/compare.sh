#!/usr/bin/env bash
# Lantern versus native llama.cpp (`llama-bench`) on the same GGUF file, same machine, same sitting:
# prefill (pp) and decode (tg) tokens/s, alternating the two engines ROUNDS times per setting and
# reporting medians and ratios. Both measure the same thing: prefill is one batch of PP prompt tokens,
# decode is 64 single-token steps with the KV cache.
#
#   benchmarks/compare.sh [--model NAME|PATH]... [--rounds N] [--settings "THREADS PP,THREADS PP,..."]
#
# --model takes a catalog name (`lantern models`) or a path, and may be repeated; the default is the
# default model. llama-bench comes from $LLAMACPP_BIN (a folder), else ~/.cache/llamacpp-0.3.36/build/bin,
# else it is built there by shared/tools/build_llamacpp.sh (about 10 minutes on 2 cores).
#
# Note on AMX: on a machine whose CPU flags list AMX but whose kernel does not let threads use the tiles,
# a -march=native build of llama.cpp dies with SIGILL in its AMX kernels (tinygemm_kernel_amx). This
# script checks for that and says how to build without AMX (Lantern uses no AMX either):
#   cmake ... -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
#     -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_BF16=ON \
#     -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS=()
ROUNDS=5
SETTINGS="2 128,1 128,2 512"
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODELS+=("$2"); shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --settings) SETTINGS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
BIN="${LLAMACPP_BIN:-$HOME/.cache/llamacpp-0.3.36/build/bin}"
if [ ! -x "$BIN/llama-bench" ]; then
  for script in ../shared/tools/build_llamacpp.sh tools/build_llamacpp.sh; do
    if [ -f "$script" ]; then BIN=$(bash "$script" | tail -n 1); break; fi
  done
fi
[ -x "$BIN/llama-bench" ] || { echo "no llama-bench in $BIN: set LLAMACPP_BIN or build llama.cpp (see the top of this script)" >&2; exit 1; }
# LANTERN_SKIP_BUILD=1 uses the lantern already in .build/release (e.g. built with -enable-testing by the tests).
[ -n "${LANTERN_SKIP_BUILD:-}" ] || swift build -c release --product lantern >&2
LANTERN=.build/release/lantern
[ ${#MODELS[@]} -gt 0 ] || MODELS=("")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" >&2

RESULTS=$(mktemp)
for model in "${MODELS[@]}"; do
  if [ -z "$model" ]; then path=$($LANTERN fetch); name=default
  elif [ -f "$model" ]; then path=$model; name=$(basename "$model")
  else path=$($LANTERN fetch "$model"); name=$model; fi
  echo "model $name: $path" >&2
  if ! "$BIN/llama-bench" -m "$path" -t 1 -p 8 -n 2 -r 1 -o json >/dev/null 2>&1; then
    echo "llama-bench fails on this machine (status $?); if it is SIGILL (132), rebuild llama.cpp without AMX (see the top of this script)" >&2
    exit 1
  fi
  IFS=, read -ra settings <<< "$SETTINGS"
  for setting in "${settings[@]}"; do
    set -- $setting
    threads=$1 pp=$2
    for round in $(seq "$ROUNDS"); do
      for act in int8x2 int8; do
        $LANTERN bench --model "$path" --threads "$threads" --activations "$act" --prompt-tokens "$pp" --gen-tokens 64 \
          --reps 1 --format json | sed "s|^|$name lantern-$act $threads $pp |" >> "$RESULTS"
      done
      "$BIN/llama-bench" -m "$path" -t "$threads" -p "$pp" -n 64 -r 1 -o json 2>/dev/null | python3 -c '
import json, sys
rows = json.load(sys.stdin)
pp = next(r["avg_ts"] for r in rows if r["n_prompt"] > 0)
tg = next(r["avg_ts"] for r in rows if r["n_gen"] > 0)
print(json.dumps({"pp_tps": pp, "tg_tps": tg}))' | sed "s|^|$name llama.cpp $threads $pp |" >> "$RESULTS"
    done
  done
done
python3 - "$RESULTS" <<'PY'
import json, sys, statistics
rows = {}
for line in open(sys.argv[1]):
    model, engine, threads, pp, obj = line.split(" ", 4)
    o = json.loads(obj)
    for k in ("pp_tps", "tg_tps"):
        rows.setdefault((model, int(threads), int(pp), k), {}).setdefault(engine, []).append(o[k])
print("| model | threads | prompt | metric | Lantern int8x2 (default) | Lantern int8 | llama.cpp | ratio int8x2 | ratio int8 |")
print("|---|---|---|---|---|---|---|---|---|")
out = []
for (model, threads, pp, k), v in sorted(rows.items(), key=lambda kv: (kv[0][0], -kv[0][1], kv[0][2], kv[0][3])):
    a, b, c = (statistics.median(v[e]) for e in ("lantern-int8x2", "lantern-int8", "llama.cpp"))
    name = f"prefill {pp} tok/s" if k == "pp_tps" else "decode 64 tok/s"
    print(f"| {model} | {threads} | {pp} | {name} | {a:.1f} | {b:.1f} | {c:.1f} | {a / c:.2f}x | {b / c:.2f}x |")
    out.append({"model": model, "threads": threads, "prompt_tokens": pp, "metric": k, "lantern_int8x2": a,
                "lantern_int8": b, "llama_cpp": c, "ratio_int8x2": a / c, "ratio_int8": b / c, "runs": v})
json.dump(out, open("benchmarks/last-run.json", "w"), indent=1)
PY
