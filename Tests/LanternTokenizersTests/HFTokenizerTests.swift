import Foundation
import Testing
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
                        """)
                }
            }
        }
    }
}
