import Foundation
import Testing
import LanternFormats
import LanternTensor
@testable import LanternModels

/// The tiny random LLaMA of `Fixtures/llama` (transformers' LlamaForCausalLM, float32, HF layout with
/// rotate_half RoPE) against the reference's logits, greedy ids and KV-cache checks (atol 2e-3, rtol 1e-4).
@Suite struct LlamaFixtureTests {
    let model: DecoderModel
    let config: LlamaConfiguration
    let expected: SafetensorsFile
    let vocab = 512

    init() throws {
        let dir = fixturePath("llama")
        config = try JSONDecoder().decode(LlamaConfiguration.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")))
        model = try Llama.load(config: config, store: SafetensorsFile(path: dir + "/model.safetensors"), compute: ComputeOptions(threads: 2))
        expected = try SafetensorsFile(path: dir + "/expected.safetensors")
    }

    @Test func configurationIsRead() {
        #expect(config.heads == 4 && config.kvHeads == 2 && config.headDim == 16)
        #expect(config.ropeBase == 10000 && config.tieWordEmbeddings)
    }

    @Test func forwardLogitsMatchReference() throws {
        let ids = try expected.ints("input_ids")
        let logits = try model.forward(ids, cache: model.makeCache(capacity: 64), rows: .all)
        let want = try expected.floats("logits")
        #expect(allcloseExcess(logits[...], want[...], rtol: 1e-4) <= 2e-3)
    }

    /// Float weights get a float32 cache by default (so the check above is the float computation). An f16
    /// cache rounds keys and values to 2^-11 relative: the logits then stay within 0.05 of the reference
    /// (beyond atol 2e-3 + rtol 1e-4; 0.014 measured). A q8_0 cache needs heads of 32k values: a typed error.
    @Test func kvTypesOfAFloatModel() throws {
        #expect(model.defaultKVType == .f32)
        let ids = try expected.ints("input_ids")
        let logits = try model.forward(ids, cache: model.makeCache(capacity: 64, type: .f16), rows: .all)
        let excess = allcloseExcess(logits[...], try expected.floats("logits")[...], rtol: 1e-4)
        #expect(excess > 0 && excess <= 0.05, "f16 cache: \(excess) beyond the float tolerance")
        #expect(throws: ModelError.self) { try model.makeCache(capacity: 64, type: .q8_0) }
    }

    @Test func greedyGenerationMatchesReference() throws {
        let ids = try expected.ints("input_ids")
        let want = try expected.ints("generated_ids")
        let stepLogits = try expected.floats("generation_step_logits")
        let cache = try model.makeCache(capacity: 64)
        var logits = try model.forward(ids, cache: cache, rows: .last)
        var out = ids
        for step in 0..<(want.count - ids.count) {
            #expect(allcloseExcess(logits[...], stepLogits[(step * vocab)..<((step + 1) * vocab)], rtol: 1e-4) <= 2e-3)
            let next = logits.indices.max { logits[$0] < logits[$1] }!
            out.append(next)
            logits = try model.forward([next], cache: cache, rows: .last)
        }
        #expect(out == want)
    }

    @Test func cachedChunksAgreeWithOneShot() throws {
        let ids = try expected.ints("input_ids")
        let cache = try model.makeCache(capacity: 64)
        _ = try model.forward(Array(ids[..<8]), cache: cache, rows: .last)
        let chunk = try model.forward(Array(ids[8...]), cache: cache, rows: .all)
        #expect(allcloseExcess(chunk[...], try expected.floats("kv_chunk_logits")[...], rtol: 1e-4) <= 2e-3)

        let generated = try expected.ints("generated_ids")
        let full = try model.makeCache(capacity: 64)
        _ = try model.forward(ids, cache: full, rows: .last)
        let next = try model.forward([generated[12]], cache: full, rows: .all)
        #expect(allcloseExcess(next[...], try expected.floats("kv_next_token_logits")[...], rtol: 1e-4) <= 2e-3)
    }

    @Test func chunkedPrefillEqualsSinglePass() throws {
        let ids = try expected.ints("input_ids")
        // A workspace of 5 rows splits the 12-token prompt into chunks of 5, 5 and 2.
        let small = model.makeWorkspace(maxTokens: 5)
        let cache = try model.makeCache(capacity: 32)
        var batch = ForwardBatch()
        batch.append(ids, to: cache, output: .all)
        var a = [Float](repeating: 0, count: ids.count * vocab)
        try a.withUnsafeMutableBufferPointer { try model.forward(batch, workspace: small, output: .logits, into: $0.baseAddress!) }
        let b = try model.forward(ids, cache: try model.makeCache(capacity: 32), rows: .all)
        #expect(cache.count == ids.count)
        #expect(allcloseExcess(a[...], b[...], rtol: 0) <= 1e-4)
    }

    @Test func badInputsAreTypedErrors() throws {
        let cache = try model.makeCache(capacity: 4)
        #expect(throws: ModelError.contextOverflow(needed: 5, capacity: 4)) {
            try model.forward([1, 2, 3, 4, 5], cache: cache, rows: .last)
        }
        #expect(throws: ModelError.invalidToken(id: 512, vocabularySize: 512)) {
            try model.forward([512], cache: cache, rows: .last)
        }
        #expect(throws: ModelError.emptyInput) { try model.forward([], cache: cache, rows: .last) }
        #expect(cache.count == 0)
    }
}

/// Configuration and loading errors: corrupt or unsupported checkpoints are typed errors, never crashes
/// or huge allocations.
@Suite struct LlamaConfigurationTests {
    func config(_ patch: [String: Any]) throws -> LlamaConfiguration {
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixturePath("llama") + "/config.json"))) as? [String: Any] ?? [:]
        for (k, v) in patch { json[k] = v }
        return try JSONDecoder().decode(LlamaConfiguration.self, from: JSONSerialization.data(withJSONObject: json))
    }

    @Test func absurdSizesAreRejected() throws {
        #expect(throws: ModelError.invalidConfiguration("layer count 4000000000 exceeds 1024")) {
            try config(["num_hidden_layers": 4_000_000_000])
        }
        #expect(throws: ModelError.invalidConfiguration("attention heads must be positive, found 0")) {
            try config(["num_attention_heads": 0, "head_dim": 16])
        }
        #expect(throws: ModelError.invalidConfiguration("4 attention heads are not a multiple of 3 key/value heads")) {
            try config(["num_key_value_heads": 3])
        }
    }

    @Test func unimplementedRopeScalingIsRefusedNotRunWrong() throws {
        #expect(throws: ModelError.unsupportedRoPEScaling("yarn")) {
            try config(["rope_parameters": ["rope_theta": 500000.0, "rope_type": "yarn", "factor": 4.0]])
        }
        #expect(throws: ModelError.unsupportedRoPEScaling("dynamic")) {
            try config(["rope_scaling": ["type": "dynamic", "factor": 2.0]])
        }
        #expect(throws: ModelError.unsupportedRoPEScaling("longrope")) {
            try config(["rope_scaling": ["rope_type": "longrope", "factor": 2.0]])
        }
        #expect(throws: ModelError.invalidConfiguration("RoPE scaling 'llama3' needs 'low_freq_factor'")) {
            try config(["rope_scaling": ["rope_type": "llama3", "factor": 8.0, "high_freq_factor": 4.0,
                                         "original_max_position_embeddings": 8192]])
        }
    }

    @Test func untiedCheckpointNeedsItsOutputMatrix() throws {
        let untied = try config(["tie_word_embeddings": false])
        #expect(throws: FormatError.missingTensor(path: fixturePath("llama") + "/model.safetensors", tensor: "lm_head.weight")) {
            try Llama.load(config: untied, store: SafetensorsFile(path: fixturePath("llama") + "/model.safetensors"), compute: ComputeOptions(threads: 1))
        }
    }

    @Test func aCacheOfAnotherShapeIsRefused() throws {
        let model = try Llama.load(config: try config([:]), store: SafetensorsFile(path: fixturePath("llama") + "/model.safetensors"), compute: ComputeOptions(threads: 1))
        let foreign = try KVCache(layers: 3, kvHeads: 2, headDim: 16, capacity: 8)
        #expect(throws: ModelError.cacheMismatch) { try model.forward([1, 2], cache: foreign, rows: .last) }
    }

    @Test func frequencyFactorsDivideTheRopeFrequencies() {
        let plain = RotaryEmbedding(dimensions: 8, base: 10000, pairing: .halves)
        let scaled = RotaryEmbedding(dimensions: 8, base: 10000, pairing: .halves, frequencyFactors: [1, 2, 4, 8])
        #expect(zip(plain.inverseFrequencies, scaled.inverseFrequencies).enumerated().allSatisfy { i, p in
            p.1 == p.0 / Float(1 << i)
        })
    }
}
