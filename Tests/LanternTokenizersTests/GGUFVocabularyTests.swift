import Foundation
import LanternFormats
import Testing
import Lantern
@testable import LanternTokenizers

/// Qwen2.5-Coder-0.5B (byte-level BPE) and Gemma 3 270M (SentencePiece) against llama.cpp's own
/// answers in Tests/Fixtures/reference (see its README): the shared tokenizer cases, the greedy runs'
/// prompts and texts, the perplexity text's token count, and the extra cases of
/// tools/gguf_tokenizer_extra.py.
enum RealVocabulary {
    /// The model file through the fetcher's cache (fetched when absent, as the CLI does), then its
    /// tokenizer built by the facade's choice. Loaded once per model.
    static let qwen = load("qwen2.5-0.5b")
    static let gemma = load("gemma3-270m")

    struct Loaded: @unchecked Sendable {
        let tokenizer: any Tokenizer
        /// Seconds `LoadedModel.tokenizer(gguf:)` took (the GGUF metadata already parsed).
        let buildSeconds: Double
    }

    private static func load(_ name: String) -> Result<Loaded, any Error> {
        Result {
            guard let entry = ModelCatalog.entry(named: name) else { throw TokenizerError.unsupportedModel(name) }
            let url = try ModelFetcher().ensure(entry)
            let metadata = try GGUFFile(path: url.path).metadata
            let clock = ContinuousClock()
            let start = clock.now
            let tokenizer = try LoadedModel.tokenizer(gguf: metadata)
            let elapsed = clock.now - start
            return Loaded(tokenizer: tokenizer,
                          buildSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        }
    }

    /// The loaded tokenizer, or the test is cancelled saying why (only when fetching or opening fails).
    static func get(_ name: String) throws -> Loaded {
        switch name == "gemma3-270m" ? gemma : qwen {
        case let .success(loaded): return loaded
        case let .failure(error): try Test.cancel("\(name) could not be fetched or opened: \(error)")
        }
    }

    struct TokenizerLine: Decodable { let text: String; let add_bos: Bool; let ids: [Int] }
    struct Perplexity: Decodable { let n_tokens: Int; let add_bos: Bool }
    struct Extra: Decodable {
        struct Encode: Decodable { let text: String; let add_special: Bool; let parse_special: Bool; let ids: [Int] }
        struct Decode: Decodable { let ids: [Int]; let remove_special: Bool; let unparse_special: Bool; let hex: String }
        let add_bos: Bool
        let eog_ids: [Int]
        let control_ids: [Int]
        let encode: [Encode]
        let decode: [Decode]
    }

    static func lines<T: Decodable>(_ file: String, as: T.Type) throws -> [T] {
        let text = String(decoding: try Fixtures.data("reference/" + file), as: UTF8.self)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }
}

@Suite(.serialized) struct RealVocabularies {
    static let names = ["qwen2.5-0.5b", "gemma3-270m"]

    @Test(arguments: names) func facadePicksTheTokenizerByModel(_ name: String) throws {
        let tok = try RealVocabulary.get(name).tokenizer
        if name == "gemma3-270m" {
            let spm = try #require(tok as? SentencePieceTokenizer)
            #expect(spm.vocabularySize == 262_144 && !spm.addsSpacePrefix && spm.addsBOS && !spm.addsEOS)
            #expect(spm.bosTokenID == 2 && spm.eosTokenID == 1 && spm.unknownTokenID == 3 && spm.paddingTokenID == 0)
        } else {
            #expect(tok is ByteLevelBPETokenizer)
            #expect(!tok.addsBOS)
        }
    }

    /// The 14 shared strings: special parsing on, BOS as the `add_bos` field says.
    @Test(arguments: names) func referenceStringsMatchLlamaCpp(_ name: String) throws {
        let tok = try RealVocabulary.get(name).tokenizer
        let cases = try RealVocabulary.lines("\(name)-tokenizer.jsonl", as: RealVocabulary.TokenizerLine.self)
        #expect(cases.count == 14)
        for c in cases {
            #expect(c.add_bos == tok.addsBOS)
            #expect(tok.encode(c.text, parseSpecial: true, addBOS: c.add_bos) == c.ids, "\(c.text.debugDescription)")
        }
    }

    /// Prompts tokenized with special parsing and BOS per metadata; greedy ids detokenized without
    /// special tokens, as llama.cpp's binding did, both whole and streamed.
    @Test(arguments: names) func greedyPromptsAndTextsMatchLlamaCpp(_ name: String) throws {
        let tok = try RealVocabulary.get(name).tokenizer
        let lines = try RealVocabulary.lines("\(name)-greedy-llamacpp.jsonl", as: Fixtures.GreedyLine.self)
        #expect(lines.count == 5)
        for line in lines {
            #expect(tok.encode(line.prompt, parseSpecial: true, addBOS: tok.addsBOS) == line.prompt_ids,
                    "\(line.prompt.debugDescription)")
            #expect(tok.decode(line.greedy_ids, skipSpecial: true) == line.text)
            var stream = StreamingDetokenizer(tokenizer: tok, skipSpecial: true)
            let streamed = line.greedy_ids.map { stream.append($0) }.joined() + stream.flush()
            #expect(streamed == line.text)
        }
    }

    /// The Apache license as llama.cpp's perplexity run tokenized it: whole, special parsing off, BOS
    /// per metadata (Gemma: 2323 including the BOS; Qwen: 2273, no BOS).
    @Test(arguments: names) func perplexityTextTokenCount(_ name: String) throws {
        let tok = try RealVocabulary.get(name).tokenizer
        let reference = try JSONDecoder().decode(RealVocabulary.Perplexity.self,
                                                 from: Fixtures.data("reference/\(name)-perplexity.json"))
        let text = String(decoding: try Fixtures.data("reference/text/apache-2.0.txt"), as: UTF8.self)
        #expect(reference.add_bos == tok.addsBOS)
        let ids = tok.encode(text, parseSpecial: false, addBOS: reference.add_bos)
        #expect(ids.count == reference.n_tokens)
        #expect(tok.decode(ids, skipSpecial: true) == text)
    }

    /// More strings (byte fallback, rare scripts, whitespace runs, special tokens and look-alikes) with
    /// every add_special / parse_special combination, detokenization with and without special
    /// pieces, and the end-of-generation and control sets after llama.cpp's loader rules.
    @Test(arguments: names) func extraCasesMatchLlamaCpp(_ name: String) throws {
        let tok = try RealVocabulary.get(name).tokenizer
        let extra = try JSONDecoder().decode(RealVocabulary.Extra.self,
                                             from: Fixtures.data("reference/\(name)-tokenizer-extra.json"))
        #expect(extra.add_bos == tok.addsBOS)
        #expect(tok.endOfGenerationIDs == Set(extra.eog_ids))
        #expect((0..<tok.vocabularySize).filter { controlType(tok, $0) } == extra.control_ids)
        #expect(extra.encode.count > 90)
        for c in extra.encode {
            // llama.cpp's add_special adds BOS only when the model asks for it.
            let ids = tok.encode(c.text, parseSpecial: c.parse_special, addBOS: c.add_special && tok.addsBOS)
            #expect(ids == c.ids, "\(c.text.debugDescription) add_special \(c.add_special) parse_special \(c.parse_special)")
        }
        #expect(extra.decode.count > 20)
        for d in extra.decode where !d.remove_special {
            let bytes = Array(tok.decode(d.ids, skipSpecial: !d.unparse_special).utf8)
            // llama.cpp's bytes may end in half a character; decode turns that into U+FFFD.
            let expected = Array(String(decoding: hexBytes(d.hex), as: UTF8.self).utf8)
            #expect(bytes == expected, "\(d.ids) unparse_special \(d.unparse_special)")
        }
    }

    /// Qwen's ordinary token 128247 `</s>` is promoted to control by llama.cpp's loader, so it is one
    /// token with special parsing and three without; Gemma's user-defined 212 `</s>` likewise.
    @Test func controlLookingTokensArePromoted() throws {
        let qwen = try RealVocabulary.get("qwen2.5-0.5b").tokenizer
        #expect(qwen.encode("</s>", parseSpecial: true, addBOS: false) == [128247])
        #expect(qwen.encode("</s>", parseSpecial: false, addBOS: false) == [522, 82, 29])
        #expect(qwen.isSpecial(128247) && qwen.decode([128247], skipSpecial: true).isEmpty)
        #expect(qwen.endOfGenerationIDs.isSuperset(of: [151643, 151645, 128247]))
        let gemma = try RealVocabulary.get("gemma3-270m").tokenizer
        #expect(gemma.encode("</s>", parseSpecial: true, addBOS: false) == [212])
        #expect(gemma.isSpecial(212))
        #expect(gemma.endOfGenerationIDs == [1, 106, 212])
    }

    /// Building Gemma's 262,144-token vocabulary from parsed metadata is linear, not quadratic: 0.24 s
    /// measured in a release build on 2 busy cores, 1.1 s under AddressSanitizer; a quadratic build would
    /// take minutes, so the bound is loose enough for any sanitizer or load and still catches that.
    @Test func gemmaBuildsQuickly() throws {
        let loaded = try RealVocabulary.get("gemma3-270m")
        #expect(loaded.buildSeconds < 10, "built in \(loaded.buildSeconds) s")
    }

    func controlType(_ tok: any Tokenizer, _ id: Int) -> Bool {
        if let spm = tok as? SentencePieceTokenizer { return spm.tokenType(id) == .control }
        if let bpe = tok as? ByteLevelBPETokenizer { return bpe.tokenType(id) == .control }
        return false
    }

    func hexBytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count - 1, by: 2).compactMap { UInt8(String(decoding: digits[$0...($0 + 1)], as: UTF8.self), radix: 16) }
    }
}

@Suite struct GGUFTokenizerChoice {
    /// The facade names the value it cannot handle (llama.cpp also has "bert", "t5", "rwkv" ...).
    @Test func unknownModelIsATypedError() throws {
        #expect(throws: TokenizerError.unsupportedModel("t5")) {
            try LoadedModel.tokenizer(gguf: ["tokenizer.ggml.model": .string("t5")])
        }
        #expect(throws: TokenizerError.missingKey("tokenizer.ggml.model")) { try LoadedModel.tokenizer(gguf: [:]) }
        #expect(throws: TokenizerError.wrongType(key: "tokenizer.ggml.model", expected: "str", found: "u32")) {
            try LoadedModel.tokenizer(gguf: ["tokenizer.ggml.model": .uint32(1)])
        }
        #expect(try LoadedModel.tokenizer(gguf: TinySPM.metadata(spacePrefix: true)) is SentencePieceTokenizer)
    }
}
