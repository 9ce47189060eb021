import LanternFormats

import Foundation

/// A loaded network, by runner.
public enum Network: Sendable {
    case decoder(DecoderModel)
    case encoder(EncoderModel)
    case encoderDecoder(EncoderDecoderModel)

    /// The model that generates with a KV cache, if this network has one.
    public var causal: (any CausalLanguageModel)? {
        switch self {
        case let .decoder(m): return m
        case .encoder: return nil
        case let .encoderDecoder(m): return m
        }
    }

    public var model: any LanguageModel {
        switch self {
        case let .decoder(m): return m
        case let .encoder(m): return m
        case let .encoderDecoder(m): return m
        }
    }
}

/// Maps a checkpoint's architecture name to the model type that runs it.
public enum ModelRegistry {
    /// `general.architecture` values of GGUF files Lantern can run.
    public static let ggufArchitectures: Set<String> = Set(["llama", "qwen2", "gemma3"]).union(ggufCoreFamilies)

    /// `model_type` values of Hugging Face folders Lantern can run.
    public static let folderModelTypes: Set<String> = ["llama", "qwen2", "gpt2", "bloom", "bert", "t5", "mt5", "bart", "marian"]

    /// Builds the network a Hugging Face folder describes (config.json + safetensors), decoding the
    /// typed configuration of its `model_type`; an unknown type is an error naming it.
    public static func load(folder: ModelFolder, compute: ComputeOptions) throws -> Network {
        func config<C: Decodable>(_ type: C.Type) throws -> C {
            try decodeConfiguration(C.self, from: folder)
        }
        switch folder.modelType {
        case "llama": return .decoder(try Llama.load(config: config(LlamaConfiguration.self), store: folder.weights, compute: compute))
        case "qwen2": return .decoder(try Qwen2.load(config: config(Qwen2Configuration.self), store: folder.weights, compute: compute))
        case "gpt2": return .decoder(try GPT2.load(config: config(GPT2Configuration.self), store: folder.weights, compute: compute))
        case "bloom": return .decoder(try Bloom.load(config: config(BloomConfiguration.self), store: folder.weights, compute: compute))
        case "bert": return .encoder(try Bert.load(config: config(BertConfiguration.self), store: folder.weights, compute: compute))
        case "t5", "mt5": return .encoderDecoder(try T5.load(folder: folder, compute: compute))
        case "bart": return .encoderDecoder(try Bart.load(folder: folder, compute: compute))
        case "marian": return .encoderDecoder(try Marian.load(folder: folder, compute: compute))
        default: throw ModelError.unsupportedArchitecture(folder.modelType)
        }
    }

    /// The file's `general.architecture`.
    public static func architecture(of file: GGUFFile) throws(FormatError) -> String {
        try file.string("general.architecture")
    }

    /// Builds the model a GGUF file describes, or throws `ModelError.unsupportedArchitecture`.
    public static func load(gguf file: GGUFFile, architecture: String, compute: ComputeOptions) throws -> DecoderModel {
        switch architecture {
        case "llama": return try Llama.load(gguf: file, architecture: architecture, compute: compute)
        case "qwen2": return try Qwen2.load(gguf: file, compute: compute)
        case "gemma3": return try Gemma3.load(gguf: file, compute: compute)
        default: throw ModelError.unsupportedArchitecture(architecture)
        }
    }

    /// `general.architecture` values of the core's other families that `loadNetwork(gguf:)` builds
    /// (llama.cpp's converter writes them); the decoder-only families above go through `load(gguf:)`.
    public static let ggufCoreFamilies: Set<String> = ["gpt2", "bloom", "bert", "t5"]

    /// Builds the network any supported GGUF file describes: an encoder (bert), an encoder-decoder
    /// (t5) or a decoder (gpt2, bloom, and every architecture `load(gguf:)` knows).
    public static func loadNetwork(gguf file: GGUFFile, architecture: String, compute: ComputeOptions) throws -> Network {
        switch architecture {
        case "gpt2": return .decoder(try GPT2.load(gguf: file, compute: compute))
        case "bloom": return .decoder(try Bloom.load(gguf: file, compute: compute))
        case "bert": return .encoder(try Bert.load(gguf: file, compute: compute))
        case "t5": return .encoderDecoder(try T5.load(gguf: file, compute: compute))
        default: return .decoder(try load(gguf: file, architecture: architecture, compute: compute))
        }
    }
}
