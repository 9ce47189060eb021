import Foundation
import Testing

@testable import LanternTokenizers

/// tokenizer.json ids are checked before anything is sized by them.
@Suite("Hostile tokenizer.json")
struct HostileTokenizerJSONTests {
    private func json(vocab: String, added: String = "") -> Data {
        Data(#"{"added_tokens": [\#(added)], "model": {"type": "BPE", "vocab": {\#(vocab)}, "merges": ["a b"]}}"#.utf8)
    }

    @Test("huge, overflowing or negative ids are typed errors naming the id, before any allocation")
    func outOfRangeIDs() {
        #expect(throws: TokenizerError.tokenIDOutOfRange(key: "model.vocab['b']", id: Int.max, vocabularySize: 3)) {
            try ByteLevelBPETokenizer(tokenizerJSON: json(vocab: #""a": 0, "b": 9223372036854775807, "ab": 1"#))
        }
        #expect(throws: TokenizerError.tokenIDOutOfRange(key: "model.vocab['b']", id: 1_099_511_627_776, vocabularySize: 3)) {
            try ByteLevelBPETokenizer(tokenizerJSON: json(vocab: #""a": 0, "b": 1099511627776, "ab": 1"#))
        }
        #expect(throws: TokenizerError.tokenIDOutOfRange(key: "model.vocab['b']", id: -1, vocabularySize: 3)) {
            try ByteLevelBPETokenizer(tokenizerJSON: json(vocab: #""a": 0, "b": -1, "ab": 1"#))
        }
        #expect(throws: TokenizerError.tokenIDOutOfRange(key: "added_tokens['<s>']", id: 1_099_511_627_776, vocabularySize: 4)) {
            try ByteLevelBPETokenizer(tokenizerJSON: json(vocab: #""a": 0, "b": 1, "ab": 2"#,
                added: #"{"id": 1099511627776, "content": "<s>", "special": true}"#))
        }
        #expect(throws: TokenizerError.tokenIDOutOfRange(key: "added_tokens['<s>']", id: Int.min, vocabularySize: 4)) {
            try ByteLevelBPETokenizer(tokenizerJSON: json(vocab: #""a": 0, "b": 1, "ab": 2"#,
                added: #"{"id": -9223372036854775808, "content": "<s>", "special": true}"#))
        }
        // In range but with a hole: still refused, naming the missing id.
        #expect(throws: TokenizerError.invalidTokenizerJSON("no token has id 1 (ids must be 0..<3)")) {
            try ByteLevelBPETokenizer(tokenizerJSON: json(vocab: #""a": 0, "b": 2"#, added: #"{"id": 0, "content": "a", "special": false}"#))
        }
    }

    @Test("dense ids load, with added tokens new or repeating a vocab entry")
    func denseIDs() throws {
        let tokenizer = try ByteLevelBPETokenizer(tokenizerJSON: json(vocab: #""a": 0, "b": 1, "ab": 2"#,
            added: #"{"id": 3, "content": "<s>", "special": true}, {"id": 2, "content": "ab", "special": false}"#))
        #expect(tokenizer.vocabularySize == 4)
    }
}
