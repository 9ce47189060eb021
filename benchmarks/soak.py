#!/usr/bin/env python3
"""Soak test of `lantern serve`: many loopback clients, a mix of good and hostile requests.

    benchmarks/soak.py [--lantern PATH] [--model PATH] [--requests 2000] [--clients 32]
                       [--parallel 8] [--seed 1] [--format text|json]

Starts its own server (SmolLM2 Q4_1 from the cache unless --model is given; `lantern fetch
smollm2-135m` fills it), warms it up with --warmup requests of the same mix, records its resident
memory, then sends --requests requests from --clients threads. Each request is one of these kinds, drawn at random (fixed seed):

  chat, completion, stream     valid; non-streamed chat, non-streamed and streamed completions -> 200
  malformed                    not JSON, wrong field types, out-of-range sampling values -> 400
  overlong                     a prompt of more tokens than the context -> 400 (context_length_exceeded)
  toolarge                     a body over --max-body-bytes -> 413
  unauthorized                 no or a wrong API key -> 401
  notfound                     an unknown route, or an unknown model name -> 404
  cancelled                    a stream the client closes after its first events (head must be 200)
  slowsend                     a valid request whose body arrives in pieces over about a second -> 200
  slowread                     a stream read in small pieces with pauses -> 200 and a complete stream

A 429 (queue full) also counts as a right answer for the valid kinds. The run passes when every request
got its expected answer, the server process is the same one throughout and still healthy, and its
resident memory after the soak (and a short settle) is within 10% of before. Prints a summary; with
--format json, one JSON object.
"""
import argparse
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
API_KEY = "soak-key"
NO_END = {"0": -100, "1": -100, "2": -100}
KINDS = ["chat", "completion", "stream", "malformed", "overlong", "toolarge", "unauthorized",
         "notfound", "cancelled", "slowsend", "slowread"]
WEIGHTS = [14, 12, 14, 14, 6, 5, 6, 6, 9, 7, 7]
MAX_BODY = 65536


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start_server(args):
    command = [args.lantern, "serve", "--model", args.model, "--host", "127.0.0.1", "--port", "0",
               "--parallel", str(args.parallel), "-c", "2048", "--threads", str(args.threads),
               "--api-key", API_KEY, "--alias", "lantern", "--max-body-bytes", str(MAX_BODY),
               "--timeout", "10", "--temp", "0"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    port = None
    while time.time() < deadline and port is None:
        line = process.stderr.readline()
        if not line:
            if process.poll() is not None:
                sys.exit(f"lantern serve exited with {process.returncode}")
            continue
        m = re.search(r"http://[0-9.]+:(\d+)", line)
        if m:
            port = int(m.group(1))
    if port is None:
        process.kill()
        sys.exit("lantern serve did not print its port")
    threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
    return process, port


def headers(key=API_KEY):
    h = {"Content-Type": "application/json"}
    if key:
        h["Authorization"] = f"Bearer {key}"
    return h


def post(port, path, body, key=API_KEY, timeout=120):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        c.request("POST", path, body=data, headers=headers(key))
        r = c.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        c.close()


def raw_request(path, body, key=API_KEY):
    data = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode()
    return head, data


def read_until_closed(c, size, pause=0.0):
    """Reads `c` in pieces of at most `size` bytes (sleeping `pause` s before each) until the server closes."""
    reply = b""
    while True:
        if pause:
            time.sleep(pause)
        piece = c.recv(size)
        if not piece:
            return reply
        reply += piece


def prompt_text(rng):
    words = ["the", "river", "city", "light", "a", "story", "of", "small", "robot", "garden", "night", "music"]
    return " ".join(rng.choice(words) for _ in range(rng.randint(3, 24)))


def one(kind, rng, port):
    """Sends one request of `kind`; returns (ok, detail)."""
    if kind == "chat":
        s, b = post(port, "/v1/chat/completions", {"model": "lantern", "messages": [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt_text(rng)}],
            "max_tokens": rng.randint(4, 24), "temperature": rng.choice([0, 0.7]), "seed": rng.randint(0, 99)})
        return s in (200, 429) and (s == 429 or json.loads(b)["choices"][0]["message"]["content"] is not None), s
    if kind == "completion":
        s, b = post(port, "/v1/completions", {"prompt": prompt_text(rng), "max_tokens": rng.randint(4, 24),
                                               "logprobs": rng.choice([None, 3]), "stop": ["\n\n"]})
        return s in (200, 429), s
    if kind == "stream":
        s, b = post(port, "/v1/completions", {"prompt": prompt_text(rng), "max_tokens": rng.randint(4, 24),
                                               "stream": True, "stream_options": {"include_usage": True}})
        return (s == 200 and b.rstrip().endswith("data: [DONE]")) or s == 429, s
    if kind == "malformed":
        bodies = [b"{not json", b"[1, 2", json.dumps({"messages": "hello"}).encode(),
                  json.dumps({"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}).encode(),
                  json.dumps({"messages": [{"role": "user", "content": "hi"}], "top_p": 2}).encode(),
                  json.dumps({"prompt": "x", "temperature": -1}).encode(),
                  json.dumps({"prompt": "x", "max_tokens": -5}).encode(),
                  json.dumps({"messages": [{"role": "wizard", "content": "hi"}]}).encode(),
                  json.dumps({"prompt": "x", "logit_bias": {"abc": 1}}).encode(),
                  bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))]
        path = rng.choice(["/v1/chat/completions", "/v1/completions"])
        s, _ = post(port, path, rng.choice(bodies))
        return s == 400, s
    if kind == "overlong":
        s, b = post(port, "/v1/completions", {"prompt": [rng.randint(10, 1000) for _ in range(2100)], "max_tokens": 4})
        return s == 400 and "context_length_exceeded" in b, s
    if kind == "toolarge":
        s, _ = post(port, "/v1/completions", {"prompt": "x" * (MAX_BODY + rng.randint(1, 50000))})
        return s == 413, s
    if kind == "unauthorized":
        s, _ = post(port, "/v1/completions", {"prompt": "hello", "max_tokens": 2}, key=rng.choice([None, "wrong"]))
        return s == 401, s
    if kind == "notfound":
        if rng.random() < 0.5:
            s, _ = post(port, "/v1/nothing-here", {"prompt": "x"})
        else:
            s, _ = post(port, "/v1/completions", {"model": "gpt-99", "prompt": "x", "max_tokens": 2})
        return s == 404, s
    if kind == "cancelled":
        head, data = raw_request("/v1/completions", {"prompt": prompt_text(rng), "max_tokens": 400,
                                                     "stream": True, "logit_bias": NO_END})
        with socket.create_connection(("127.0.0.1", port), timeout=60) as c:
            c.sendall(head + data)
            got = b""
            while b"data: " not in got:
                piece = c.recv(4096)
                if not piece:
                    break
                got += piece
            # Close with events still coming.
        return got.startswith(b"HTTP/1.1 200") or got.startswith(b"HTTP/1.1 429"), got[:12].decode("latin-1")
    if kind == "slowsend":
        head, data = raw_request("/v1/completions", {"prompt": prompt_text(rng), "max_tokens": 4})
        with socket.create_connection(("127.0.0.1", port), timeout=60) as c:
            c.sendall(head)
            for i in range(0, len(data), max(1, len(data) // 5)):
                time.sleep(0.2)
                c.sendall(data[i:i + max(1, len(data) // 5)])
            reply = read_until_closed(c, 65536)
        return reply.startswith(b"HTTP/1.1 200") or reply.startswith(b"HTTP/1.1 429"), reply[:12].decode("latin-1")
    if kind == "slowread":
        head, data = raw_request("/v1/completions", {"prompt": prompt_text(rng), "max_tokens": 24, "stream": True})
        with socket.create_connection(("127.0.0.1", port), timeout=60) as c:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.sendall(head + data)
            reply = read_until_closed(c, 256, pause=0.05)
        ok = reply.startswith(b"HTTP/1.1 429") or (reply.startswith(b"HTTP/1.1 200") and b"data: [DONE]" in reply)
        return ok, reply[:12].decode("latin-1")
    raise ValueError(kind)


def run_mix(args, port, count, seed):
    """Sends `count` requests of randomly drawn kinds from args.clients threads; returns (kinds, results)."""
    kinds = random.Random(seed).choices(KINDS, WEIGHTS, k=count)
    results = [None] * count
    next_index = [0]
    lock = threading.Lock()

    def client(c):
        rng = random.Random(seed * 7919 + c)
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= count:
                return
            start = time.time()
            try:
                ok, detail = one(kinds[i], rng, port)
            except Exception as e:  # a reset or a timeout is the server's failure
                ok, detail = False, f"{type(e).__name__}: {e}"
            results[i] = (kinds[i], ok, str(detail), time.time() - start)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return kinds, results


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lantern", default=os.path.join(ROOT, ".build/release/lantern"))
    p.add_argument("--model", default=os.path.join(os.environ.get("LANTERN_CACHE", os.path.expanduser("~/.cache/lantern")),
                                                   "SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--warmup", type=int, default=300, help="requests of the same mix before the 'before' memory figure")
    p.add_argument("--format", choices=["text", "json"], default="text")
    args = p.parse_args()
    if not os.path.exists(args.model):
        sys.exit(f"no model at {args.model}: run `lantern fetch smollm2-135m` first")

    process, port = start_server(args)
    try:
        # Warm-up: the same mix from the same number of clients, so that thread and connection pools, the
        # prefix cache and the allocator's arenas reach the sizes concurrency gives them before "before".
        run_mix(args, port, args.warmup, args.seed + 1000)
        time.sleep(2)
        before = rss_kb(process.pid)
        start = time.time()
        kinds, results = run_mix(args, port, args.requests, args.seed)
        seconds = time.time() - start
        time.sleep(2)
        after = rss_kb(process.pid)
        alive = process.poll() is None
        health = None
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/health")
            health = c.getresponse().status
            c.close()
        except Exception as e:
            health = str(e)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/metrics", headers=headers())
        metrics = c.getresponse().read().decode()
        c.close()
    finally:
        process.terminate()
        process.wait()

    by_kind = {}
    failures = []
    for kind, ok, detail, t in results:
        k = by_kind.setdefault(kind, {"requests": 0, "right": 0, "statuses": {}})
        k["requests"] += 1
        k["right"] += int(ok)
        k["statuses"][detail] = k["statuses"].get(detail, 0) + 1
        if not ok and len(failures) < 20:
            failures.append({"kind": kind, "detail": detail})
    right = sum(k["right"] for k in by_kind.values())
    cancelled = re.search(r"^lantern_sequences_cancelled_total (\d+)", metrics, re.M)
    summary = {
        "requests": args.requests, "warmup_requests": args.warmup, "clients": args.clients, "parallel": args.parallel, "seconds": round(seconds, 1),
        "right_answers": right, "by_kind": by_kind, "failures": failures,
        "rss_before_mb": round(before / 1024, 1), "rss_after_mb": round(after / 1024, 1),
        "rss_ratio": round(after / before, 3) if before else None,
        "server_alive": alive, "health": health,
        "sequences_cancelled": int(cancelled.group(1)) if cancelled else None,
    }
    passed = right == args.requests and alive and health == 200 and before and after <= before * 1.10
    summary["passed"] = bool(passed)
    if args.format == "json":
        print(json.dumps(summary, indent=1))
    else:
        print(f"{args.requests} requests from {args.clients} clients (--parallel {args.parallel}) in {seconds:.1f} s")
        for kind in KINDS:
            k = by_kind.get(kind)
            if k:
                statuses = ", ".join(f"{s}: {n}" for s, n in sorted(k["statuses"].items()))
                print(f"  {kind:<13} {k['right']:>5}/{k['requests']:<5} right   ({statuses})")
        print(f"right answers {right}/{args.requests}; server alive: {alive}; /health: {health}; "
              f"sequences cancelled: {summary['sequences_cancelled']}")
        print(f"resident memory {summary['rss_before_mb']} MB before, {summary['rss_after_mb']} MB after "
              f"({summary['rss_ratio']}x)")
        for f in failures:
            print(f"  failed: {f}")
        print("PASSED" if passed else "FAILED")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
