#!/usr/bin/env python3
"""What the KV cache buys: per-token decode time against sequence length, with and without the cache,
and the cache's memory, measured with `lantern bench` and drawn as an SVG (standard library only).

    python3 benchmarks/kv_cache_scaling.py [--lantern .build/release/lantern] [--model NAME|PATH]
        [--lengths 32,64,128,256,512] [--gen 8] [--threads 2] [--kv-type f16|f32|q8_0] [--out benchmarks/kv-cache]

For each length L: `lantern bench --depth L --prompt-tokens 1 --gen-tokens G --reps 1` with the cache (each
step appends one token to a cache that holds L tokens) and `lantern bench --prompt-tokens L --gen-tokens G
--no-kv-cache` (each step runs the L prompt tokens and those generated so far again from an empty
cache). Per-token time is 1 / tg_tps. With the cache it grows slowly (attention reads L cached keys);
without it every step costs a prefill of L tokens, so it grows about linearly in L (quadratic over a
whole generation). The cache's memory is kv_bytes_per_token x L (K and V of every layer, in the type
bench reports as kv_type: f16 by default for quantized weights, f32 for float ones; --kv-type sets it).
Writes OUT.json (the numbers) and OUT.svg (two panels).
"""
import argparse
import json
import subprocess
import sys


def bench(lantern, model, length, gen, threads, cache, kv_type):
    # With the cache, decode after L tokens is --depth L (bench's decode otherwise starts from an empty cache).
    length_args = ["--depth", str(length), "--prompt-tokens", "1"] if cache else ["--prompt-tokens", str(length), "--no-kv-cache"]
    cmd = [lantern, "bench"] + length_args + ["--gen-tokens", str(gen), "--reps", "1",
                                              "--threads", str(threads), "--format", "json"]
    if model:
        cmd += ["--model", model]
    if kv_type:
        cmd += ["--kv-type", kv_type]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def polyline(points, sx, sy, colour):
    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    dots = "".join(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}"/>' for x, y in points)
    return f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>{dots}'


def panel(x0, title, xlabel, ylabel, series, width=420, height=300):
    """One chart at horizontal offset x0: series = [(label, colour, [(x, y), ...])]."""
    left, right, top, bottom = 60, 20, 30, 45
    xs = [x for _, _, pts in series for x, _ in pts]
    ys = [y for _, _, pts in series for _, y in pts]
    xmax, ymax = max(xs), max(ys) * 1.1 or 1
    sx = lambda x: x0 + left + (width - left - right) * x / xmax
    sy = lambda y: top + (height - top - bottom) * (1 - y / ymax)
    out = [f'<text x="{x0 + width / 2}" y="18" text-anchor="middle" font-size="14">{title}</text>',
           f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(xmax)}" y2="{sy(0)}" stroke="black"/>',
           f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(0)}" y2="{sy(ymax)}" stroke="black"/>',
           f'<text x="{x0 + width / 2}" y="{height - 8}" text-anchor="middle" font-size="12">{xlabel}</text>',
           f'<text x="{x0 + 14}" y="{height / 2}" text-anchor="middle" font-size="12" '
           f'transform="rotate(-90 {x0 + 14} {height / 2})">{ylabel}</text>']
    for i in range(5):
        y = ymax * i / 4
        out.append(f'<text x="{sx(0) - 5}" y="{sy(y) + 4}" text-anchor="end" font-size="10">{y:.3g}</text>')
    for x in sorted(set(xs)):
        out.append(f'<text x="{sx(x)}" y="{sy(0) + 14}" text-anchor="middle" font-size="10">{x}</text>')
    for i, (label, colour, pts) in enumerate(series):
        out.append(polyline(pts, sx, sy, colour))
        out.append(f'<text x="{sx(0) + 10}" y="{top + 14 + 16 * i}" font-size="12" fill="{colour}">{label}</text>')
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lantern", default=".build/release/lantern")
    ap.add_argument("--model")
    ap.add_argument("--lengths", default="32,64,128,256,512")
    ap.add_argument("--gen", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--kv-type", help="f16, f32 or q8_0 (default: bench's default for the model)")
    ap.add_argument("--out", default="benchmarks/kv-cache")
    a = ap.parse_args()
    rows = []
    for length in [int(x) for x in a.lengths.split(",")]:
        with_cache = bench(a.lantern, a.model, length, a.gen, a.threads, True, a.kv_type)
        without = bench(a.lantern, a.model, length, a.gen, a.threads, False, a.kv_type)
        row = {"length": length,
               "ms_per_token_cache": 1000 / with_cache["tg_tps"],
               "ms_per_token_no_cache": 1000 / without["tg_tps"],
               "kv_bytes": with_cache["kv_bytes_per_token"] * length,
               "kv_type": with_cache.get("kv_type", "?")}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    with open(a.out + ".json", "w") as f:
        json.dump({"model": a.model, "threads": a.threads, "gen_tokens": a.gen, "rows": rows}, f, indent=1)
    time_series = [("with KV cache", "#1f77b4", [(r["length"], r["ms_per_token_cache"]) for r in rows]),
                   ("without (recompute all)", "#d62728", [(r["length"], r["ms_per_token_no_cache"]) for r in rows])]
    mem_series = [(f"KV cache ({rows[0]['kv_type']})", "#2ca02c", [(r["length"], r["kv_bytes"] / 2**20) for r in rows])]
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="860" height="300" font-family="sans-serif">'
           '<rect width="100%" height="100%" fill="white"/>'
           + panel(0, "decode time per token", "sequence length (tokens)", "ms / token", time_series)
           + panel(440, "KV cache memory", "sequence length (tokens)", "MiB", mem_series)
           + "</svg>")
    with open(a.out + ".svg", "w") as f:
        f.write(svg)
    print(f"wrote {a.out}.json and {a.out}.svg", file=sys.stderr)


if __name__ == "__main__":
    main()
