"""Converts the tiny fixture folders Tests/Fixtures/{gpt2,bloom,bert,t5} to GGUF with llama.cpp's own
convert_hf_to_gguf.py, writing Tests/Fixtures/<name>/model.gguf (f32) and gpt2/model-f16.gguf, and the tiny LLaMA with scaled RoPE
as Tests/Fixtures/rope-scaling/{llama3,linear}.gguf.

The converter is llama.cpp's, unmodified, from the llama-cpp-python 0.3.36 source package:
    pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36
    tar xzf llama_cpp_python-0.3.36.tar.gz        # vendor/llama.cpp/convert_hf_to_gguf.py
Run with a venv outside the repository that has torch numpy safetensors sentencepiece transformers
tokenizers protobuf:
    LLAMA_CPP_DIR=.../llama_cpp_python-0.3.36/vendor/llama.cpp python tools/make_gguf_fixtures.py

The fixture folders hold config.json + model.safetensors (+ generation_config.json) and no tokenizer,
which the converter needs. Each is converted from a temporary copy to which this script adds what the
converter asks for, never touching the fixture:
  - a tokenizer with the model's vocabulary size, trained here on Tests/Fixtures/tokenizers/strings.json
    (byte-level BPE for gpt2 and bloom, WordPiece for bert, a SentencePiece unigram spiece.model for t5);
    the tokens are made up, the Swift tests feed token ids, and only tensors and hyper-parameters are
    compared;
  - gpt2's config gets "n_ctx" (= n_positions), which the converter reads and transformers 5 no longer
    writes; the llama copies get the rope_parameters of the RoPE scaling reference.
The converter refuses a BPE/WordPiece tokenizer whose pre-tokenizer hash it does not know (the
invented ones here); the script therefore sets the converter's get_vocab_base_pre to answer a fixed
`tokenizer.ggml.pre` name. Nothing else in the converter is changed.
"""
import json
import os
import runpy
import shutil
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FIXTURES = os.path.join(REPO, "Tests", "Fixtures")
LLAMA_CPP = os.environ.get("LLAMA_CPP_DIR", os.path.expanduser(
    "~/.cache/llamacpp-0.3.36/llama_cpp_python-0.3.36/vendor/llama.cpp"))
TEXT = json.load(open(os.path.join(FIXTURES, "tokenizers", "strings.json"))) * 4
PRE = {"gpt2": "gpt-2", "bloom": "bloom", "bert": "jina-v2-en", "llama": "gpt-2"}


def byte_level_bpe(folder, vocab_size, eos):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[eos],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(TEXT, trainer)
    tok.save(os.path.join(folder, "tokenizer.json"))
    json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": eos, "bos_token": eos},
              open(os.path.join(folder, "tokenizer_config.json"), "w"))


def wordpiece(folder, vocab_size):
    """A WordPiece vocabulary built by rule (the trainer's output order is not reproducible): special
    tokens, printable ASCII, their ## continuations, then the text's most frequent words."""
    import collections
    import re
    chars = [chr(c) for c in range(33, 127)]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + ["##" + c for c in chars if c.isalnum()]
    words = collections.Counter(w for t in TEXT for w in re.findall(r"[a-z0-9]+", t.lower()) if len(w) > 1)
    vocab += [w for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))][:vocab_size - len(vocab)]
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.writelines(t + "\n" for t in vocab)
    json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True},
              open(os.path.join(folder, "tokenizer_config.json"), "w"))


def sentencepiece_unigram(folder, vocab_size):
    import sentencepiece as spm
    spm.SentencePieceTrainer.train(sentence_iterator=iter(TEXT), model_prefix=os.path.join(folder, "spiece"),
                                   vocab_size=vocab_size, model_type="unigram", pad_id=0, eos_id=1, unk_id=2,
                                   bos_id=-1, hard_vocab_limit=False, minloglevel=2)
    os.remove(os.path.join(folder, "spiece.vocab"))


def convert(name, outtype, outfile, rope=None):
    src = os.path.join(FIXTURES, name)
    with tempfile.TemporaryDirectory() as tmp:
        for f in ("config.json", "model.safetensors", "generation_config.json"):
            if os.path.exists(os.path.join(src, f)):
                shutil.copy(os.path.join(src, f), tmp)
        config = json.load(open(os.path.join(tmp, "config.json")))
        if name == "gpt2":
            config["n_ctx"] = config["n_positions"]
            json.dump(config, open(os.path.join(tmp, "config.json"), "w"))
            byte_level_bpe(tmp, config["vocab_size"], "<|endoftext|>")
        elif name == "bloom":
            byte_level_bpe(tmp, config["vocab_size"], "</s>")
        elif name == "bert":
            wordpiece(tmp, config["vocab_size"])
        elif name == "t5":
            sentencepiece_unigram(tmp, min(config["vocab_size"], 200))
        elif name == "llama":
            config["rope_parameters"] = rope
            json.dump(config, open(os.path.join(tmp, "config.json"), "w"))
            byte_level_bpe(tmp, config["vocab_size"], "</s>")
        run_converter(name, tmp, outtype, outfile)


def run_converter(name, folder, outtype, outfile):
    sys.path.insert(0, LLAMA_CPP)
    sys.path.insert(1, os.path.join(LLAMA_CPP, "gguf-py"))
    from conversion import base
    base.TextModel.get_vocab_base_pre = lambda self, tokenizer: PRE[name]
    sys.argv = ["convert_hf_to_gguf.py", folder, "--outtype", outtype, "--outfile", outfile,
                "--model-name", f"lantern-{name}-fixture"]
    try:
        runpy.run_path(os.path.join(LLAMA_CPP, "convert_hf_to_gguf.py"), run_name="__main__")
    except SystemExit as e:
        if e.code not in (0, None):
            raise


if __name__ == "__main__":
    jobs = [("gpt2", "f32", "model.gguf"), ("gpt2", "f16", "model-f16.gguf"), ("bloom", "f32", "model.gguf"),
            ("bert", "f32", "model.gguf"), ("t5", "f32", "model.gguf")]
    only = set(sys.argv[1:])
    for name, outtype, file in jobs:
        if only and name not in only:
            continue
        out = os.path.join(FIXTURES, name, file)
        convert(name, outtype, out)
        print(f"{out}: {os.path.getsize(out)} bytes")
    # The tiny LLaMA with the scaled RoPE of Tests/Fixtures/rope-scaling/reference.json (make that first
    # with tools/make_rope_scaling_fixture.py): llama3 comes out as rope_freqs.weight, linear as
    # llama.rope.scaling.type/factor.
    if not only or "llama" in only:
        reference = json.load(open(os.path.join(FIXTURES, "rope-scaling", "reference.json")))
        for variant in ("llama3", "linear"):
            out = os.path.join(FIXTURES, "rope-scaling", variant + ".gguf")
            convert("llama", "f32", out, rope=reference["variants"][variant]["rope_parameters"])
            print(f"{out}: {os.path.getsize(out)} bytes")
