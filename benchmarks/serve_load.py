#!/usr/bin/env python3
"""Load an OpenAI-compatible server (lantern serve or llama-server) with concurrent streaming clients.

    serve_load.py --url http://127.0.0.1:8080 --clients 32 --max-tokens 64 [--single]

Each client sends one streamed /v1/completions request (temperature 0, a different prompt each) and checks
its stream is complete (chunks, a finish_reason, data: [DONE]). Prints one JSON object: requests, failures,
total generated tokens, wall seconds, aggregate decode tokens/s (generated tokens / wall time from the
first token of any stream to the last), the steady rate (tokens that arrived while every stream was
decoding, from the last stream's first token to the first stream's last token, over that interval: the
rate with all N streams running, without the ramp while prompts are admitted and streams finish) and
per-request time to first token. Standard library only.
"""
import argparse, json, threading, time, urllib.request

PROMPTS = [
    "The history of the printing press", "A recipe for bread", "Why the sky is blue", "How rivers form",
    "The rules of chess", "A letter to a friend", "The life of bees", "How a compiler works",
]


def stream_one(url, i, max_tokens, out):
    body = json.dumps({"model": "m", "prompt": f"{PROMPTS[i % len(PROMPTS)]} (part {i}):", "max_tokens": max_tokens,
                       "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}).encode()
    req = urllib.request.Request(url + "/v1/completions", data=body, headers={"Content-Type": "application/json"})
    start = time.time()
    arrivals = []
    tokens = 0
    finish = None
    done = False
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            for raw in r:
                line = raw.decode().strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    break
                obj = json.loads(data)
                for c in obj.get("choices", []):
                    if c.get("text"):
                        tokens += 1
                        arrivals.append(time.time())
                    finish = c.get("finish_reason") or finish
                if obj.get("usage"):
                    tokens = obj["usage"].get("completion_tokens", tokens)
        out[i] = {"ok": done and finish is not None, "tokens": tokens, "start": start,
                  "first": arrivals[0] if arrivals else time.time(),
                  "end": time.time(), "arrivals": arrivals}
    except Exception as e:  # a failed request is counted, not fatal
        out[i] = {"ok": False, "error": str(e), "tokens": 0, "start": start, "first": time.time(), "end": time.time(),
                  "arrivals": []}


def steady_rate(streams):
    """Tokens per second while every stream was decoding: chunks that arrived after the last stream's first
    token and up to the first stream's last token, over that interval (None when the interval is empty)."""
    if not streams or any(not r["arrivals"] for r in streams):
        return None
    lo = max(r["arrivals"][0] for r in streams)
    hi = min(r["arrivals"][-1] for r in streams)
    if hi <= lo:
        return None
    n = sum(1 for r in streams for t in r["arrivals"] if lo < t <= hi)
    return n / (hi - lo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=64)
    a = ap.parse_args()
    out = [None] * a.clients
    threads = [threading.Thread(target=stream_one, args=(a.url, i, a.max_tokens, out)) for i in range(a.clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - t0
    ok = [r for r in out if r["ok"]]
    toks = sum(r["tokens"] for r in ok)
    first = min((r["first"] for r in ok), default=t0)
    last = max((r["end"] for r in ok), default=t0)
    steady = steady_rate(ok)
    print(json.dumps({"requests": a.clients, "failures": a.clients - len(ok), "generated_tokens": toks,
                      "wall_s": round(wall, 3), "aggregate_tps": round(toks / max(last - first, 1e-9), 2),
                      "steady_tps": round(steady, 2) if steady else None,
                      "ttft_median_s": round(sorted(r["first"] - r["start"] for r in ok)[len(ok) // 2], 3) if ok else None,
                      "errors": [r.get("error") for r in out if not r["ok"]][:3]}))


if __name__ == "__main__":
    main()
