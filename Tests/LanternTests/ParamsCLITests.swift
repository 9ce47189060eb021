import Foundation
import Testing
import LanternFormats
import LanternModels
@testable import Lantern

/// `lantern params` through the built executable.
@Suite(.serialized) struct ParamsCLITests {
    var modelPath: String { get throws { try RealModel.get().path } }

    /// SmolLM2's hyper-parameters (GGUF metadata) give exactly the file's element count, and
    /// `lantern params --model` reports that count (the checkpoint's own) with the JSON fields.
    @Test func paramsOfSmolLM2EqualItsCheckpoint() throws {
        let path = try modelPath
        let file = try GGUFFile(path: path)
        let elements = file.tensorInfos.reduce(0) { $0 + $1.shape.reduce(1, *) }
        #expect(try ModelAnatomy.size(gguf: file).parameters.total == elements)
        let r = try CLI.run(["params", "--model", path, "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try CLI.json(r.stdout)
        #expect(o["total"] as? Int == elements)
        let parts = try #require(o["parameters"] as? [String: Int])
        #expect(["embeddings", "attention", "feed_forward", "norms", "head"].reduce(0) { $0 + (parts[$1] ?? -1) } == elements)
        #expect(parts["head"] == 0)                  // tied embeddings: no output.weight
        // 30 layers x 2 x 3 KV heads x 64 = 11,520 values a token (llama.cpp's n_embd_k_gqa + n_embd_v_gqa per layer).
        let kv = try #require(o["kv_cache"] as? [String: Any])
        #expect(kv["values_per_token"] as? Int == 30 * 2 * 3 * 64)
        #expect((kv["bytes_per_token"] as? [String: Int])?["f16"] == 30 * 2 * 3 * 64 * 2)
        // The file is Q4_1 matrices + Q8_0 embeddings + f32 norms: between the q4_0 and q8_0 estimates.
        let stored = try #require(o["stored_bytes"] as? Int), weights = try #require(o["weight_bytes"] as? [String: Int])
        #expect(stored > weights["q4_0"]! && stored < weights["q8_0"]!)
    }

    /// Presets: GPT-2 prints the 117M story, GPT-3 175B's total is in the JSON, the context sets the
    /// KV total, and exactly one source is required.
    @Test func paramsPresetsAndArguments() throws {
        let gpt2 = try CLI.run(["params", "--preset", "gpt2"])
        #expect(gpt2.status == 0, "\(gpt2.stderr)")
        #expect(gpt2.stdout.contains("124,439,808") && gpt2.stdout.contains("117M"), "\(gpt2.stdout)")
        let gpt3 = try CLI.run(["params", "--preset", "gpt3-175b", "--context", "2048", "--format", "json"])
        #expect(gpt3.status == 0, "\(gpt3.stderr)")
        let o = try CLI.json(gpt3.stdout)
        let total = try #require(o["total"] as? Int)
        #expect(abs(Double(total) / 175.0e9 - 1) <= 0.01)
        // 96 layers x 2 x 12288 values a token; f16 at 2048 tokens.
        let kv = try #require(o["kv_cache"] as? [String: Any])
        #expect((kv["bytes"] as? [String: Int])?["f16"] == 96 * 2 * 12288 * 2 * 2048)
        let config = try CLI.run(["params", "--config", fixturePath("t5/config.json"), "--format", "json"])
        #expect(config.status == 0, "\(config.stderr)")
        #expect(try CLI.json(config.stdout)["total"] as? Int == 137_504)   // Fixtures/t5/model.safetensors' element count
        let none = try CLI.run(["params"])
        #expect(none.status != 0 && none.stderr.contains("exactly one"))
        let unknown = try CLI.run(["params", "--preset", "gpt5"])
        #expect(unknown.status != 0 && unknown.stderr.contains("gpt5"))
    }

    /// The other real GGUF families: Gemma 3's formula (q/k norms, four norms a block, tied head) and
    /// Qwen2's (QKV biases, untied output) give each file's element count; Gemma 3 270M's embedding
    /// table is Google's "170M embedding parameters" (262,144 x 640).
    @Test(arguments: ["gemma3-270m", "qwen2.5-0.5b"])
    func formulaEqualsElementsOfRealGGUF(_ name: String) throws {
        let file = try GGUFFile(path: try RealModel.file(name))
        let elements = file.tensorInfos.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let size = try ModelAnatomy.size(gguf: file)
        #expect(size.parameters.total == elements, "\(name): \(size.parameters.total) vs \(elements)")
        #expect(ModelAnatomy.count(tensors: ModelAnatomy.tensorTable(file)) == size.parameters)
        if name == "gemma3-270m" { #expect(size.parameters.embeddings == 262_144 * 640) }
    }
}
