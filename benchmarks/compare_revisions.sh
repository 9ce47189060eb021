#!/usr/bin/env bash
# Single-stream speed of two Lantern builds side by side: alternates `lantern bench` of each binary
# ROUNDS times per setting on the same model and prints medians and the new/old ratio.
#
#   benchmarks/compare_revisions.sh OLD_LANTERN NEW_LANTERN [--model PATH] [--rounds N]
#
# e.g. git worktree add /tmp/old REV && (cd /tmp/old && swift build -c release --product lantern)
#      benchmarks/compare_revisions.sh /tmp/old/.build/release/lantern .build/release/lantern
set -euo pipefail
OLD="$1"; NEW="$2"; shift 2
MODEL=""; ROUNDS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$MODEL" ] || MODEL=$("$NEW" fetch)
echo "model: $MODEL; machine: $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
RESULTS=$(mktemp)
for setting in "2 128" "2 512" "1 128"; do
  set -- $setting
  for round in $(seq "$ROUNDS"); do
    for which in old new; do
      bin=$OLD; [ "$which" = new ] && bin=$NEW
      "$bin" bench --model "$MODEL" --threads "$1" --prompt-tokens "$2" --gen-tokens 64 --reps 1 --format json \
        | sed "s/^/$which $1 $2 /" >> "$RESULTS"
    done
  done
done
python3 - "$RESULTS" <<'PY'
import json, sys, statistics
rows = {}
for line in open(sys.argv[1]):
    which, threads, pp, obj = line.split(" ", 3)
    o = json.loads(obj)
    for k in ("pp_tps", "tg_tps"):
        rows.setdefault((int(threads), int(pp), k), {}).setdefault(which, []).append(o[k])
print("| threads | prompt | metric | old | new | new / old |")
print("|---|---|---|---|---|---|")
for (threads, pp, k), v in sorted(rows.items(), key=lambda kv: (-kv[0][0], kv[0][1], kv[0][2])):
    a, b = statistics.median(v["old"]), statistics.median(v["new"])
    name = f"prefill {pp}" if k == "pp_tps" else "decode 64"
    print(f"| {threads} | {pp} | {name} tok/s | {a:.1f} | {b:.1f} | {b / a:.3f} |")
PY
