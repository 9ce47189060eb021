#!/usr/bin/env python3
"""Checks Lantern's C kernels on the quantized tensors of a real GGUF file (e.g. a Q4_K_M download):
for the first and last rows of every quantized 2-D tensor, on every ISA level of this CPU,
  1. lt_dequantize_at equals the `gguf` package's dequantize exactly;
  2. lt_qgemm_at / lt_qgemm_x2_at (1 and 5 tokens) match the float product of the dequantized rows
     within 1e-2 (int8) / 1e-4 (int8x2) * sum_k |W x| + 1e-5 (the bounds of the Swift kernel tests).
The kernels are compiled into a temporary shared library and called through ctypes.
Run: python tools/check_real_kquants.py FILE.gguf [ROWS]   (needs `pip install gguf numpy`)."""
import ctypes, os, subprocess, sys, tempfile
import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
src = os.path.join(root, "Sources", "CKernels")
lib_path = os.path.join(tempfile.gettempdir(), "lantern_ckernels_check.so")
c_files = [os.path.join(src, f) for f in os.listdir(src) if f.endswith(".c")]
subprocess.check_call(["clang", "-O2", "-shared", "-fPIC", "-I", os.path.join(src, "include"), "-I", src, *c_files,
                       "-o", lib_path, "-lm"])
lib = ctypes.CDLL(lib_path)
P = ctypes.c_void_p
I64 = ctypes.c_int64
lib.lt_cpu_level.restype = ctypes.c_int
lib.lt_dequantize_at.argtypes = [ctypes.c_int, ctypes.c_int, P, I64, P]
lib.lt_quantize_q8x2_at.argtypes = [ctypes.c_int, P, I64, P, P, P, P, P]
lib.lt_qgemm_at.argtypes = [ctypes.c_int, ctypes.c_int, I64, P, I64, I64, P, P, P, I64, P, I64]
lib.lt_qgemm_x2_at.argtypes = [ctypes.c_int, ctypes.c_int, I64, P, I64, I64, P, P, P, P, P, I64, P, I64]

codes = {T.Q8_0: 3, T.Q4_0: 4, T.Q4_1: 5, T.Q5_0: 6, T.Q5_1: 7, T.Q2_K: 8, T.Q3_K: 9, T.Q4_K: 10, T.Q5_K: 11, T.Q6_K: 12}
ptr = lambda a: a.ctypes.data_as(P)

path = sys.argv[1]
nrows = int(sys.argv[2]) if len(sys.argv) > 2 else 13
reader = gguf.GGUFReader(path)
levels = range(lib.lt_cpu_level() + 1)
rng = np.random.default_rng(7)
failures, checked = 0, {}
for t in reader.tensors:
    qt = T(t.tensor_type)
    if qt not in codes or len(t.shape) != 2:
        continue
    cols, rows = int(t.shape[0]), int(t.shape[1])
    data = np.ascontiguousarray(t.data).reshape(rows, -1)
    ldw = data.shape[1]
    for start in sorted({0, max(0, rows - nrows)}):
        w = np.ascontiguousarray(data[start:start + nrows])
        n = w.shape[0]
        want = dequantize(w, qt).astype(np.float32).reshape(n, cols)
        for level in levels:
            got = np.full((n, cols), np.nan, dtype=np.float32)
            lib.lt_dequantize_at(level, codes[qt], ptr(w), n * cols, ptr(got))
            if not np.array_equal(got, want):
                failures += 1
                print(f"FAIL dequantize {t.name} {qt.name} level {level}: max diff {np.nanmax(np.abs(got - want))}")
        for tokens in (1, 5):
            x = (rng.standard_normal((tokens, cols)) * 3).astype(np.float32)
            nb = cols // 32
            qs, qs2 = np.zeros((tokens, cols), np.int8), np.zeros((tokens, cols), np.int8)
            d, d2, s = (np.zeros((tokens, nb), np.float32) for _ in range(3))
            for j in range(tokens):
                lib.lt_quantize_q8x2_at(0, ptr(x[j]), cols, ptr(qs[j]), ptr(d[j]), ptr(qs2[j]), ptr(d2[j]), ptr(s[j]))
            # s of the single level: d * sum(q1) per block, as lt_quantize_q8 computes it.
            s1 = (d * qs.reshape(tokens, nb, 32).sum(-1, dtype=np.int32).astype(np.float32)).astype(np.float32)
            exact = (x.astype(np.float64) @ want.astype(np.float64).T)          # [tokens, n]
            scale = np.abs(x.astype(np.float64)) @ np.abs(want.astype(np.float64)).T
            for level in levels:
                for two, rel in ((False, 1e-2), (True, 1e-4)):
                    y = np.full((tokens, n), np.nan, dtype=np.float32)
                    if two:
                        lib.lt_qgemm_x2_at(level, codes[qt], cols, ptr(w), ldw, n, ptr(qs), ptr(d), ptr(qs2), ptr(d2), ptr(s), tokens, ptr(y), n)
                    else:
                        lib.lt_qgemm_at(level, codes[qt], cols, ptr(w), ldw, n, ptr(qs), ptr(d), ptr(s1), tokens, ptr(y), n)
                    err = np.abs(y - exact)
                    if not np.all(err <= rel * scale + 1e-5):
                        failures += 1
                        print(f"FAIL qgemm {t.name} {qt.name} level {level} x2={two} tokens {tokens}: worst {np.max(err / (scale + 1e-30)):.2e}")
    checked[qt.name] = checked.get(qt.name, 0) + 1
print("tensors checked per type:", checked, "levels:", list(levels), "failures:", failures)
sys.exit(1 if failures else 0)
