"""Reference attention maps for Lantern's attention observer (issue 10, "See inside the model").

Run with the conversion venv (torch + transformers, CPU):

    /work/venv-conv/bin/python tools/make_attention_fixture.py

For each tiny fixture model (Tests/Fixtures/{gpt2,llama,bloom,bert,t5,bart}, made by the shared fixture generator
with random weights) this loads the folder with transformers using eager attention, runs
`output_attentions=True` on a few inputs and writes Tests/Fixtures/<name>/attentions.json:

    {"generated_with": {...}, "cases": [{"input_ids": [...], ("token_type_ids": [...]),
      ("decoder_input_ids": [...]), "attentions": [layer][head][row][col],
      ("cross_attentions": [layer][head][decoder row][encoder col]),
      ("decoder_attentions": ...)}]}

`attentions` is the model's (or the encoder's) self-attention: softmax(QK^T * scale + mask/bias),
as transformers' eager path computes it (masked positions are exactly 0 there). `float32_error` is
the largest |float32 - float64| of the case's maps (the same model run in double precision): how far
float32 rounding alone moves these probabilities, which the tests' tolerance allows for. Inputs are unpadded,
one sequence per forward, so they match what Lantern runs. Floats are float32 values written as the
shortest decimal that reads back to the same float32.
"""
import json
import os
import sys

import numpy as np
import torch
import transformers

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures")


def worst(a, b):
    """Largest |float32 - float64| over two tuples of attention maps."""
    return max(float((x.double() - y).abs().max()) for x, y in zip(a, b))


def maps(tensors):
    # tuple over layers of [1, heads, rows, cols] -> nested lists of float32 values
    out = []
    for t in tensors:
        a = t[0].detach().to(torch.float32).numpy()
        out.append([[[float(np.float32(x)) for x in row] for row in head] for head in a])
    return out


def case_ids(name):
    with open(os.path.join(ROOT, name, "case.json")) as f:
        return json.load(f)["inputs"]


def load(name, cls):
    model = cls.from_pretrained(os.path.join(ROOT, name), attn_implementation="eager",
                                dtype=torch.float32)
    model.eval()
    return model


def causal(name, cls):
    model = load(name, cls)
    first = case_ids(name)["input_ids"][0]
    wide = load(name, cls).double()
    cases = []
    for ids in [first, first[:5], [7, 7, 7, 300, 12, 7]]:
        with torch.no_grad():
            out = model(torch.tensor([ids]), output_attentions=True)
            ref = wide(torch.tensor([ids]), output_attentions=True)
        cases.append({"input_ids": ids, "attentions": maps(out.attentions),
                      "float32_error": worst(out.attentions, ref.attentions)})
    return cases


def bert():
    model = load("bert", transformers.BertForMaskedLM)
    inputs = case_ids("bert")
    wide = load("bert", transformers.BertForMaskedLM).double()
    cases = []
    for ids, mask, types in zip(inputs["input_ids"], inputs["attention_mask"], inputs["token_type_ids"]):
        n = sum(mask)
        ids, types = ids[:n], types[:n]
        with torch.no_grad():
            out = model(torch.tensor([ids]), token_type_ids=torch.tensor([types]), output_attentions=True)
            ref = wide(torch.tensor([ids]), token_type_ids=torch.tensor([types]), output_attentions=True)
        cases.append({"input_ids": ids, "token_type_ids": types, "attentions": maps(out.attentions),
                      "float32_error": worst(out.attentions, ref.attentions)})
    return cases


def seq2seq(name, cls):
    model = load(name, cls)
    inputs = case_ids(name)
    wide = load(name, cls).double()
    cases = []
    for ids, mask, dec in zip(inputs["input_ids"], inputs["attention_mask"], inputs["decoder_input_ids"]):
        ids = ids[:sum(mask)]
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids]), decoder_input_ids=torch.tensor([dec]),
                        output_attentions=True)
            ref = wide(input_ids=torch.tensor([ids]), decoder_input_ids=torch.tensor([dec]),
                       output_attentions=True)
        keys = ["encoder_attentions", "decoder_attentions", "cross_attentions"]
        cases.append({"float32_error": max(worst(getattr(out, k), getattr(ref, k)) for k in keys),"input_ids": ids, "decoder_input_ids": dec,
                      "attentions": maps(out.encoder_attentions),
                      "decoder_attentions": maps(out.decoder_attentions),
                      "cross_attentions": maps(out.cross_attentions)})
    return cases


def main():
    meta = {"transformers": transformers.__version__, "torch": torch.__version__.split("+")[0],
            "script": "tools/make_attention_fixture.py", "attn_implementation": "eager"}
    jobs = {"gpt2": lambda: causal("gpt2", transformers.GPT2LMHeadModel),
            "llama": lambda: causal("llama", transformers.LlamaForCausalLM),
            "bloom": lambda: causal("bloom", transformers.BloomForCausalLM),
            "bert": bert,
            "t5": lambda: seq2seq("t5", transformers.T5ForConditionalGeneration),
            "bart": lambda: seq2seq("bart", transformers.BartForConditionalGeneration)}
    for name in (sys.argv[1:] or jobs):
        cases = jobs[name]()
        path = os.path.join(ROOT, name, "attentions.json")
        with open(path, "w") as f:
            json.dump({"generated_with": meta, "cases": cases}, f, separators=(",", ":"))
            f.write("\n")
        print(path, os.path.getsize(path), "bytes,", len(cases), "cases")


if __name__ == "__main__":
    main()
