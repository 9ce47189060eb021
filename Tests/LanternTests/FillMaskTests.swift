import Foundation
import Testing
import LanternFormats
@testable import Lantern

/// Fill-mask on the tiny BERT fixture (no tokenizer: token ids, mask id 3), against the top-5 of
/// transformers' own `mlm_logits` in expected.safetensors.
@Suite struct FillMaskTests {
    let expected: SafetensorsFile
    let sentences: [[Int]]
    let types: [[Int]]
    static let L = 11, vocab = 512, mask = 3

    init() throws {
        expected = try SafetensorsFile(path: fixturePath("bert/expected.safetensors"))
        let ids = try expected.ints("input_ids"), m = try expected.ints("attention_mask"), tt = try expected.ints("token_type_ids")
        sentences = (0..<2).map { r in (0..<Self.L).filter { m[r * Self.L + $0] == 1 }.map { ids[r * Self.L + $0] } }
        types = (0..<2).map { r in (0..<Self.L).filter { m[r * Self.L + $0] == 1 }.map { tt[r * Self.L + $0] } }
    }

    /// Top `n` (id, probability) of transformers' logits at (sentence, position), in double precision.
    func reference(_ r: Int, _ p: Int, top n: Int) throws -> [(Int, Double)] {
        let logits = try expected.floats("mlm_logits")
        let row = logits[((r * Self.L + p) * Self.vocab)..<((r * Self.L + p + 1) * Self.vocab)].map(Double.init)
        let m = row.max()!
        let total = row.reduce(0) { $0 + exp($1 - m) }
        return row.indices.sorted { row[$0] > row[$1] }.prefix(n).map { ($0, exp(row[$0] - m) / total) }
    }

    @Test func topFiveMatchesTransformers() throws {
        let model = try SentenceEmbedder(path: fixturePath("bert"), threads: 2)
        for (r, s) in sentences.enumerated() {
            let got = try model.fillMask(tokens: s, tokenTypes: types[r], maskID: Self.mask, top: 5)
            let positions = s.indices.filter { s[$0] == Self.mask }
            #expect(got.count == positions.count && !positions.isEmpty)
            for (p, candidates) in zip(positions, got) {
                let want = try reference(r, p, top: 5)
                #expect(candidates.map(\.token) == want.map(\.0), "sentence \(r) position \(p)")
                for (c, w) in zip(candidates, want) { #expect(abs(Double(c.probability) - w.1) <= 1e-4) }
            }
        }
    }

    @Test func errorsAreTyped() throws {
        let model = try SentenceEmbedder(path: fixturePath("bert"), threads: 1)
        #expect(throws: EmbeddingError.noMaskToken(path: fixturePath("bert"))) {
            try model.fillMask(tokens: [1, 5, 2], maskID: Self.mask, top: 5)
        }
        #expect(model.maskTokenID == nil)
        #expect(throws: LanternError.self) { try model.tokenize("no tokenizer here") }
    }

    @Test func cliWithTokenIDs() throws {
        let s = sentences[1], t = types[1]
        let r = try CLI.run(["fill-mask", "--model", fixturePath("bert"), "--threads", "2", "--format", "json",
                             "--tokens", s.map(String.init).joined(separator: ","),
                             "--token-types", t.map(String.init).joined(separator: ","), "--mask-id", "3", "--top", "3"])
        #expect(r.status == 0, "\(r.stderr)")
        let masks = try #require(try CLI.json(r.stdout)["masks"] as? [[String: Any]])
        #expect(masks.count == 1)
        #expect(masks.first?["position"] as? Int == 2)
        let candidates = try #require(masks.first?["candidates"] as? [[String: Any]])
        let want = try reference(1, 2, top: 3)
        #expect(candidates.compactMap { $0["token"] as? Int } == want.map(\.0))
        let text = try CLI.run(["fill-mask", "--model", fixturePath("bert"), "--tokens", s.map(String.init).joined(separator: ","),
                                "--token-types", t.map(String.init).joined(separator: ","), "--mask-id", "3"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("mask at position 2"))
        // a text needs a tokenizer
        let bad = try CLI.run(["fill-mask", "--model", fixturePath("bert"), "Paris is the [MASK] of France."])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("tokenizer"))
    }
}
