#!/usr/bin/env python3
"""llama.cpp (through llama-cpp-python) measured the way `lantern bench` measures: prefill is one batched
evaluation of a prompt of --pp token ids, decode is --tg single-token evaluations with the KV cache,
sampling excluded. Same token-id patterns as `lantern bench`. Prints one JSON object."""
import argparse, json, time
from llama_cpp import Llama

p = argparse.ArgumentParser()
p.add_argument("--model", required=True)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--pp", type=int, default=128)
p.add_argument("--tg", type=int, default=64)
p.add_argument("--reps", type=int, default=1)
a = p.parse_args()

llm = Llama(model_path=a.model, n_ctx=max(2048, a.pp + a.tg), n_threads=a.threads, n_threads_batch=a.threads,
            n_batch=512, verbose=False)
prompt = [1] + [(i * 7919) % 40000 + 100 for i in range(a.pp - 1)]
pp, tg = [], []
for _ in range(a.reps):
    llm.reset()
    t = time.perf_counter(); llm.eval(prompt); pp.append(a.pp / (time.perf_counter() - t))
    tok = 100
    t = time.perf_counter()
    for _ in range(a.tg):
        llm.eval([tok]); tok = (tok * 31 + 7) % 40000 + 100
    tg.append(a.tg / (time.perf_counter() - t))
med = lambda v: sorted(v)[len(v) // 2]
print(json.dumps({"engine": "llama.cpp", "threads": a.threads, "pp": a.pp, "tg": a.tg, "pp_tps": med(pp), "tg_tps": med(tg)}))
