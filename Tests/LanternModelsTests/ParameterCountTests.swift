import Foundation
import Testing
import LanternFormats
@testable import LanternModels

/// `ModelAnatomy`'s counts against figures it did not produce: the element counts of the fixture
/// checkpoints (read here from the safetensors headers with Foundation's JSON parser) and the totals the
/// models' authors published.
@Suite struct ParameterCountTests {
    /// Sum of every tensor's elements in a safetensors file, straight from its JSON header.
    static func checkpointElements(_ path: String) throws -> Int {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as? [String: Any])
        return header.filter { $0.key != "__metadata__" }.reduce(0) { sum, entry in
            let shape = ((entry.value as? [String: Any])?["shape"] as? [Int]) ?? []
            return sum + shape.reduce(1, *)
        }
    }

    /// For every fixture model folder: the count computed from config.json alone equals the number of
    /// values in its model.safetensors, and the by-name split of the checkpoint equals the formula's split.
    @Test(arguments: ["gpt2", "llama", "bloom", "bert", "t5", "bart", "marian"])
    func configCountEqualsCheckpoint(_ name: String) throws {
        let folder = try ModelFolder(path: fixturePath(name))
        let size = try ModelAnatomy.size(configJSON: folder.configData)
        let elements = try Self.checkpointElements(fixturePath(name + "/model.safetensors"))
        #expect(size.parameters.total == elements, "\(name): config gives \(size.parameters.total), checkpoint holds \(elements)")
        let byName = ModelAnatomy.count(tensors: ModelAnatomy.tensorTable(folder.weights))
        #expect(byName.total == elements)
        #expect(byName == size.parameters, "\(name): by name \(byName) vs formula \(size.parameters)")
    }

    /// The fixture GGUF conversions (llama.cpp's converter): the hyper-parameters in the file give its
    /// tensors' element count (BERT's converter drops the MLM head, T5's keeps the separate lm_head),
    /// and llama.cpp's tensor names fall in the same parts as the formula's.
    @Test(arguments: ["gpt2/model.gguf", "bloom/model.gguf", "bert/model.gguf", "t5/model.gguf"])
    func ggufCountEqualsTensorTable(_ name: String) throws {
        let file = try GGUFFile(path: fixturePath(name))
        let size = try ModelAnatomy.size(gguf: file)
        let elements = file.tensorInfos.reduce(0) { $0 + $1.shape.reduce(1, *) }
        #expect(size.parameters.total == elements, "\(name): hyper-parameters give \(size.parameters.total), file holds \(elements)")
        let byName = ModelAnatomy.count(tensors: ModelAnatomy.tensorTable(file))
        #expect(byName == size.parameters, "\(name): by name \(byName) vs formula \(size.parameters)")
    }

    /// Published totals: GPT-2 124M (openai/gpt-2), GPT-3 175.0B (Brown et al. table 2.1), LLaMA 2 70B
    /// 68.98B (its safetensors), BERT-base 110M (Devlin et al.) within 1%; T5-base's "about 220 million"
    /// (Raffel et al.) is rounded from 222.9M, 1.3% away, so it gets 1.5%.
    @Test func presetsMatchPublishedTotals() throws {
        for preset in ModelAnatomy.presets {
            let total = Double(try ModelAnatomy.size(configJSON: Data(preset.config.utf8)).parameters.total)
            let tolerance = preset.name == "t5-base" ? 0.015 : 0.01
            #expect(abs(total / preset.publishedTotal - 1) <= tolerance,
                    "\(preset.name): \(total) vs published \(preset.publishedTotal)")
        }
        // GPT-2 small's exact count with the head tied (the figure transformers' GPT2LMHeadModel reports).
        let gpt2 = try ModelAnatomy.size(configJSON: Data(try #require(ModelAnatomy.preset(named: "gpt2")).config.utf8))
        #expect(gpt2.parameters.total == 124_439_808)
        #expect(gpt2.parameters.head == 0)
    }

    /// Block layouts as ggml defines them: q8_0 34 bytes per 32 values (8.5 bits), q4_0 18 per 32
    /// (4.5 bits), q4_K 144 per 256 (4.5 bits); f16 2 bytes.
    @Test func bitsPerWeightFollowGGMLBlocks() {
        #expect(WeightFormat.q8_0.bitsPerWeight == 8.5)
        #expect(WeightFormat.q4_0.bitsPerWeight == 4.5)
        #expect(WeightFormat.q4_K.bitsPerWeight == 4.5)
        #expect(WeightFormat.f16.bitsPerWeight == 16)
        var p = ParameterCount()
        p.attention = 256 * 4
        p.norms = 64
        p.vectors = 64
        #expect(p.weightBytes(.q4_K) == 4 * 144 + 64 * 4)
        #expect(p.weightBytes(.q8_0) == 32 * 34 + 64 * 4)
        #expect(p.weightBytes(.f32) == (1024 + 64) * 4)
    }

    /// LLaMA 2 70B's KV cache per token: 80 layers x 2 (K, V) x 8 KV heads x 128 = 163,840 values
    /// (320 KiB in f16), the figure grouped-query attention was introduced to shrink 8x.
    @Test func kvCachePerTokenOfGroupedQueryAttention() throws {
        let s = try ModelAnatomy.size(configJSON: Data(try #require(ModelAnatomy.preset(named: "llama2-70b")).config.utf8))
        #expect(s.kvValuesPerToken == 80 * 2 * 8 * 128)
        #expect(s.maxContext == 4096)
    }
}
