import Foundation
import LanternFormats
import Testing
@testable import LanternTokenizers

// MARK: - A hand-built SentencePiece vocabulary

/// Seventeen tokens, scores chosen so that the merge order is visible. Every expected id below is
/// worked out by hand from llama.cpp's SPM algorithm (the comments give the steps), not produced by
/// this library.
enum TinySPM {
    static let entries: [(text: String, type: TokenType, score: Float)] = [
        ("<unk>", .unknown, 0),       // 0
        ("<s>", .control, 0),         // 1
        ("</s>", .control, 0),        // 2
        ("<0x0A>", .byte, 0),         // 3
        ("<0xC3>", .byte, 0),         // 4
        ("<0xA9>", .byte, 0),         // 5
        ("▁", .normal, -1),           // 6
        ("a", .normal, -2),           // 7
        ("b", .normal, -2),           // 8
        ("c", .normal, -2),           // 9
        ("ab", .normal, -3),          // 10
        ("bc", .normal, -0.5),        // 11
        ("▁a", .normal, -1.5),        // 12
        ("aa", .normal, -1),          // 13
        ("<unused0>", .unused, 0),    // 14
        ("<u>", .userDefined, 0),     // 15
        ("x", .normal, -2),           // 16
    ]

    static func make(spacePrefix: Bool) throws -> SentencePieceTokenizer {
        var ids = GGUFSpecialTokenIDs()
        ids.bos = 1
        ids.eos = 2
        ids.unknown = 0
        return try SentencePieceTokenizer(vocabulary: entries.map(\.text), scores: entries.map(\.score),
                                          tokenTypes: entries.map(\.type), specialIDs: ids, addBOS: true,
                                          addSpacePrefix: spacePrefix)
    }

    /// The same vocabulary as GGUF metadata, so that `init(gguf:)` and its rules are exercised.
    static func metadata(spacePrefix: Bool?, extra: [(String, TokenType)] = []) -> [String: GGUFValue] {
        let all = entries.map { ($0.text, $0.type, $0.score) } + extra.map { ($0.0, $0.1, Float(0)) }
        var m: [String: GGUFValue] = [
            "tokenizer.ggml.model": .string("llama"),
            "tokenizer.ggml.tokens": .array(all.map { .string($0.0) }),
            "tokenizer.ggml.scores": .array(all.map { .float32($0.2) }),
            "tokenizer.ggml.token_type": .array(all.map { .int32(Int32($0.1.rawValue)) }),
        ]
        if let spacePrefix { m["tokenizer.ggml.add_space_prefix"] = .bool(spacePrefix) }
        return m
    }
}

@Suite struct SentencePieceTiny {
    @Test func mergesByScore() throws {
        let plain = try TinySPM.make(spacePrefix: false)
        // "abc": pairs ab (-3) and bc (-0.5); bc has the higher score and merges first; "abc" is not a
        // token, so a + bc stays.
        #expect(plain.encode("abc", parseSpecial: false, addBOS: false) == [7, 11])
        // "aaa": both pairs are "aa" (-1), a tie: the leftmost merges first; "aaa" is not a token.
        #expect(plain.encode("aaa", parseSpecial: false, addBOS: false) == [13, 7])
        // "a b" -> "a▁b": neither "a▁" nor "▁b" is a token.
        #expect(plain.encode("a b", parseSpecial: false, addBOS: false) == [7, 6, 8])
    }

    @Test func spacePrefixOnAndOff() throws {
        let prefixed = try TinySPM.make(spacePrefix: true)
        // "▁abc": bc (-0.5) first, then ▁a (-1.5) (ab went stale when b merged); "▁abc" is not a token.
        #expect(prefixed.encode("abc", parseSpecial: false, addBOS: false) == [12, 11])
        #expect(try TinySPM.make(spacePrefix: false).encode("abc", parseSpecial: false, addBOS: false) == [7, 11])
        // BOS does not change the prefix: the first text fragment always gets it.
        #expect(prefixed.encode("abc", parseSpecial: false, addBOS: true) == [1, 12, 11])
        #expect(prefixed.encode("", parseSpecial: false, addBOS: true) == [1])
        #expect(prefixed.encode("", parseSpecial: false, addBOS: false) == [])
        // llama.cpp's SPM default is add_space_prefix = true when the key is absent.
        #expect(try SentencePieceTokenizer(gguf: TinySPM.metadata(spacePrefix: nil)).addsSpacePrefix)
        #expect(try !SentencePieceTokenizer(gguf: TinySPM.metadata(spacePrefix: false)).addsSpacePrefix)
    }

    @Test func byteFallback() throws {
        let tok = try TinySPM.make(spacePrefix: false)
        // "é" is no token: its bytes C3 A9 become <0xC3> <0xA9>; "\n" becomes <0x0A>.
        #expect(tok.encode("é\n", parseSpecial: false, addBOS: false) == [4, 5, 3])
        // "€" (E2 82 AC) has no byte tokens either: each byte becomes <unk>.
        #expect(tok.encode("€", parseSpecial: false, addBOS: false) == [0, 0, 0])
        #expect(tok.decode([4, 5, 3], skipSpecial: true) == "é\n")
        // Half a character decodes to U+FFFD; streaming holds it back until the rest arrives.
        #expect(tok.decode([4], skipSpecial: true) == "\u{FFFD}")
        var stream = StreamingDetokenizer(tokenizer: tok, skipSpecial: true)
        #expect(stream.append(4) == "")
        #expect(stream.append(5) == "é")
    }

    @Test func specialParsing() throws {
        let tok = try TinySPM.make(spacePrefix: true)
        // With parsing, "<s>" is the control token; the text after it starts a fragment, so it gets the
        // space prefix: "▁a" -> 12.
        #expect(tok.encode("<s>a", parseSpecial: true, addBOS: false) == [1, 12])
        // The user-defined "<u>" is matched either way; each "x" fragment is "▁x" -> ▁ x (no "▁x" token).
        #expect(tok.encode("x<u>x", parseSpecial: false, addBOS: false) == [6, 16, 15, 6, 16])
        #expect(tok.encode("x<u>x", parseSpecial: true, addBOS: false) == [6, 16, 15, 6, 16])
        // Without parsing, "<s>" is text: "▁<s>a" -> ▁, then '<' 's' '>' are neither tokens nor have byte
        // tokens (<unk> each), then a.
        #expect(tok.encode("<s>a", parseSpecial: false, addBOS: false) == [6, 0, 0, 0, 7])
    }

    @Test func detokenization() throws {
        let prefixed = try TinySPM.make(spacePrefix: true)
        // "▁a" + "bc" = " abc"; the first token loses its leading space (add_space_prefix).
        #expect(prefixed.decode([12, 11], skipSpecial: true) == "abc")
        // A leading BOS is the first token, so the space of the next one stays (llama_detokenize).
        #expect(prefixed.decode([1, 12, 11], skipSpecial: true) == " abc")
        #expect(prefixed.decode([1, 12, 11], skipSpecial: false) == "<s> abc")
        // Control and unknown tokens render only when asked; user-defined always; unused never.
        #expect(prefixed.decode([7, 0, 2, 15, 14], skipSpecial: true) == "a<u>")
        #expect(prefixed.decode([7, 0, 2, 15, 14], skipSpecial: false) == "a<unk></s><u>")
        // Streaming keeps the first space, as llama.cpp's token_to_piece does.
        var stream = StreamingDetokenizer(tokenizer: prefixed, skipSpecial: true)
        #expect([12, 11].map { stream.append($0) }.joined() + stream.flush() == " abc")
        // Without the prefix nothing is removed.
        #expect(try TinySPM.make(spacePrefix: false).decode([12, 11], skipSpecial: true) == " abc")
        // Ids outside the vocabulary are skipped.
        #expect(prefixed.decode([-1, 99, 7], skipSpecial: false) == "a")
        #expect(prefixed.tokenBytes(99).isEmpty && prefixed.tokenText(99) == nil)
    }

    /// llama.cpp promotes "control-looking" texts and builds the end-of-generation set from them.
    @Test func llamaCppRules() throws {
        let extra: [(String, TokenType)] = [("</end>", .normal), ("<|im_end|>", .normal), ("<|fim_pad|>", .userDefined)]
        var m = TinySPM.metadata(spacePrefix: false, extra: extra)
        // ids 17, 18, 19; "</s>" (2) is already control.
        m["tokenizer.ggml.eos_token_id"] = .uint32(2)
        let tok = try SentencePieceTokenizer(gguf: m)
        #expect(tok.tokenType(17) == .normal)                  // not a listed text
        #expect(tok.tokenType(18) == .control && tok.tokenType(19) == .control)
        #expect(tok.endOfGenerationIDs == [2, 18, 19])
        #expect(tok.encode("<|im_end|>", parseSpecial: true, addBOS: false) == [18])
        #expect(tok.decode([7, 18], skipSpecial: true) == "a")
        // Defaults: bos 1, eos 2, unknown 0, add_bos true.
        let plain = try SentencePieceTokenizer(gguf: TinySPM.metadata(spacePrefix: false))
        #expect(plain.bosTokenID == 1 && plain.eosTokenID == 2 && plain.unknownTokenID == 0 && plain.addsBOS)
    }

    @Test func badMetadataThrowsTypedErrors() {
        #expect(throws: TokenizerError.unsupportedModel("gpt2")) {
            try SentencePieceTokenizer(gguf: ["tokenizer.ggml.model": .string("gpt2")])
        }
        var m = TinySPM.metadata(spacePrefix: false)
        m["tokenizer.ggml.scores"] = .array([.float32(0)])
        #expect(throws: TokenizerError.countMismatch(key: "tokenizer.ggml.scores", count: 1, expected: 17)) {
            try SentencePieceTokenizer(gguf: m)
        }
        m = TinySPM.metadata(spacePrefix: false)
        m["tokenizer.ggml.bos_token_id"] = .uint32(17)
        #expect(throws: TokenizerError.tokenIDOutOfRange(key: "tokenizer.ggml.bos_token_id", id: 17, vocabularySize: 17)) {
            try SentencePieceTokenizer(gguf: m)
        }
    }
}

@Suite struct SpecialTokenPartition {
    /// llama.cpp goes token by token, longest first, not left to right: in "abcd", "bcd" (3 bytes) is
    /// taken before "ab" (2) is looked for, so "ab" no longer fits.
    @Test func longestTokenFirstNotLeftmost() {
        let m = SpecialTokenMatcher([(id: 7, bytes: Array("ab".utf8), alwaysMatched: false),
                                     (id: 9, bytes: Array("bcd".utf8), alwaysMatched: false)])
        #expect(m.partition(Array("abcd".utf8), parseSpecial: true) == [.text(0..<1), .special(9)])
        // One token's occurrences go left to right without overlapping: "aa" in "aaa" once.
        let aa = SpecialTokenMatcher([(id: 3, bytes: Array("aa".utf8), alwaysMatched: true)])
        #expect(aa.partition(Array("aaa".utf8), parseSpecial: false) == [.special(3), .text(2..<3)])
        #expect(aa.partition(Array("xaayaa".utf8), parseSpecial: false)
                == [.text(0..<1), .special(3), .text(3..<4), .special(3)])
        // Without parseSpecial only always-matched (user-defined) tokens count.
        #expect(m.partition(Array("abcd".utf8), parseSpecial: false) == [.text(0..<4)])
        #expect(m.partition([], parseSpecial: true) == [])
    }
}
