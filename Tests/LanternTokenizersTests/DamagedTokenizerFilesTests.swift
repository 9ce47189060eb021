import Foundation
import LanternFormats
import Testing
@testable import LanternTokenizers

/// Real tokenizer fixtures damaged in the test. Every damaged tokenizer.json or GGUF vocabulary must
/// either build a tokenizer or throw a `TokenizerError` (a damaged GGUF may already fail to open with a
/// `FormatError`); never crash, hang or allocate by an absurd count.
@Suite("Damaged tokenizer files")
struct DamagedTokenizerFilesTests {
    enum Outcome: Equatable { case built, rejected }

    static let jsonFixtures = ["tokenizers/bpe-byte-level/tokenizer.json", "tokenizers/wordpiece/tokenizer.json",
                               "tokenizers/unigram/tokenizer.json", "tokenizers/bpe-sentencepiece/tokenizer.json"]

    /// Builds both ways a tokenizer.json is read; a thrown error must be a `TokenizerError`.
    static func build(_ data: Data, _ comment: String, sourceLocation: SourceLocation = #_sourceLocation) -> Outcome {
        var outcome = Outcome.built
        do throws(TokenizerError) {
            let t = try HFTokenizer(tokenizerJSON: data)
            _ = t.encode("hello world, héllo 123", parseSpecial: true, addBOS: true)
        } catch {
            outcome = .rejected
        }
        // The GGUF-style byte-level BPE reads only model.vocab, model.merges and added_tokens.
        do throws(TokenizerError) {
            let t = try ByteLevelBPETokenizer(tokenizerJSON: data)
            _ = t.encode("hello world, héllo 123", parseSpecial: true, addBOS: false)
        } catch {
            _ = error.description   // `do throws(TokenizerError)`: the compiler checks the error's type
        }
        return outcome
    }

    @Test("tokenizer.json truncated at evenly spaced points never loads")
    func truncated() throws {
        for fixture in Self.jsonFixtures {
            let full = try Fixtures.data(fixture)
            for n in stride(from: 0, to: full.count - 1, by: max(1, full.count / 150)) {
                #expect(Self.build(full.prefix(n), "\(fixture) cut at \(n)") == .rejected, "\(fixture) cut at \(n) loaded")
            }
        }
    }

    @Test("tokenizer.json with single bytes changed loads or is a typed error")
    func flipped() throws {
        // Building a tokenizer takes milliseconds in a debug build: two fixtures, a few hundred variants each.
        for fixture in ["tokenizers/bpe-byte-level/tokenizer.json", "tokenizers/wordpiece/tokenizer.json"] {
            let original = [UInt8](try Fixtures.data(fixture))
            var results: [Outcome] = []
            // 150 points through the first 2 KB (added tokens, normalizer, pre-tokenizer, the start of
            // the model), 50 through the vocabulary and merges.
            let positions = Array(stride(from: 0, to: min(2048, original.count), by: 14))
                + Array(stride(from: 2048, to: original.count, by: max(1, original.count / 50)))
            for i in positions {
                for replacement: UInt8 in [original[i] ^ 0x20, UInt8(ascii: "\"")] {
                    var bytes = original
                    bytes[i] = replacement
                    results.append(Self.build(Data(bytes), "\(fixture) byte \(i) = \(replacement)"))
                }
            }
            #expect(results.contains(.built) && results.contains(.rejected), "\(fixture)")
        }
    }

    /// The fixture's JSON with `edit` applied to its object tree.
    static func edited(_ fixture: String, _ edit: (inout [String: Any]) -> Void) throws -> Data {
        var top = try #require(try JSONSerialization.jsonObject(with: Fixtures.data(fixture)) as? [String: Any])
        edit(&top)
        return try JSONSerialization.data(withJSONObject: top)
    }

    static func model(_ top: inout [String: Any], _ edit: (inout [String: Any]) -> Void) {
        var m = top["model"] as? [String: Any] ?? [:]
        edit(&m)
        top["model"] = m
    }

    @Test("wrong JSON types and missing keys are typed errors")
    func wrongTypes() throws {
        let bpe = "tokenizers/bpe-byte-level/tokenizer.json"
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("model missing", { $0["model"] = nil }),
            ("model a list", { $0["model"] = [1, 2] }),
            ("model a string", { $0["model"] = "BPE" }),
            ("model.type a number", { Self.model(&$0) { $0["type"] = 5 } }),
            ("model.type unknown", { Self.model(&$0) { $0["type"] = "Quantum" } }),
            ("model.vocab a list", { Self.model(&$0) { $0["vocab"] = ["a", "b"] } }),
            ("model.vocab missing", { Self.model(&$0) { $0["vocab"] = nil } }),
            ("model.vocab ids as strings", { Self.model(&$0) { $0["vocab"] = ["a": "0", "b": "1"] } }),
            ("model.vocab huge id", { Self.model(&$0) { $0["vocab"] = ["a": 0, "b": 1 << 60] } }),
            ("model.vocab empty", { Self.model(&$0) { $0["vocab"] = [String: Int]() } }),
            ("model.merges a number", { Self.model(&$0) { $0["merges"] = 7 } }),
            ("model.merges holding numbers", { Self.model(&$0) { $0["merges"] = [1, 2, 3] } }),
            ("model.merges of unknown tokens", { Self.model(&$0) { $0["merges"] = ["zzzq qqqz"] } }),
            ("model.merges without a space", { Self.model(&$0) { $0["merges"] = ["abc"] } }),
            ("added_tokens an object", { $0["added_tokens"] = ["id": 0] }),
            ("added_tokens id a string", { $0["added_tokens"] = [["id": "x", "content": "<s>", "special": true]] }),
            ("added_tokens content missing", { $0["added_tokens"] = [["id": 0, "special": true]] }),
            ("pre_tokenizer a number", { $0["pre_tokenizer"] = 3 }),
            ("pre_tokenizer unknown type", { $0["pre_tokenizer"] = ["type": "Mystery"] }),
            ("normalizer a list", { $0["normalizer"] = [["type": "NFC"]] }),
            ("decoder unknown type", { $0["decoder"] = ["type": "Mystery"] }),
            ("post_processor unknown type", { $0["post_processor"] = ["type": "Mystery"] }),
        ]
        for (what, edit) in cases {
            let data = try Self.edited(bpe, edit)
            #expect(throws: TokenizerError.self, "\(what)") { try HFTokenizer(tokenizerJSON: data) }
        }
        // Not JSON objects at all.
        for text in ["", "[]", "12", "\"tokenizer\"", "null", "{", "{\"model\": }"] {
            #expect(throws: TokenizerError.self, "\(text)") { try HFTokenizer(tokenizerJSON: Data(text.utf8)) }
            #expect(throws: TokenizerError.self, "\(text)") { try ByteLevelBPETokenizer(tokenizerJSON: Data(text.utf8)) }
        }
    }

    @Test("a tokenizer file larger than any real one is refused before it is read")
    func hugeFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-huge-\(UUID().uuidString).json").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data("{".utf8)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: UInt64(HFTokenizer.maxFileBytes + 1))   // sparse: takes no disk space
        try handle.close()
        #expect(throws: TokenizerError.fileTooLarge(path: path, bytes: HFTokenizer.maxFileBytes + 1, limit: HFTokenizer.maxFileBytes)) {
            try HFTokenizer(contentsOf: URL(fileURLWithPath: path))
        }
        // A small file is read and parsed as before.
        #expect(throws: TokenizerError.self) { try HFTokenizer(contentsOf: URL(fileURLWithPath: "/nonexistent/tokenizer.json")) }
        _ = try HFTokenizer(contentsOf: Fixtures.url("tokenizers/wordpiece/tokenizer.json"))
    }

    // MARK: GGUF vocabularies

    /// The gpt2 fixture's metadata with one key replaced.
    static func ggufMetadata() throws -> [String: GGUFValue] {
        try GGUFFile(path: Fixtures.url("gpt2/model.gguf").path).metadata
    }

    @Test("GGUF vocabularies with wrong types, absurd ids or bad merges are typed errors")
    func ggufMetadataDamage() throws {
        let good = try Self.ggufMetadata()
        _ = try ByteLevelBPETokenizer(gguf: good)
        let n = good["tokenizer.ggml.tokens"]?.array?.count ?? 0
        #expect(n == 512)
        let cases: [(String, GGUFValue?, TokenizerError?)] = [
            ("tokenizer.ggml.tokens", nil, .missingKey("tokenizer.ggml.tokens")),
            ("tokenizer.ggml.tokens", .uint32(5), nil),
            ("tokenizer.ggml.tokens", .array([.uint32(1), .uint32(2)]), nil),
            ("tokenizer.ggml.tokens", .array([]), nil),
            ("tokenizer.ggml.token_type", .array([.int32(1)]), .countMismatch(key: "tokenizer.ggml.token_type", count: 1, expected: n)),
            ("tokenizer.ggml.token_type", .string("normal"), nil),
            ("tokenizer.ggml.merges", .array([.string("nospace")]), nil),
            ("tokenizer.ggml.merges", .array([.uint8(1)]), nil),
            ("tokenizer.ggml.merges", .string("a b"), nil),
            ("tokenizer.ggml.bos_token_id", .uint64(1 << 60), .tokenIDOutOfRange(key: "tokenizer.ggml.bos_token_id", id: 1 << 60, vocabularySize: n)),
            ("tokenizer.ggml.eos_token_id", .int32(-1), .tokenIDOutOfRange(key: "tokenizer.ggml.eos_token_id", id: -1, vocabularySize: n)),
            ("tokenizer.ggml.eos_token_id", .uint64(.max), nil),
            ("tokenizer.ggml.eot_token_id", .uint32(512), .tokenIDOutOfRange(key: "tokenizer.ggml.eot_token_id", id: 512, vocabularySize: n)),
            ("tokenizer.ggml.eos_token_id", .string("2"), nil),
            ("tokenizer.ggml.pre", .string("no-such-splitter"), .unsupportedPreTokenizer("no-such-splitter")),
            ("tokenizer.ggml.pre", .uint8(3), nil),
            ("tokenizer.ggml.model", .string("quantum"), .unsupportedModel("quantum")),
        ]
        for (key, value, expected) in cases {
            var meta = good
            meta[key] = value
            do throws(TokenizerError) {
                _ = try ByteLevelBPETokenizer(gguf: meta)
                Issue.record("\(key) = \(String(describing: value)) built a tokenizer")
            } catch {
                if let expected { #expect(error == expected, "\(key) = \(String(describing: value))") }
            }
        }
    }

    @Test("a GGUF vocabulary with bytes changed loads or is a typed error")
    func ggufVocabularyBytesChanged() throws {
        let path = Fixtures.url("gpt2/model.gguf").path
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let header = try GGUFFile(path: path).dataOffset
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-vocab-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try Data(original).write(to: URL(fileURLWithPath: scratch))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch))
        defer { try? handle.close() }
        func put(_ byte: UInt8, at i: Int) throws {
            try handle.seek(toOffset: UInt64(i))
            try handle.write(contentsOf: Data([byte]))
        }
        var built = 0, rejected = 0
        // The tokenizer keys start at byte 510 (tokenizer.ggml.model) and end before the tensor infos.
        for i in stride(from: 500, to: min(header, 11_528), by: 73) {
            for mask: UInt8 in [0x80] {
                try put(original[i] ^ mask, at: i)
                defer { try? put(original[i], at: i) }
                let metadata: [String: GGUFValue]
                do throws(FormatError) { metadata = try GGUFFile(path: scratch).metadata } catch {
                    rejected += 1
                    continue
                }
                do throws(TokenizerError) {
                    let t = try ByteLevelBPETokenizer(gguf: metadata)
                    _ = t.encode("hello world, héllo 123", parseSpecial: true, addBOS: true)
                    built += 1
                } catch {
                    rejected += 1
                }
            }
        }
        #expect(built > 0 && rejected > 0, "\(built) built, \(rejected) rejected")
    }
}
