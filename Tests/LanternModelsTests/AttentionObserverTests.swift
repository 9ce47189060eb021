import Foundation
import Testing
import LanternFormats
@testable import LanternModels

/// The attention observer against transformers' eager `output_attentions` (Fixtures/<name>/attentions.json,
/// made by tools/make_attention_fixture.py): every layer and head of causal decoders (GPT-2 learned
/// positions, LLaMA RoPE + GQA, BLOOM ALiBi), a bidirectional encoder (BERT with token types) and
/// encoder-decoders (T5 relative bias, BART): encoder, decoder and cross-attention maps.
@Suite struct AttentionObserverTests {
    /// Largest allowed |lantern - transformers| of one probability: 1e-5, or 4x the reference's own
    /// float32-vs-float64 error where that is larger (T5: scale 1 and large scores, 1.9e-5 in one case).
    static func tolerance(_ c: Case) -> Float { max(1e-5, 4 * c.float32Error) }

    struct Case {
        let inputIDs: [Int]
        let tokenTypes: [Int]?
        let decoderIDs: [Int]?
        let attentions: [[[[Float]]]]          // [layer][head][row][col]
        let decoderAttentions: [[[[Float]]]]?
        let crossAttentions: [[[[Float]]]]?
        let float32Error: Float
    }

    static func cases(_ name: String) throws -> [Case] {
        let url = URL(fileURLWithPath: fixturePath(name) + "/attentions.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        func maps(_ v: Any?) -> [[[[Float]]]]? {
            (v as? [[[[Double]]]]).map { $0.map { $0.map { $0.map { $0.map(Float.init) } } } }
        }
        return try (json?["cases"] as? [[String: Any]] ?? []).map { c in
            guard let ids = c["input_ids"] as? [Int], let a = maps(c["attentions"]) else { throw ModelError.emptyInput }
            return Case(inputIDs: ids, tokenTypes: c["token_type_ids"] as? [Int], decoderIDs: c["decoder_input_ids"] as? [Int],
                        attentions: a, decoderAttentions: maps(c["decoder_attentions"]),
                        crossAttentions: maps(c["cross_attentions"]),
                        float32Error: Float(c["float32_error"] as? Double ?? 0))
        }
    }

    static func load(_ name: String) throws -> Network {
        try ModelRegistry.load(folder: ModelFolder(path: fixturePath(name)), compute: ComputeOptions(threads: 2))
    }

    /// Largest |a - b| over two maps of one shape; infinity when the shapes differ.
    static func worst(_ a: [[Float]], _ b: [[Float]]) -> Float {
        guard a.count == b.count, zip(a, b).allSatisfy({ $0.count == $1.count }) else { return .infinity }
        return zip(a, b).map { zip($0, $1).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
    }

    /// Every row sums to 1 within 1e-5 and every key after a causal row's position is exactly 0.
    static func wellFormed(_ map: [[Float]], causal: Bool) -> Bool {
        map.enumerated().allSatisfy { r, row in
            abs(row.reduce(0, +) - 1) <= 1e-5 && (!causal || row[(r + 1)...].allSatisfy { $0 == 0 })
        }
    }

    @Test(arguments: ["gpt2", "llama", "bloom"])
    func decoderMapsEqualTransformers(_ name: String) throws {
        guard case let .decoder(model) = try Self.load(name) else { Issue.record("\(name) is not a decoder"); return }
        for c in try Self.cases(name) {
            let n = c.inputIDs.count
            for layer in 0..<c.attentions.count {
                let observer = AttentionObserver(layer: layer, rows: n, columns: n)
                _ = try model.forward(c.inputIDs, cache: model.makeCache(capacity: n), observer: observer)
                #expect(observer.recordedHeads == Array(0..<c.attentions[layer].count))
                for (h, want) in c.attentions[layer].enumerated() {
                    let got = observer.weights(head: h)
                    #expect(Self.worst(got, want) <= Self.tolerance(c), "\(name) layer \(layer) head \(h): \(Self.worst(got, want))")
                    #expect(Self.wellFormed(got, causal: true))
                }
            }
        }
    }

    /// Decoding one token at a time fills the same map row by row (each step records its own row).
    @Test func decodeStepsFillTheMapRowByRow() throws {
        guard case let .decoder(model) = try Self.load("gpt2") else { return }
        let c = try Self.cases("gpt2")[0]
        let n = c.inputIDs.count
        let observer = AttentionObserver(layer: 1, rows: n, columns: n)
        let cache = try model.makeCache(capacity: n)
        _ = try model.forward(Array(c.inputIDs[..<4]), cache: cache, rows: .last, observer: observer)
        #expect(observer.rowCount == 4)
        for t in c.inputIDs[4...] { _ = try model.forward([t], cache: cache, rows: .last, observer: observer) }
        #expect(observer.rowCount == n && observer.columnCount == n)
        for (h, want) in c.attentions[1].enumerated() {
            #expect(Self.worst(observer.weights(head: h), want) <= Self.tolerance(c))
        }
    }

    /// The llama fixture rebuilt with a sliding window of 3 keys (Gemma 3's local layers): keys before the
    /// window are exactly 0 and the rest is transformers' full-context map renormalised over the window
    /// (a softmax restricted to a subset of its keys), within the tolerance scaled by that renormalisation.
    @Test func slidingWindowRowsAreTheFullRowRenormalised() throws {
        guard case let .decoder(full) = try Self.load("llama") else { return }
        let w = 3
        let blocks = full.stack.blocks.map { b in
            let a = b.attention
            return TransformerBlock(placement: b.placement, attentionNorm: b.attentionNorm, attention: Attention(
                q: a.q, k: a.k, v: a.v, o: a.o, heads: a.heads, kvHeads: a.kvHeads, headDim: a.headDim, scale: a.scale,
                position: a.position, mask: a.mask, queryNorm: a.queryNorm, keyNorm: a.keyNorm, window: w),
                feedForwardNorm: b.feedForwardNorm, feedForward: b.feedForward)
        }
        let stack = TransformerStack(embeddings: full.stack.embeddings, blocks: blocks, finalNorm: full.stack.finalNorm,
                                     ropes: full.stack.ropes)
        let model = DecoderModel(architecture: "llama", stack: stack, head: full.head, maxContextLength: full.maxContextLength,
                                 compute: full.compute, store: try SafetensorsFile(path: fixturePath("llama") + "/model.safetensors"))
        let c = try Self.cases("llama")[0]
        let n = c.inputIDs.count
        try withExtendedLifetime(full) {
            // Layer 0 only: its input does not depend on the window, later layers' inputs do.
            let observer = AttentionObserver(layer: 0, rows: n, columns: n)
            _ = try model.forward(c.inputIDs, cache: model.makeCache(capacity: n), observer: observer)
            for (h, want) in c.attentions[0].enumerated() {
                let got = observer.weights(head: h)
                for p in 0..<n {
                    let first = max(0, p + 1 - w)
                    let kept = want[p][first...p].reduce(0, +)
                    #expect(got[p][..<first].allSatisfy { $0 == 0 } && got[p][(p + 1)...].allSatisfy { $0 == 0 })
                    for j in first...p {
                        #expect(abs(got[p][j] - want[p][j] / kept) <= Self.tolerance(c) / kept, "head \(h) row \(p) key \(j)")
                    }
                    #expect(abs(got[p].reduce(0, +) - 1) <= 1e-5)
                }
            }
        }
    }

    @Test func oneHeadIsThatHeadOfTheFullMap() throws {
        guard case let .decoder(model) = try Self.load("llama") else { return }
        let ids = try Self.cases("llama")[0].inputIDs
        let all = AttentionObserver(layer: 0, rows: ids.count, columns: ids.count)
        let one = AttentionObserver(layer: 0, head: 3, rows: ids.count, columns: ids.count)
        _ = try model.forward(ids, cache: model.makeCache(capacity: ids.count), observer: all)
        _ = try model.forward(ids, cache: model.makeCache(capacity: ids.count), observer: one)
        #expect(one.recordedHeads == [3])
        #expect(one.maps == [all.weights(head: 3)])
        #expect(one.weights(head: 2).isEmpty)
    }

    @Test func encoderMapsEqualTransformers() throws {
        guard case let .encoder(model) = try Self.load("bert") else { Issue.record("bert is not an encoder"); return }
        for c in try Self.cases("bert") {
            let n = c.inputIDs.count
            for layer in 0..<c.attentions.count {
                let observer = AttentionObserver(layer: layer, rows: n, columns: n)
                _ = try model.encode([c.inputIDs], tokenTypes: c.tokenTypes.map { [$0] }, observer: observer)
                for (h, want) in c.attentions[layer].enumerated() {
                    let got = observer.weights(head: h)
                    #expect(Self.worst(got, want) <= Self.tolerance(c), "bert layer \(layer) head \(h): \(Self.worst(got, want))")
                    #expect(Self.wellFormed(got, causal: false))
                }
            }
        }
    }

    /// Encoder self-attention, decoder self-attention and cross-attention (decoder rows over encoder
    /// columns) of T5 and BART.
    @Test(arguments: ["t5", "bart"])
    func encoderDecoderMapsEqualTransformers(_ name: String) throws {
        guard case let .encoderDecoder(model) = try Self.load(name) else { Issue.record("\(name) is not seq2seq"); return }
        for c in try Self.cases(name) {
            guard let dec = c.decoderIDs, let selfMaps = c.decoderAttentions, let crossMaps = c.crossAttentions else {
                Issue.record("\(name): the fixture lacks decoder maps"); continue
            }
            let n = c.inputIDs.count, m = dec.count
            for layer in 0..<c.attentions.count {
                let observer = AttentionObserver(layer: layer, rows: n, columns: n)
                try model.encode(c.inputIDs, into: model.makeCache(capacity: m), observer: observer)
                for (h, want) in c.attentions[layer].enumerated() {
                    #expect(Self.worst(observer.weights(head: h), want) <= Self.tolerance(c), "\(name) encoder layer \(layer) head \(h)")
                    #expect(Self.wellFormed(observer.weights(head: h), causal: false))
                }
            }
            for layer in 0..<selfMaps.count {
                let selfObserver = AttentionObserver(layer: layer, rows: m, columns: m)
                let crossObserver = AttentionObserver(layer: layer, kind: .cross, rows: m, columns: n)
                for observer in [selfObserver, crossObserver] {
                    let cache = try model.makeCache(capacity: m)
                    try model.encode(c.inputIDs, into: cache)
                    _ = try model.forward(dec, cache: cache, observer: observer)
                }
                for h in 0..<selfMaps[layer].count {
                    let s = selfObserver.weights(head: h), x = crossObserver.weights(head: h)
                    #expect(Self.worst(s, selfMaps[layer][h]) <= Self.tolerance(c), "\(name) decoder layer \(layer) head \(h): \(Self.worst(s, selfMaps[layer][h]))")
                    #expect(Self.worst(x, crossMaps[layer][h]) <= Self.tolerance(c), "\(name) cross layer \(layer) head \(h): \(Self.worst(x, crossMaps[layer][h]))")
                    #expect(Self.wellFormed(s, causal: true) && Self.wellFormed(x, causal: false))
                    #expect(x.count == m && x.allSatisfy { $0.count == n })
                }
            }
        }
    }

    /// Watching changes nothing the model computes: logits with and without an observer are the same bits.
    @Test func observingChangesNoLogit() throws {
        func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }
        guard case let .decoder(gpt2) = try Self.load("gpt2"), case let .encoder(bert) = try Self.load("bert"),
              case let .encoderDecoder(bart) = try Self.load("bart") else { Issue.record("fixture kinds"); return }
        let ids = try Self.cases("gpt2")[0].inputIDs
        let plain = try gpt2.forward(ids, cache: gpt2.makeCache(capacity: ids.count))
        let watched = try gpt2.forward(ids, cache: gpt2.makeCache(capacity: ids.count),
                                       observer: AttentionObserver(layer: 1, rows: ids.count, columns: ids.count))
        #expect(bits(plain) == bits(watched))
        let b = try Self.cases("bert")[0]
        let bertPlain = try bert.encode([b.inputIDs], tokenTypes: [b.tokenTypes ?? []], output: .logits)
        let bertWatched = try bert.encode([b.inputIDs], tokenTypes: [b.tokenTypes ?? []], output: .logits,
                                          observer: AttentionObserver(layer: 0, rows: 64, columns: 64))
        #expect(bits(bertPlain[0]) == bits(bertWatched[0]))
        let s = try Self.cases("bart")[0]
        guard let dec = s.decoderIDs else { return }
        var outs: [[Float]] = []
        for observer in [nil, AttentionObserver(layer: 1, kind: .cross, rows: dec.count, columns: s.inputIDs.count)] {
            let cache = try bart.makeCache(capacity: dec.count)
            try bart.encode(s.inputIDs, into: cache, observer: observer.map { _ in AttentionObserver(layer: 0, rows: 16, columns: 16) })
            outs.append(try bart.forward(dec, cache: cache, observer: observer))
        }
        #expect(bits(outs[0]) == bits(outs[1]))
    }

    @Test func anObservedBatchHoldsOneSequence() throws {
        guard case let .decoder(model) = try Self.load("gpt2") else { return }
        var batch = ForwardBatch()
        batch.append([1, 2, 3], to: try model.makeCache(capacity: 4), output: .last)
        batch.append([4, 5], to: try model.makeCache(capacity: 4), output: .last)
        let ws = model.makeWorkspace(maxTokens: 8)
        ws.attentionObserver = AttentionObserver(layer: 0, rows: 4, columns: 4)
        var out = [Float](repeating: 0, count: 2 * model.vocabularySize)
        #expect(throws: ModelError.self) {
            try out.withUnsafeMutableBufferPointer { (buf) throws(ModelError) in
                try model.forward(batch, workspace: ws, output: .logits, into: buf.baseAddress!)
            }
        }
        ws.attentionObserver = nil
        try out.withUnsafeMutableBufferPointer { (buf) throws(ModelError) in
            try model.forward(batch, workspace: ws, output: .logits, into: buf.baseAddress!)
        }
        #expect(out.allSatisfy(\.isFinite) && out.contains { $0 != 0 })
    }
}
