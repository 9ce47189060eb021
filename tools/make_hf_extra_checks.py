"""Extra checks of Lantern's tokenizer.json pipeline against the Hugging Face `tokenizers` library.

Writes OUT/<variant>/{tokenizer.json, expected.json}: variants of the Tests/Fixtures/tokenizers
pipelines (other normalizers, pre-tokenizers, decoders, post-processors, added-token flags) and
random strings. Not committed as goldens; run the Swift suite with LANTERN_HF_EXTRA=OUT to compare:
    python tools/make_hf_extra_checks.py /tmp/hf-extra
    LANTERN_HF_EXTRA=/tmp/hf-extra swift test --filter HFTokenizerExtra
"""
import json, os, random, sys
from tokenizers import Tokenizer

root = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "tokenizers")
out = sys.argv[1]
strings = json.load(open(os.path.join(root, "strings.json")))
rng = random.Random(7)
alphabet = list("aAbBzZ éèÅñü ß 'sdtm\t\n\r  09 ٣ ,.!?-_()[]<>|$+=^~ 中文日本 😀🎉 \u0301\u00a0\u2581 ##") + ["<s>", "</s>", "[CLS]", "<|endoftext|>", "don't", "UNK", "<0x41>", "hello", "world"]
for _ in range(150):
    strings.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))))
strings += ["x" * 150, "a" * 120 + " b", "12345678901234", "  x  ", "Hello<s>World</s>", "[CLS] a [SEP]",
            "ǅungla İstanbul ΣΑΣ", "ﬁﬂ ① ㌀ Ⅻ", "\u200b\ufeffzero\u200dwidth", "a\u0000b\u0007c"]

def load(name):
    return json.load(open(os.path.join(root, name, "tokenizer.json")))

variants = {}
def add(name, base, **changes):
    j = load(base)
    for k, v in changes.items():
        if k == "model_":
            j["model"].update(v)
        else:
            j[k] = v
    variants[name] = j

for b in ["bpe-byte-level", "wordpiece", "unigram", "bpe-sentencepiece"]:
    add(b, b)
add("bl-prefix-space", "bpe-byte-level", pre_tokenizer={"type": "ByteLevel", "add_prefix_space": True, "use_regex": True, "trim_offsets": True})
add("bl-noregex", "bpe-byte-level", pre_tokenizer={"type": "ByteLevel", "add_prefix_space": False, "use_regex": False, "trim_offsets": True})
add("bl-llama3-split", "bpe-byte-level", pre_tokenizer={"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"}, "behavior": "Isolated", "invert": False},
    {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False, "trim_offsets": True}]}, model_={"ignore_merges": True})
o200k = "|".join([r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"\p{N}{1,3}", r" ?[^\s\p{L}\p{N}]+[\r\n/]*", r"\s*[\r\n]+", r"\s+(?!\S)", r"\s+"])
add("bl-o200k-split", "bpe-byte-level", pre_tokenizer={"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": o200k}, "behavior": "Isolated", "invert": False},
    {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False, "trim_offsets": True}]})
add("bl-seq-post", "bpe-byte-level", post_processor={"type": "Sequence", "processors": [
    {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
    {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
     "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
     "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [0], "tokens": ["<|endoftext|>"]}}}]})
add("bl-digits-nfkc", "bpe-byte-level", normalizer={"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]},
    pre_tokenizer={"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True},
    {"type": "Punctuation", "behavior": "MergedWithPrevious"}, {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True, "trim_offsets": True}]})
for beh in ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]:
    for inv in [False, True]:
        add(f"bl-split-{beh}-{inv}", "bpe-byte-level", pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": r"\s+|\d"}, "behavior": beh, "invert": inv},
            {"type": "Split", "pattern": {"String": "e"}, "behavior": beh, "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False, "trim_offsets": True}]})
add("bl-added-flags", "bpe-byte-level", added_tokens=[
    {"id": 0, "content": "<|endoftext|>", "single_word": False, "lstrip": True, "rstrip": True, "normalized": False, "special": True},
    {"id": 1, "content": "hello", "single_word": True, "lstrip": False, "rstrip": False, "normalized": True, "special": False},
    {"id": 2, "content": "world", "single_word": False, "lstrip": True, "rstrip": False, "normalized": False, "special": False},
    {"id": 3, "content": "don", "single_word": False, "lstrip": False, "rstrip": True, "normalized": True, "special": True}],
    normalizer={"type": "Lowercase"})
add("wp-whitespace", "wordpiece", pre_tokenizer={"type": "Whitespace"}, normalizer={"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"}, {"type": "Lowercase"}, {"type": "Strip", "strip_left": True, "strip_right": True}]})
add("wp-wsplit-cased", "wordpiece", pre_tokenizer={"type": "WhitespaceSplit"}, normalizer={"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": False, "strip_accents": False, "lowercase": False},
    post_processor={"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}, model_={"max_input_chars_per_word": 8})
add("wp-roberta", "wordpiece", post_processor={"type": "RobertaProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2], "trim_offsets": True, "add_prefix_space": False}, decoder={"type": "WordPiece", "prefix": "##", "cleanup": False})
add("uni-first", "unigram", pre_tokenizer={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
    decoder={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True})
add("uni-never-nosplit", "unigram", pre_tokenizer={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": False},
    decoder={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": False})
add("uni-charsplit-nfd", "unigram", normalizer={"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "Replace", "pattern": {"Regex": "[aeiou]+"}, "content": "\u2581x"}]},
    pre_tokenizer={"type": "CharDelimiterSplit", "delimiter": " "})
add("uni-bytefallback", "unigram", model_={"byte_fallback": True, "vocab": load("unigram")["model"]["vocab"] + [[f"<0x{b:02X}>", -20.0] for b in range(256)]})
add("sp-nostrip", "bpe-sentencepiece", decoder={"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 2, "stop": 1}]},
    post_processor={"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}], "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}, "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}})
add("sp-nofallback", "bpe-sentencepiece", model_={"byte_fallback": False, "fuse_unk": False})
add("sp-nmt-nfkd", "bpe-sentencepiece", normalizer={"type": "Sequence", "normalizers": [{"type": "Nmt"}, {"type": "NFKD"}, {"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]})

def spm_variant():
    """A SentencePiece unigram model with the nmt_nfkc precompiled charsmap, converted by tokenizers."""
    try:
        import sentencepiece as spm
    except ImportError:
        return
    import glob, tempfile
    text_dir = os.path.join(root, "..", "reference", "text")
    files = sorted(glob.glob(os.path.join(text_dir, "*.txt")))
    if not files:
        return
    tmp = tempfile.mkdtemp()
    spm.SentencePieceTrainer.train(input=",".join(files), model_prefix=os.path.join(tmp, "m"), vocab_size=400,
                                   model_type="unigram", normalization_rule_name="nmt_nfkc", byte_fallback=False,
                                   minloglevel=2)
    from sentencepiece import sentencepiece_model_pb2 as pb
    m = pb.ModelProto()
    m.ParseFromString(open(os.path.join(tmp, "m.model"), "rb").read())
    import base64
    variants["spm-precompiled"] = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(m.normalizer_spec.precompiled_charsmap).decode()},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "post_processor": None,
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": m.trainer_spec.unk_id, "byte_fallback": False,
                  "vocab": [[p.piece, p.score] for p in m.pieces]}}

spm_variant()
for name, j in variants.items():
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    s = json.dumps(j, ensure_ascii=False)
    open(os.path.join(d, "tokenizer.json"), "w").write(s)
    tok = Tokenizer.from_str(s)
    cases = []
    for t in strings:
        try:
            tok.decode(tok.encode(t).ids, skip_special_tokens=True)
        except BaseException as err:   # the library panics on some inputs (e.g. Strip on an empty text)
            print(name, repr(t), "skipped:", type(err).__name__)
            continue
        e = tok.encode(t)
        plain = tok.encode(t, add_special_tokens=False)
        cases.append({"text": t, "ids": e.ids, "tokens": e.tokens, "decoded": tok.decode(e.ids, skip_special_tokens=True),
                      "decoded_all": tok.decode(e.ids, skip_special_tokens=False), "plain_ids": plain.ids})
    for i, c in enumerate(cases):
        p = tok.encode(c["text"], cases[(i + 1) % len(cases)]["text"])
        c["pair"] = cases[(i + 1) % len(cases)]["text"]
        c["pair_ids"] = p.ids
    tok.encode_special_tokens = True
    for c in cases:
        c["unparsed_ids"] = tok.encode(c["text"]).ids
    json.dump(cases, open(os.path.join(d, "expected.json"), "w"), ensure_ascii=False)
print(len(variants), "variants,", len(strings), "strings")
