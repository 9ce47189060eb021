#!/usr/bin/env python3
"""Writes Tests/Fixtures/dequant/types.gguf and expected.json: one small tensor of each type Lantern
supports, dequantized by the `gguf` Python package (llama.cpp's numpy reference), so Lantern's
dequantization is checked against an independent implementation.

F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 are quantized from floats by the package's quantizers ([3, 64]).
The package has no K-quant quantizers, so Q2_K, Q3_K, Q4_K, Q5_K and Q6_K tensors ([3, 512]: two
super-blocks per row) are random block bytes with plausible f16 scales written over the scale fields;
every bit pattern of the integer parts is a valid block, so this covers all scale / min / sign codes.
Run: python tools/make_dequant_fixture.py (needs `pip install gguf numpy`, e.g. in a venv outside the repo)."""
import json, os
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
expected, shapes = {}, {}
for name, qt in [("f32", T.F32), ("f16", T.F16), ("bf16", T.BF16), ("q8_0", T.Q8_0), ("q4_0", T.Q4_0),
                 ("q4_1", T.Q4_1), ("q5_0", T.Q5_0), ("q5_1", T.Q5_1)]:
    q = quantize(x, qt)
    w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qt)
    expected[name] = [float(v) for v in dequantize(q, qt).reshape(-1)]
    shapes[name] = list(x.shape)

# K-quants: (type, block bytes, [(offset of an f16 field, magnitude)]) per ggml-common.h.
kquants = [("q2_k", T.Q2_K, 84, [(80, 0.01), (82, 0.01)]),
           ("q3_k", T.Q3_K, 110, [(108, 0.005)]),
           ("q4_k", T.Q4_K, 144, [(0, 0.003), (2, 0.003)]),
           ("q5_k", T.Q5_K, 176, [(0, 0.002), (2, 0.002)]),
           ("q6_k", T.Q6_K, 210, [(208, 0.001)])]
rows, cols = 3, 512
for name, qt, bb, halves in kquants:
    blocks = rng.integers(0, 256, size=(rows * cols // 256, bb), dtype=np.uint8)
    for off, mag in halves:
        v = (rng.uniform(0.1, 1.0, size=blocks.shape[0]) * mag * rng.choice([-1, 1], size=blocks.shape[0]))
        blocks[:, off:off + 2] = v.astype(np.float16).view(np.uint8).reshape(-1, 2)
    blocks[0, halves[0][0]:halves[0][0] + 2] = np.array([0x01, 0x00], dtype=np.uint8)   # a subnormal d
    q = blocks.reshape(rows, cols // 256 * bb)
    w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qt)
    expected[name] = [float(v) for v in dequantize(q, qt).reshape(-1)]
    shapes[name] = [rows, cols]

w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump({"shape": list(x.shape), "shapes": shapes,
               "gguf_version": gguf.__version__ if hasattr(gguf, "__version__") else "",
               "dequantized": expected}, f)
print("wrote", out)
