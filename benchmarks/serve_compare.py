#!/usr/bin/env python3
"""`lantern serve` beside llama.cpp's `llama-server`: same GGUF, same machine, same load, alternating.

    swift build -c release
    benchmarks/serve_compare.py [--model FILE.gguf] [--llama-server PATH] [--threads 2] [--parallel 8]
                                [--rounds 3] [--max-tokens 64] [--clients 1,8,32]

Each round starts each server in turn (`-np N -c CTX -t THREADS`, nothing else running), waits for
/health, and runs benchmarks/serve_load.py with every client count (streamed /v1/completions at temperature
0, one prompt per client). Prints one JSON object: per engine and client count the median aggregate decode
tokens/s over the rounds (and the steady rate while every stream decodes, see serve_load.py), failures,
and the server's resident memory after the load; and the ratios the issue asks for: Lantern with 8
clients over Lantern with 1 (aggregate and steady), and Lantern over llama-server at 8 and 32.

llama-server's -c is the total context split over its slots, Lantern's -c is per sequence; both get room
for every prompt plus --max-tokens. llama-server is the native build of ../shared/tools/build_llamacpp.sh
(benchmarks/compare.sh documents the flags used on this machine). Standard library only.
"""
import argparse, json, os, signal, statistics, subprocess, sys, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait_healthy(url, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.3)
    raise RuntimeError("server did not become healthy")


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None


def run_load(url, clients, max_tokens):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "serve_load.py"), "--url", url,
                          "--clients", str(clients), "--max-tokens", str(max_tokens)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.expanduser("~/.cache/lantern/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--llama-server", default=os.path.expanduser("~/.cache/llamacpp-0.3.36/build/bin/llama-server"))
    ap.add_argument("--lantern", default=os.path.join(ROOT, ".build", "release", "lantern"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--ctx", type=int, default=1024, help="context per sequence")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--engines", default="lantern,llama-server")
    ap.add_argument("--lantern-args", default="", help="extra arguments for lantern serve, e.g. '--activations int8'")
    a = ap.parse_args()
    clients = [int(c) for c in a.clients.split(",")]
    engines = a.engines.split(",")
    url = f"http://127.0.0.1:{a.port}"
    commands = {
        "lantern": [a.lantern, "serve", "--model", a.model, "--port", str(a.port), "-np", str(a.parallel),
                    "-c", str(a.ctx), "-t", str(a.threads)] + a.lantern_args.split(),
        "llama-server": [a.llama_server, "-m", a.model, "--port", str(a.port), "-np", str(a.parallel),
                         "-c", str(a.ctx * a.parallel), "-t", str(a.threads), "-tb", str(a.threads)],
    }
    results = {e: {c: [] for c in clients} for e in engines}
    steady = {e: {c: [] for c in clients} for e in engines}
    memory = {e: [] for e in engines}
    failures = {e: 0 for e in engines}
    for _ in range(a.rounds):
        for engine in engines:
            proc = subprocess.Popen(commands[engine], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_healthy(url, proc)
                run_load(url, 2, 8)   # warm-up: first-touch of the weights, thread start
                for c in clients:
                    r = run_load(url, c, a.max_tokens)
                    results[engine][c].append(r["aggregate_tps"])
                    if r.get("steady_tps"):
                        steady[engine][c].append(r["steady_tps"])
                    failures[engine] += r["failures"]
                memory[engine].append(rss_mb(proc.pid))
            finally:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    med = {e: {str(c): round(statistics.median(v), 1) for c, v in results[e].items()} for e in engines}
    steady_med = {e: {str(c): round(statistics.median(v), 1) for c, v in steady[e].items() if v} for e in engines}
    summary = {"model": os.path.basename(a.model), "threads": a.threads, "parallel": a.parallel,
               "max_tokens": a.max_tokens, "rounds": a.rounds, "aggregate_tps_median": med,
               "runs": {e: {str(c): v for c, v in results[e].items()} for e in engines},
               "steady_tps_median": steady_med,
               "steady_runs": {e: {str(c): v for c, v in steady[e].items()} for e in engines},
               "failures": failures, "rss_mb_after_load": memory}
    if "lantern" in med and 1 in clients and a.parallel in clients:
        summary["lantern_parallel_over_single"] = round(med["lantern"][str(a.parallel)] / med["lantern"]["1"], 2)
        sm = steady_med["lantern"]
        if "1" in sm and str(a.parallel) in sm:
            summary["lantern_parallel_over_single_steady"] = round(sm[str(a.parallel)] / sm["1"], 2)
    if "lantern" in med and "llama-server" in med:
        summary["lantern_over_llama_server"] = {str(c): round(med["lantern"][str(c)] / med["llama-server"][str(c)], 2)
                                                for c in clients}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
