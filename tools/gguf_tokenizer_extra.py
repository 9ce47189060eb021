#!/usr/bin/env python3
"""Extra tokenizer references from llama.cpp for a GGUF vocabulary (SentencePiece or byte-level BPE).

Writes one JSON file (see Tests/Fixtures/reference/README.md, "Extra tokenizer cases"):
  model, llama_cpp, add_bos, add_eos, eog_ids (every id llama_vocab_is_eog says yes to),
  control_ids (every id whose attribute has LLAMA_TOKEN_ATTR_CONTROL after the loader's overrides),
  encode: [{text, add_special, parse_special, ids}]      llama_tokenize
  decode: [{ids, remove_special, unparse_special, hex}]  llama_detokenize with remove_special off (as
                                                         common_detokenize), output bytes in hex (a byte
                                                         token may leave half a character)
The strings are in this file; decode cases are ids of some encode cases plus hand-picked ids.

llama.cpp here is the build of llama-cpp-python 0.3.36 (llama.cpp 0c1e570) used for the other
references; with a locally built library and the package's sources (no pip build needed):
  LLAMA_CPP_LIB_PATH=.../build/bin PYTHONPATH=.../llama_cpp_python-0.3.36 \
    python tools/gguf_tokenizer_extra.py --model FILE.gguf --name gemma3-270m --out F.json
(needs numpy, typing_extensions, diskcache, jinja2 for the package to import).
"""
import argparse, ctypes, json
import llama_cpp

COMMON = [
    "Hello world",
    " Hello",
    "Hello ",
    "  two leading and two trailing  ",
    "a\u00a0b non-breaking\u2009thin space",
    "\u00e9t\u00e9 e\u0301te\u0301 (precomposed and combining)",
    "\ufeffstarts with a byte order mark",
    "control \u0001\u0007\u001b chars",
    "private use \ue000\uf8ff and \U000f0000",
    "\U00013000\U00013001 hieroglyphs",
    "\U0001d518\U0001d52b\U0001d526 fraktur",
    "\U0001f3f3\ufe0f\u200d\U0001f308 \U0001f469\U0001f3fd\u200d\U0001f4bb",
    "\ufb01nance \ufb02ow ligatures",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "x" * 3 + " " * 17 + "y",
    "mixed\r\n\r\n\rline\u2028ends\u2029here\u0085",
    "\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd \u0928\u092e\u0938\u094d\u0924\u0947 \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35",
    "\u00bd \u2153 \u00b2 \u2460 \uff11\uff12\uff13 \u0661\u0662\u0663",
    "</s> <s> <unk> <pad> <mask> [multimodal]",
    "<</s>> <</s> </s</s>",
]

PER_MODEL = {
    "gemma3-270m": [
        "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
        "<bos><bos>text",
        "<unused0><unused6241> <unused99>",
        "<start_of_image><end_of_image>",
        "a\n\n\n\nb\t\t\tc",
        "\n\n",
        "<end_of_turn",
        "<start_of_turn><end_of_turn>",
    ],
    "qwen2.5-0.5b": [
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n",
        "<|fim_prefix|>def f():\n    <|fim_suffix|>\n<|fim_middle|>",
        "<|endoftext|><|endoftext|>",
        "<|repo_name|>lantern<|file_sep|>main.swift",
        "<|im_end|",
        "text</s>more",
    ],
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--name", required=True, choices=sorted(PER_MODEL))
    p.add_argument("--out", required=True)
    a = p.parse_args()

    llm = llama_cpp.Llama(model_path=a.model, vocab_only=True, verbose=False)
    vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
    n = llama_cpp.llama_vocab_n_tokens(vocab)

    def tokenize(text, add_special, parse_special):
        data = text.encode()
        cap = len(data) + 8
        buf = (llama_cpp.llama_token * cap)()
        k = llama_cpp.llama_tokenize(vocab, data, len(data), buf, cap, add_special, parse_special)
        assert k >= 0, k
        return list(buf[:k])

    def detokenize(ids, remove_special, unparse_special):
        arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
        cap = 64 + 64 * len(ids)
        buf = ctypes.create_string_buffer(cap)
        k = llama_cpp.llama_detokenize(vocab, arr, len(ids), buf, cap, remove_special, unparse_special)
        assert k >= 0, k
        return buf.raw[:k].hex()

    control = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL
    out = {
        "model": a.name,
        "llama_cpp": "llama-cpp-python 0.3.36 (llama.cpp 0c1e570)",
        "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab)),
        "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(vocab)),
        "eog_ids": [i for i in range(n) if llama_cpp.llama_vocab_is_eog(vocab, i)],
        "control_ids": [i for i in range(n) if llama_cpp.llama_vocab_get_attr(vocab, i) & control],
        "encode": [],
        "decode": [],
    }
    for text in COMMON + PER_MODEL[a.name]:
        for add_special, parse_special in [(True, True), (True, False), (False, True), (False, False)]:
            out["encode"].append({"text": text, "add_special": add_special, "parse_special": parse_special,
                                  "ids": tokenize(text, add_special, parse_special)})
    bos = llama_cpp.llama_vocab_bos(vocab)
    eos = llama_cpp.llama_vocab_eos(vocab)
    picks = [tokenize(t, True, True) for t in COMMON[:6]] + [tokenize(t, False, True) for t in PER_MODEL[a.name][:3]]
    picks += [tokenize(COMMON[9], False, False)[:2], [bos, bos], [eos], [], [bos] + tokenize(" x", False, False) + [eos]]
    for ids in picks:
        for remove_special, unparse_special in [(False, False), (False, True)]:
            out["decode"].append({"ids": ids, "remove_special": remove_special, "unparse_special": unparse_special,
                                  "hex": detokenize(ids, remove_special, unparse_special)})
    with open(a.out, "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
