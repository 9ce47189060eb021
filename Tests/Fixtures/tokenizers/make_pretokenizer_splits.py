# Regenerates pretokenizer-splits.json: the pieces Hugging Face tokenizers (0.23) cuts with the regexes
# llama.cpp uses for each tokenizer.ggml.pre. Run here: pip install tokenizers; python make_pretokenizer_splits.py
import json, random
from tokenizers import pre_tokenizers, Regex
GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
split = lambda p: pre_tokenizers.Split(Regex(p), behavior="isolated", invert=False)
pts = {
  "gpt-2": split(GPT2),
  "smollm": pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), split(GPT2)]),
  "llama-bpe": split(LLAMA3),
  "qwen2": split(QWEN2),
}
strings = json.load(open('strings.json')) + json.load(open('../smollm2/case.json'))['inputs']['strings']
strings += ["I'M HERE'S 'll 'LL 'Re", "a\u00a0b\u3000c  \u2003x", "\r\n\r\n  \r\n x", "\u0661\u0662\u0663 \u00b2\u00b3 \u216b 12345678", "e\u0301 n\u0303o", "👩‍👩‍👧 ok", "\t\tfoo \n\tbar", "  ", "\n", "x  ", "!!!\n\n\nabc", "$100 +200 <=> ^~|", "'''", "it''s"]
alphabet = list("aZé日 \t\n\r'0९²!?.-,😀") + ["\u00a0", "\u0301", "\u3000", "s", "t", "l", "e", "R", "\u2028"]
random.seed(1)
for _ in range(400):
    strings.append("".join(random.choice(alphabet) for _ in range(random.randint(1, 24))))
out = {"strings": strings, "pieces": {k: [[p for p, _ in pt.pre_tokenize_str(s)] for s in strings] for k, pt in pts.items()}}
json.dump(out, open('pretokenizer-splits.json', 'w', encoding='utf-8'), ensure_ascii=False)
print(len(strings))
