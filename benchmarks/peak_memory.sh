#!/usr/bin/env bash
# Peak resident memory of `lantern generate` (64 new tokens) against the budget
# model file size + KV cache + 64 MB. Prints one JSON object.
#   benchmarks/peak_memory.sh [--model PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product lantern >&2
LANTERN=.build/release/lantern
MODEL=$([ "${1:-}" = "--model" ] && echo "$2" || $LANTERN fetch)
PROMPT="Once upon a time"
peak_kb=$( { /usr/bin/time -f "%M" $LANTERN generate --model "$MODEL" --max-tokens 64 --temperature 0 --format json "$PROMPT" >/dev/null; } 2>&1 | tail -n 1)
python3 - "$MODEL" "$peak_kb" <<'PY'
import json, os, subprocess, sys
model, peak_kb = sys.argv[1], int(sys.argv[2])
meta = json.loads(subprocess.run([".build/release/lantern", "inspect", "--format", "json", model], capture_output=True, text=True).stdout)["metadata"]
arch = meta["general.architecture"]
layers, dim = meta[f"{arch}.block_count"], meta[f"{arch}.embedding_length"]
heads, kv = meta[f"{arch}.attention.head_count"], meta.get(f"{arch}.attention.head_count_kv", meta[f"{arch}.attention.head_count"])
prompt = len(json.loads(subprocess.run([".build/release/lantern", "tokenize", "--model", model, "--format", "json", "Once upon a time"], capture_output=True, text=True).stdout)["tokens"])
positions = prompt + 64 + 1
kv_bytes = 2 * layers * positions * kv * (dim // heads) * 4
size = os.path.getsize(model)
budget = size + kv_bytes + 64 * 2**20
print(json.dumps({"peak_rss_mb": round(peak_kb / 1024, 1), "model_mb": round(size / 2**20, 1), "kv_cache_mb": round(kv_bytes / 2**20, 2),
                  "budget_mb": round(budget / 2**20, 1), "within_budget": peak_kb * 1024 <= budget}))
PY
