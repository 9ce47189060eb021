#!/usr/bin/env python3
"""Writes Tests/Fixtures/dequant/types.gguf and expected.json: one small tensor of each type Lantern
supports (F32, F16, BF16, Q8_0, Q4_0, Q4_1), quantized and dequantized by the `gguf` Python package
(llama.cpp's reference quantizers), so Lantern's dequantization is checked against an independent
implementation. Run: python tools/make_dequant_fixture.py (needs `pip install gguf numpy`)."""
import json, os, sys
import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize, dequantize

out = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "dequant")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(1234)
x = (rng.standard_normal((3, 64)) * 2.0).astype(np.float32)
x[0, :5] = [0.0, -0.0, 1e-6, 65504.0 / 4, -3.25]

w = gguf.GGUFWriter(os.path.join(out, "types.gguf"), "test")
expected = {}
for name, qt in [("f32", T.F32), ("f16", T.F16), ("bf16", T.BF16), ("q8_0", T.Q8_0), ("q4_0", T.Q4_0), ("q4_1", T.Q4_1)]:
    q = quantize(x, qt)
    w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qt)
    expected[name] = [float(v) for v in dequantize(q, qt).reshape(-1)]
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump({"shape": list(x.shape), "gguf_version": gguf.__version__ if hasattr(gguf, "__version__") else "", "dequantized": expected}, f)
print("wrote", out)
