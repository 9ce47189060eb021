import Foundation
import Testing
import LanternFormats
@testable import LanternTokenizers

/// One expected.json entry: what the `tokenizers` library gave for a string.
struct HFCase: Decodable {
    let text: String
    let ids: [Int]
    let tokens: [String]
    let decoded: String
}

// MARK: - The four fixture pipelines, every string

@Suite struct HFTokenizerFixtures {
    static let folders = ["bpe-byte-level", "wordpiece", "unigram", "bpe-sentencepiece"]

    func load(_ folder: String) throws -> (HFTokenizer, [HFCase]) {
        let tok = try HFTokenizer(tokenizerJSON: Fixtures.data("tokenizers/\(folder)/tokenizer.json"))
        let cases = try JSONDecoder().decode([HFCase].self, from: Fixtures.data("tokenizers/\(folder)/expected.json"))
        return (tok, cases)
    }

    @Test(arguments: folders)
    func idsTokensAndDecodedTextMatchTokenizers(_ folder: String) throws {
        let (tok, cases) = try load(folder)
        let strings = try JSONDecoder().decode([String].self, from: Fixtures.data("tokenizers/strings.json"))
        #expect(cases.map(\.text) == strings)
        for c in cases {
            let e = tok.encoding(c.text)
            #expect(e.ids == c.ids, "\(folder) ids: \(c.text.debugDescription)")
            #expect(e.tokens == c.tokens, "\(folder) tokens: \(c.text.debugDescription)")
            #expect(tok.encode(c.text, parseSpecial: true, addBOS: true) == c.ids)
            #expect(tok.decode(c.ids, skipSpecial: true) == c.decoded, "\(folder) decoded: \(c.text.debugDescription)")
        }
    }
}

// MARK: - Extra checks produced by tools/make_hf_extra_checks.py (not committed; opt-in)

@Suite struct HFTokenizerExtra {
    struct ExtraCase: Decodable {
        let text: String
        let ids: [Int]
        let tokens: [String]
        let decoded: String
        let decoded_all: String
        let plain_ids: [Int]
        let unparsed_ids: [Int]
        let pair: String
        let pair_ids: [Int]
    }

    static let root = ProcessInfo.processInfo.environment["LANTERN_HF_EXTRA"]

    @Test(.enabled(if: root != nil, "set LANTERN_HF_EXTRA to the output of tools/make_hf_extra_checks.py"))
    func variantsMatchTokenizers() throws {
        let root = URL(fileURLWithPath: try #require(Self.root))
        let names = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
        #expect(!names.isEmpty)
        for name in names {
            let dir = root.appendingPathComponent(name)
            let tok = try HFTokenizer(contentsOf: dir.appendingPathComponent("tokenizer.json"))
            let cases = try JSONDecoder().decode([ExtraCase].self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
            var failures = 0
            for c in cases where failures < 5 {
                let e = tok.encoding(c.text)
                let ok = e.ids == c.ids && e.tokens == c.tokens
                    && tok.decode(c.ids, skipSpecial: true) == c.decoded
                    && tok.decode(c.ids, skipSpecial: false) == c.decoded_all
                    && tok.encode(c.text, parseSpecial: true, addBOS: false) == c.plain_ids
                    && tok.encode(c.text, parseSpecial: false, addBOS: true) == c.unparsed_ids
                    && tok.encoding(c.text, pair: c.pair).ids == c.pair_ids
                if !ok {
                    failures += 1
                    Issue.record("""
                        \(name) \(c.text.debugDescription)
                          ids \(e.ids) expected \(c.ids)
                          tokens \(e.tokens) expected \(c.tokens)
                          decoded \(tok.decode(c.ids, skipSpecial: true).debugDescription) expected \(c.decoded.debugDescription)
                          all \(tok.decode(c.ids, skipSpecial: false).debugDescription) expected \(c.decoded_all.debugDescription)
                          plain \(tok.encode(c.text, parseSpecial: true, addBOS: false)) expected \(c.plain_ids)
                          unparsed \(tok.encode(c.text, parseSpecial: false, addBOS: true)) expected \(c.unparsed_ids)
                          pair \(tok.encoding(c.text, pair: c.pair).ids) expected \(c.pair_ids)
                        """)
                }
            }
        }
    }
}

// MARK: - Real tokenizers: SmolLM2's tokenizer.json, all-MiniLM-L6-v2's vocab.txt

@Suite struct HFTokenizerRealModels {
    /// transformers' ids for SmolLM2 (no BOS: its post-processor adds nothing). The pipeline has no
    /// digit split, unlike llama.cpp's `smollm` pre-tokenizer (see BPESmolLM2), so the llama.cpp
    /// greedy prompts are only compared where they hold no digits.
    @Test func smolLM2TokenizerJSONMatchesTransformers() throws {
        let tok = try HFTokenizer(tokenizerJSON: Fixtures.data("smollm2/tokenizer.json"))
        let c = try Fixtures.smolCase()
        let expected = try SafetensorsFile(path: Fixtures.url("smollm2/expected.safetensors").path)
        let stringIDs = try Fixtures.paddedRows(expected, "string_ids", lengths: "string_lengths")
        let promptIDs = try Fixtures.paddedRows(expected, "prompt_ids", lengths: "prompt_lengths")
        #expect(tok.vocabularySize == 49152 && !tok.addsBOS)
        for (s, ids) in zip(c.inputs.strings, stringIDs) {
            #expect(tok.encode(s, parseSpecial: true, addBOS: true) == ids, "\(s.debugDescription)")
            #expect(tok.decode(ids, skipSpecial: false) == s)
        }
        for (p, ids) in zip(c.inputs.prompts, promptIDs) {
            #expect(tok.encode(p, parseSpecial: true, addBOS: false) == ids, "\(p.debugDescription)")
        }
        for line in try Fixtures.greedyLines() {
            if !line.prompt.contains(where: \.isNumber) {
                #expect(tok.encode(line.prompt, parseSpecial: true, addBOS: false) == line.prompt_ids)
            }
            #expect(tok.decode(line.greedy_ids, skipSpecial: true) == line.text)
            var stream = StreamingDetokenizer(tokenizer: tok, skipSpecial: true)
            let streamed = line.greedy_ids.map { stream.append($0) }.joined() + stream.flush()
            #expect(streamed == line.text)
        }
        // Same vocabulary strings as the GGUF-style loader.
        let bpe = try #require(Fixtures.smolFromJSON)
        for id in [0, 1, 2, 100, 49151] { #expect(tok.tokenBytes(id) == bpe.tokenBytes(id)) }
        #expect(tok.endOfGenerationIDs.isSuperset(of: [0, 2]))
        #expect(tok.isSpecial(1) && !tok.isSpecial(100))
    }

    struct MiniLMCase: Decodable {
        struct Inputs: Decodable { let sentences: [String]; let input_ids: [[Int]]; let tokens: [[String]] }
        let inputs: Inputs
    }

    @Test func miniLMVocabTxtMatchesBertTokenizer() throws {
        let tok = try WordPieceTokenizer.bert(vocabTxt: Fixtures.data("minilm/vocab.txt"),
                                              tokenizerConfig: Fixtures.data("minilm/tokenizer_config.json"))
        let c = try JSONDecoder().decode(MiniLMCase.self, from: Fixtures.data("minilm/case.json"))
        #expect(c.inputs.sentences.count == 8)
        for (i, s) in c.inputs.sentences.enumerated() {
            let e = tok.encoding(s)
            #expect(e.ids == c.inputs.input_ids[i], "\(s.debugDescription)")
            #expect(e.tokens == c.inputs.tokens[i], "\(s.debugDescription)")
        }
        #expect(tok.vocabularySize == 30522 && tok.bosTokenID == 101 && tok.eosTokenID == 102 && tok.addsBOS)
        #expect(tok.encode("[CLS] hi", parseSpecial: true, addBOS: false) == [101, 7632])
        #expect(tok.encode("[CLS] hi", parseSpecial: false, addBOS: false).first != 101)
        #expect(tok.decode(tok.encode("Hello, World!"), skipSpecial: true) == "hello, world!")
        // The folder form reads the same files.
        let folder = try WordPieceTokenizer.bert(directory: Fixtures.url("minilm"))
        #expect(folder.encode(c.inputs.sentences[2]) == c.inputs.input_ids[2])
    }
}

// MARK: - Errors: typed, naming the component, never a crash

@Suite struct HFTokenizerErrors {
    static let model = #""model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}"#

    func load(_ body: String) throws(TokenizerError) -> HFTokenizer {
        try HFTokenizer(tokenizerJSON: Data("{\(body)}".utf8))
    }

    @Test func unknownComponentTypesAreNamed() {
        #expect(throws: TokenizerError.unsupportedComponent("normalizer", "Foo")) {
            try load(#""normalizer": {"type": "Foo"}, "# + Self.model)
        }
        #expect(throws: TokenizerError.unsupportedComponent("normalizer", "Bar")) {
            try load(#""normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Bar"}]}, "# + Self.model)
        }
        #expect(throws: TokenizerError.unsupportedComponent("pre_tokenizer", "Foo")) {
            try load(#""pre_tokenizer": {"type": "Foo"}, "# + Self.model)
        }
        #expect(throws: TokenizerError.unsupportedComponent("model", "Foo")) {
            try load(#""model": {"type": "Foo", "vocab": {}}"#)
        }
        #expect(throws: TokenizerError.unsupportedComponent("decoder", "Foo")) {
            try load(#""decoder": {"type": "Foo"}, "# + Self.model)
        }
        #expect(throws: TokenizerError.unsupportedComponent("post_processor", "Foo")) {
            try load(#""post_processor": {"type": "Foo"}, "# + Self.model)
        }
        #expect(TokenizerError.unsupportedComponent("normalizer", "Foo").description.contains("'Foo'"))
    }

    @Test func malformedJSONIsATypedError() {
        for body in ["", #""model": "#, #""model": 3"#, #""model": {"type": "BPE", "vocab": {"a": "x"}}"#,
                     #""model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a"]}"#,
                     #""normalizer": {"type": "Replace", "pattern": {"Regex": "("}, "content": ""}, "# + Self.model,
                     #""normalizer": {"type": "Replace", "content": ""}, "# + Self.model,
                     #""pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"}, "# + Self.model,
                     #""normalizer": {"type": "Precompiled", "precompiled_charsmap": "!!"}, "# + Self.model,
                     #""normalizer": {"type": "Precompiled", "precompiled_charsmap": "/////w=="}, "# + Self.model,
                     #""post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "X", "type_id": 0}}]}, "# + Self.model,
                     #""model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"}"#] {
            #expect(throws: TokenizerError.self, "\(body)") { try load(body) }
        }
        #expect(throws: TokenizerError.badMerge(index: 0, entry: "a")) {
            try load(#""model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a"]}"#)
        }
    }

    @Test func hostileIDsAreRangeChecked() {
        #expect(throws: TokenizerError.tokenIDOutOfRange(key: "model.vocab['a']", id: Int.max, vocabularySize: 1)) {
            try load(#""model": {"type": "WordPiece", "vocab": {"a": 9223372036854775807}}"#)
        }
        #expect(throws: TokenizerError.tokenIDOutOfRange(key: "post_processor special token", id: 99, vocabularySize: 3)) {
            try load(#""post_processor": {"type": "BertProcessing", "sep": ["b", 99], "cls": ["a", 0]}, "# + Self.model)
        }
        #expect(throws: TokenizerError.tokenIDOutOfRange(key: "model.unk_id", id: 5, vocabularySize: 1)) {
            try load(#""model": {"type": "Unigram", "vocab": [["a", -1.0]], "unk_id": 5}"#)
        }
    }

    @Test func outOfRangeIDsDecodeToNothing() throws {
        let tok = try load(Self.model)
        #expect(tok.encode("abab", parseSpecial: false, addBOS: false) == [2, 2])
        #expect(tok.decode([-1, 2, 3, Int.max], skipSpecial: false) == "ab")     // no decoder: joined by spaces
        #expect(tok.tokenBytes(Int.min).isEmpty && tok.tokenText(3) == nil && !tok.isSpecial(-1))
    }
}
