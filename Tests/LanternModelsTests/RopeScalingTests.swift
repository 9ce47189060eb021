import Foundation
import Testing
import LanternFormats
@testable import LanternModels

/// llama3 and linear RoPE scaling against transformers (`tools/make_rope_scaling_fixture.py`): the
/// tiny LLaMA fixture with a scaled `rope_parameters`, its inverse frequencies and float32 logits.
@Suite struct RopeScalingTests {
    struct Variant {
        let rope: [String: Any]
        let inverseFrequencies: [Float]
        let logits: [Float]
    }

    /// Read per test: the values hold `Any` (not Sendable), so no shared static.
    static var reference: (ids: [Int], variants: [String: Variant]) {
        let url = URL(fileURLWithPath: fixturePath("rope-scaling") + "/reference.json")
        guard let data = try? Data(contentsOf: url),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let ids = json["input_ids"] as? [Int], let variants = json["variants"] as? [String: [String: Any]] else {
            return ([], [:])
        }
        return (ids, variants.mapValues { v in
            Variant(rope: v["rope_parameters"] as? [String: Any] ?? [:],
                    inverseFrequencies: (v["inv_freq"] as? [Double] ?? []).map(Float.init),
                    logits: (v["logits"] as? [Double] ?? []).map(Float.init))
        })
    }

    /// A copy of the llama fixture folder whose config.json carries `patch`.
    func folder(_ patch: [String: Any]) throws -> ModelFolder {
        let src = fixturePath("llama")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-rope-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: src + "/config.json"))) as? [String: Any] ?? [:]
        for (k, v) in patch { config[k] = v }
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        try FileManager.default.createSymbolicLink(atPath: dir + "/model.safetensors", withDestinationPath: src + "/model.safetensors")
        return try ModelFolder(path: dir)
    }

    func model(_ patch: [String: Any]) throws -> DecoderModel {
        guard case let .decoder(m) = try ModelRegistry.load(folder: folder(patch), compute: ComputeOptions(threads: 2)) else {
            throw ModelError.unsupportedArchitecture("llama")
        }
        return m
    }

    static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1) / abs($1.1)) }
    }

    @Test(arguments: ["llama3", "linear"]) func inverseFrequenciesMatchTransformers(_ name: String) throws {
        let v = try #require(Self.reference.variants[name])
        let m = try model(["rope_parameters": v.rope])
        let ours = try #require(m.stack.ropes.first).inverseFrequencies
        #expect(ours.count == v.inverseFrequencies.count && ours.count == 8)
        #expect(Self.relativeError(ours, v.inverseFrequencies) <= 1e-6, "\(ours) vs \(v.inverseFrequencies)")
    }

    /// transformers 4 spells the same scaling as `rope_scaling` beside `rope_theta`.
    @Test(arguments: ["llama3", "linear"]) func ropeScalingKeyReadsTheSame(_ name: String) throws {
        let v = try #require(Self.reference.variants[name])
        var scaling = v.rope
        scaling["rope_theta"] = nil
        if name == "linear" { scaling["rope_type"] = nil; scaling["type"] = "linear" }
        let m = try model(["rope_parameters": NSNull(), "rope_theta": 10000.0, "rope_scaling": scaling])
        #expect(Self.relativeError(try #require(m.stack.ropes.first).inverseFrequencies, v.inverseFrequencies) <= 1e-6)
    }

    @Test(arguments: ["llama3", "linear"]) func logitsMatchTransformers(_ name: String) throws {
        let v = try #require(Self.reference.variants[name])
        let m = try model(["rope_parameters": v.rope])
        let ids = Self.reference.ids
        let logits = try m.forward(ids, cache: try m.makeCache(capacity: 32), rows: .all)
        #expect(logits.count == ids.count * 512 && logits.count == v.logits.count)
        // The llama fixture's own tolerance (case.json forward_logits: atol 2e-3, rtol 1e-4).
        #expect(allcloseExcess(logits[...], v.logits[...], rtol: 1e-4) <= 2e-3)
        // And the scaling matters: the unscaled model is far from these values.
        let plain = try model([:])
        let unscaled = try plain.forward(ids, cache: try plain.makeCache(capacity: 32), rows: .all)
        #expect(allcloseExcess(unscaled[...], v.logits[...], rtol: 1e-4) > 2e-2)
    }

    /// The same models converted by llama.cpp's convert_hf_to_gguf.py (`tools/make_gguf_fixtures.py`):
    /// llama3 arrives as the rope_freqs.weight tensor, linear as llama.rope.scaling.type/factor.
    @Test(arguments: ["llama3", "linear"]) func ggufConversionsMatchTransformers(_ name: String) throws {
        let v = try #require(Self.reference.variants[name])
        let file = try GGUFFile(path: fixturePath("rope-scaling") + "/\(name).gguf")
        let config = try LlamaConfiguration(gguf: file)
        #expect(config.ropeScaling == (name == "linear" ? .linear(factor: 2.5) : nil))
        #expect(file.contains("rope_freqs.weight") == (name == "llama3"))
        let m = try Llama.load(gguf: file, compute: ComputeOptions(threads: 2))
        #expect(Self.relativeError(try #require(m.stack.ropes.first).inverseFrequencies, v.inverseFrequencies) <= 1e-6)
        let ids = Self.reference.ids
        let logits = try m.forward(ids, cache: try m.makeCache(capacity: 32), rows: .all)
        #expect(allcloseExcess(logits[...], v.logits[...], rtol: 1e-4) <= 2e-3)
    }

    /// Known points of the llama3 rule (Llama 3.1: factor 8, low 1, high 4, original 8192, base
    /// 500000, head_dim 128): the first frequencies (wavelength < 2048) stay, the last (> 8192) are
    /// divided by 8, and the factors rise monotonically in between.
    @Test func llama3FactorsHaveTheirThreeRanges() {
        let f = RopeScaling.llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContextLength: 8192)
            .frequencyFactors(dimensions: 128, base: 500000)
        #expect(f.count == 64 && f.first == 1 && f.last == 8)
        #expect(zip(f, f.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(f.contains { $0 > 1 && $0 < 8 })
        #expect(RopeScaling.linear(factor: 2.5).frequencyFactors(dimensions: 16, base: 10000) == [Float](repeating: 2.5, count: 8))
    }

    @Test func invalidScalingValuesAreConfigurationErrors() throws {
        #expect(throws: ModelError.self) { try model(["rope_parameters": ["rope_type": "linear", "factor": 0.0]]) }
        #expect(throws: ModelError.self) {
            try model(["rope_parameters": ["rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0, "high_freq_factor": 1.0,
                                           "original_max_position_embeddings": 8192]])
        }
    }
}
