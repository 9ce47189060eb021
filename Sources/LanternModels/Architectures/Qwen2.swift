import LanternFormats

// Qwen2 / Qwen2.5 (Qwen team 2024): the LLaMA block with biases on q, k and v. RoPE pairs the two
// halves of each head in both layouts: llama.cpp's converter does not permute qwen2's q/k rows as it
// does llama's (llama.cpp runs qwen2 with NeoX-style RoPE).

// MARK: - Configuration

/// A Hugging Face qwen2 config.json: LLaMA's keys plus the sliding-window switch, which Qwen2.5's
/// released checkpoints leave off (`use_sliding_window: false`). On, it would window only the layers
/// from `max_window_layers` on; that variant is refused rather than run with full attention.
public struct Qwen2Configuration: Sendable, Decodable, Equatable {
    public var base: LlamaConfiguration

    enum CodingKeys: String, CodingKey { case useSlidingWindow = "use_sliding_window" }

    public init(from decoder: any Decoder) throws {
        base = try LlamaConfiguration(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if try c.value(Bool.self, .useSlidingWindow, or: false) {
            throw ModelError.invalidConfiguration("qwen2 with use_sliding_window true is not supported")
        }
    }
}

// MARK: - Model

public enum Qwen2 {
    /// From a GGUF file (`general.architecture` qwen2: `qwen2.*` keys, llama.cpp tensor names).
    public static func load(gguf file: GGUFFile, compute: ComputeOptions) throws -> DecoderModel {
        let config = try LlamaConfiguration(gguf: file, architecture: "qwen2")
        return try Llama.build(config, store: file, names: .gguf, pairing: .halves, qkvBias: true,
                               architecture: "qwen2", compute: compute)
    }

    /// From a Hugging Face folder's config.json and safetensors.
    public static func load(config: Qwen2Configuration, store: any WeightStore, compute: ComputeOptions) throws -> DecoderModel {
        try Llama.build(config.base, store: store, names: .huggingFace, pairing: .halves, qkvBias: true,
                        architecture: "qwen2", compute: compute)
    }
}
