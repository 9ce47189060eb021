#!/usr/bin/env bash
# Lantern versus native llama.cpp (`llama-bench`) and, where it has been built by hand, ik_llama.cpp, on the
# same GGUF file, same machine, same sitting: prefill (pp) and decode (tg) tokens/s, alternating the engines
# ROUNDS times per setting and reporting medians and ratios. All measure the same thing: prefill is one
# batch of PP prompt tokens, decode is 64 single-token steps with the KV cache; with a depth D (llama-bench's
# -d, Lantern's --depth) both follow D context tokens already in the cache.
#
#   benchmarks/compare.sh [--model NAME|PATH]... [--rounds N] [--settings "THREADS PP,THREADS PP,..."]
#                         [--depths "0 512 2048 4096"] [--format text|json]
#
# --model takes a catalog name (`lantern models`) or a path, and may be repeated; the default is the
# default model. llama-bench comes from $LLAMACPP_BIN (a folder), else ~/.cache/llamacpp-0.3.36/build/bin,
# else it is built there by shared/tools/build_llamacpp.sh (about 10 minutes on 2 cores).
# ik_llama.cpp's llama-bench comes from $IK_LLAMA_BIN, else ../ik_llama.cpp/build/bin beside the checkout;
# without one its columns are left out. Nothing here builds it: fetch ikawrakow/ik_llama.cpp and build it by
# hand per its docs/build.md (on an AVX-512 machine: cmake -B build -DGGML_NATIVE=ON -DGGML_AVX512=ON
# -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON; cmake --build build --target llama-bench).
# It runs with its CPU options `-fa 1 -rtr 1` (flash attention, weights repacked at load), its fastest
# setting for these files here ($IK_LLAMA_FLAGS overrides them).
# The whole run is kept in benchmarks/last-run.json.
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
DEPTHS="0"
FORMAT=text
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODELS+=("$2"); shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --settings) SETTINGS="$2"; shift 2 ;;
    --depths) DEPTHS="$2"; shift 2 ;;
    --format) FORMAT="$2"; shift 2 ;;
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
IK="${IK_LLAMA_BIN:-../ik_llama.cpp/build/bin}"
IK_FLAGS=${IK_LLAMA_FLAGS:--fa 1 -rtr 1}
if [ -x "$IK/llama-bench" ]; then echo "ik_llama.cpp: $IK/llama-bench ($(git -C "$IK/../.." log -1 --format=%h 2>/dev/null || echo '?'), flags $IK_FLAGS)" >&2
else IK=""; echo "ik_llama.cpp: not built beside the checkout (its columns are left out)" >&2; fi
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
    for depth in $DEPTHS; do
      for round in $(seq "$ROUNDS"); do
        for act in int8x2 mixed int8; do
          $LANTERN bench --model "$path" --threads "$threads" --activations "$act" --prompt-tokens "$pp" --gen-tokens 64 \
            --depth "$depth" --reps 1 --format json | sed "s|^|$name lantern-$act $threads $pp $depth |" >> "$RESULTS"
        done
        for engine in llama.cpp ik_llama.cpp; do
          if [ "$engine" = llama.cpp ]; then
            args=(-p "$pp" -n 64 -d "$depth"); bench="$BIN/llama-bench"; flags=""
          else
            [ -n "$IK" ] || continue
            bench="$IK/llama-bench"; flags=$IK_FLAGS
            # ik_llama.cpp's llama-bench has no -d: at a depth it measures decode only, as -gp DEPTH,64 (64
            # tokens generated after a DEPTH-token prompt, timed from the first generated token).
            if [ "$depth" = 0 ]; then args=(-p "$pp" -n 64); else args=(-p 0 -n 0 -gp "$depth,64"); fi
          fi
          # shellcheck disable=SC2086
          "$bench" -m "$path" -t "$threads" "${args[@]}" -r 1 $flags -o json 2>/dev/null | python3 -c '
import json, sys
rows, depth = json.load(sys.stdin), int(sys.argv[1])
if depth and len(rows) == 1:   # ik_llama.cpp -gp: the one row is decode after the prompt
    print(json.dumps({"tg_tps": rows[0]["avg_ts"]}))
else:
    pp = next(r["avg_ts"] for r in rows if r["n_prompt"] > 0 and r["n_gen"] == 0)
    tg = next(r["avg_ts"] for r in rows if r["n_gen"] > 0)
    print(json.dumps({"pp_tps": pp, "tg_tps": tg}))' "$depth" | sed "s|^|$name $engine $threads $pp $depth |" >> "$RESULTS"
        done
      done
    done
  done
done
python3 - "$RESULTS" "$FORMAT" <<'PY'
import json, sys, statistics
rows = {}
for line in open(sys.argv[1]):
    model, engine, threads, pp, depth, obj = line.split(" ", 5)
    o = json.loads(obj)
    for k in ("pp_tps", "tg_tps"):
        if k not in o: continue
        rows.setdefault((model, int(threads), int(pp), int(depth), k), {}).setdefault(engine, []).append(o[k])
ik = any("ik_llama.cpp" in v for v in rows.values())
out = []
for (model, threads, pp, depth, k), v in sorted(rows.items(), key=lambda kv: (kv[0][0], -kv[0][1], kv[0][2], kv[0][3], kv[0][4])):
    med = {e: statistics.median(r) for e, r in v.items()}
    a, b, c = med["lantern-int8x2"], med["lantern-int8"], med["llama.cpp"]
    m, d = med.get("lantern-mixed"), med.get("ik_llama.cpp")
    row = {"model": model, "threads": threads, "prompt_tokens": pp, "depth": depth, "metric": k,
           "lantern_int8x2": a, "lantern_int8": b, "llama_cpp": c, "ratio_int8x2": a / c, "ratio_int8": b / c, "runs": v}
    if m: row.update({"lantern_mixed": m, "ratio_mixed": m / c})
    if d: row.update({"ik_llama_cpp": d, "ik_ratio_int8x2": a / d, "ik_ratio_int8": b / d})
    if d and m: row["ik_ratio_mixed"] = m / d
    out.append(row)
json.dump(out, open("benchmarks/last-run.json", "w"), indent=1)
if sys.argv[2] == "json":
    print(json.dumps(out))
    sys.exit(0)
head = "| model | threads | metric (tokens/s) | depth | Lantern int8x2 (default) | Lantern mixed | Lantern int8 | llama.cpp |"
rule = "|---|---|---|---|---|---|---|---|"
if ik: head += " ik_llama.cpp |"; rule += "---|"
head += " vs llama.cpp: int8x2 / mixed / int8 |"; rule += "---|"
if ik: head += " vs ik_llama.cpp: int8x2 / mixed / int8 |"; rule += "---|"
print(head); print(rule)
for r in out:
    name = f"prefill {r['prompt_tokens']}" if r["metric"] == "pp_tps" else "decode 64"
    mixed = f"{r['lantern_mixed']:.1f}" if "lantern_mixed" in r else ""
    line = f"| {r['model']} | {r['threads']} | {name} | {r['depth']} | {r['lantern_int8x2']:.1f} | {mixed} | {r['lantern_int8']:.1f} | {r['llama_cpp']:.1f} |"
    if ik: line += f" {r['ik_llama_cpp']:.1f} |" if "ik_llama_cpp" in r else " |"
    rm = f"{r['ratio_mixed']:.2f}x" if "ratio_mixed" in r else "-"
    line += f" {r['ratio_int8x2']:.2f}x / {rm} / {r['ratio_int8']:.2f}x |"
    if ik:
        if "ik_llama_cpp" in r:
            im = f"{r['ik_ratio_mixed']:.2f}x" if "ik_ratio_mixed" in r else "-"
            line += f" {r['ik_ratio_int8x2']:.2f}x / {im} / {r['ik_ratio_int8']:.2f}x |"
        else:
            line += " |"
    print(line)
PY
