import Foundation
import Testing
import LanternFormats
@testable import LanternModels

/// The tiny random LLaMA of `Fixtures/llama` (transformers' LlamaForCausalLM, float32, HF layout with
/// rotate_half RoPE) against the reference's logits, greedy ids and KV-cache checks (atol 2e-3, rtol 1e-4).
@Suite struct LlamaFixtureTests {
    let model: LlamaModel
    let expected: SafetensorsFile
    let vocab = 512

    init() throws {
        let dir = fixturePath("llama")
        let config = try JSONDecoder().decode(LlamaConfiguration.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")))
        model = try LlamaModel(config: config, safetensors: SafetensorsFile(path: dir + "/model.safetensors"), threads: 2)
        expected = try SafetensorsFile(path: dir + "/expected.safetensors")
    }

    @Test func configurationIsRead() {
        #expect(model.config.heads == 4 && model.config.kvHeads == 2 && model.config.headDim == 16)
        #expect(model.config.ropeBase == 10000 && model.config.tieWordEmbeddings)
    }

    @Test func forwardLogitsMatchReference() throws {
        let ids = try expected.ints("input_ids")
        let logits = try model.forward(ids, cache: model.makeCache(capacity: 64), output: .all)
        let want = try expected.floats("logits")
        #expect(allcloseExcess(logits[...], want[...], rtol: 1e-4) <= 2e-3)
    }

    @Test func greedyGenerationMatchesReference() throws {
        let ids = try expected.ints("input_ids")
        let want = try expected.ints("generated_ids")
        let stepLogits = try expected.floats("generation_step_logits")
        let cache = model.makeCache(capacity: 64)
        var logits = try model.forward(ids, cache: cache, output: .last)
        var out = ids
        for step in 0..<(want.count - ids.count) {
            #expect(allcloseExcess(logits[...], stepLogits[(step * vocab)..<((step + 1) * vocab)], rtol: 1e-4) <= 2e-3)
            let next = logits.indices.max { logits[$0] < logits[$1] }!
            out.append(next)
            logits = try model.forward([next], cache: cache, output: .last)
        }
        #expect(out == want)
    }

    @Test func cachedChunksAgreeWithOneShot() throws {
        let ids = try expected.ints("input_ids")
        let cache = model.makeCache(capacity: 64)
        _ = try model.forward(Array(ids[..<8]), cache: cache, output: .last)
        let chunk = try model.forward(Array(ids[8...]), cache: cache, output: .all)
        #expect(allcloseExcess(chunk[...], try expected.floats("kv_chunk_logits")[...], rtol: 1e-4) <= 2e-3)

        let generated = try expected.ints("generated_ids")
        let full = model.makeCache(capacity: 64)
        _ = try model.forward(ids, cache: full, output: .last)
        let next = try model.forward([generated[12]], cache: full, output: .all)
        #expect(allcloseExcess(next[...], try expected.floats("kv_next_token_logits")[...], rtol: 1e-4) <= 2e-3)
    }

    @Test func chunkedPrefillEqualsSinglePass() throws {
        let ids = try expected.ints("input_ids")
        let small = try LlamaModel(config: model.config,
                                   safetensors: SafetensorsFile(path: fixturePath("llama") + "/model.safetensors"),
                                   threads: 1, maxBatch: 5)
        let a = try small.forward(ids, cache: small.makeCache(capacity: 32), output: .all)
        let b = try model.forward(ids, cache: model.makeCache(capacity: 32), output: .all)
        #expect(allcloseExcess(a[...], b[...], rtol: 0) <= 1e-4)
    }

    @Test func badInputsAreTypedErrors() throws {
        let cache = model.makeCache(capacity: 4)
        #expect(throws: ModelError.contextOverflow(needed: 5, capacity: 4)) {
            try model.forward([1, 2, 3, 4, 5], cache: cache, output: .last)
        }
        #expect(throws: ModelError.invalidToken(id: 512, vocabularySize: 512)) {
            try model.forward([512], cache: cache, output: .last)
        }
        #expect(throws: ModelError.emptyInput) { try model.forward([], cache: cache, output: .last) }
        #expect(cache.count == 0)
    }
}
