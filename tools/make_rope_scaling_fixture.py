"""Reference values for RoPE scaling (llama3 and linear) from transformers, written to
Tests/Fixtures/rope-scaling/reference.json.

Takes the tiny LLaMA fixture (Tests/Fixtures/llama: config.json + model.safetensors), sets a scaled
`rope_parameters` on its config, and records for each variant transformers' inverse frequencies
(ROPE_INIT_FUNCTIONS[rope_type], i.e. `_compute_llama3_parameters` / `_compute_linear_scaling_rope_parameters`)
and the float32 logits of LlamaForCausalLM on the llama case's input_ids. The llama3 variant uses
original_max_position_embeddings 32 with factor 4, low 1, high 4, so that with head_dim 16 and base
10000 the high-frequency (kept), medium (interpolated) and low-frequency (divided) ranges all occur.

Run from a venv outside the repository with torch and transformers:
    python tools/make_rope_scaling_fixture.py
"""
import json
import os

import torch
import transformers
from safetensors.torch import load_file
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
LLAMA = os.path.join(REPO, "Tests", "Fixtures", "llama")
OUT = os.path.join(REPO, "Tests", "Fixtures", "rope-scaling", "reference.json")

VARIANTS = {
    "llama3": {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 4.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 32},
    "linear": {"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.5},
}


def main():
    base = json.load(open(os.path.join(LLAMA, "config.json")))
    ids = json.load(open(os.path.join(LLAMA, "case.json")))["inputs"]["input_ids"]
    weights = load_file(os.path.join(LLAMA, "model.safetensors"))
    out = {"generated_with": {"transformers": transformers.__version__, "torch": torch.__version__},
           "base": "Tests/Fixtures/llama (config.json with rope_parameters replaced, model.safetensors)",
           "input_ids": ids[0], "variants": {}}
    for name, rope in VARIANTS.items():
        config = LlamaConfig(**{**base, "rope_parameters": rope})
        config._attn_implementation = "eager"
        inv_freq, attention_scaling = ROPE_INIT_FUNCTIONS[rope["rope_type"]](config, "cpu")
        model = LlamaForCausalLM(config).eval()
        missing, unexpected = model.load_state_dict(weights, strict=False)
        assert not unexpected and all(k == "lm_head.weight" for k in missing), (missing, unexpected)
        model.tie_weights()
        with torch.no_grad():
            logits = model(torch.tensor(ids)).logits[0]
        out["variants"][name] = {
            "rope_parameters": rope,
            "inv_freq": [float(x) for x in inv_freq],
            "attention_scaling": float(attention_scaling),
            "logits_shape": list(logits.shape),
            "logits": [float("%.8g" % x) for x in logits.flatten().tolist()],
        }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f)
    print(OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
