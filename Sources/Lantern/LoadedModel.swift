import Foundation
import LanternFormats
import LanternGeneration
import LanternModels
import LanternTensor
import LanternTemplates
import LanternTokenizers

/// Everything needed to run a model file: the network, its tokenizer, its chat template.
public final class LoadedModel: @unchecked Sendable {
    public let path: String
    public let file: GGUFFile
    public let architecture: String
    public let model: any CausalLanguageModel
    public let tokenizer: any Tokenizer
    /// The template stored in the file (`tokenizer.chat_template`) as parsed; nil when the file has none.
    /// A template Lantern cannot parse does not stop the model from loading: the error surfaces when a
    /// chat is rendered.
    public let chatTemplate: Result<ChatTemplate, any Error>?

    /// Opens a GGUF file: reads metadata, maps the weights (kept in their stored dtype), builds the
    /// tokenizer from the metadata and parses the chat template.
    public init(path: String, threads: Int, precision: ActivationPrecision = .int8x2) throws {
        self.path = path
        file = try GGUFFile(path: path)
        architecture = try ModelRegistry.architecture(of: file)
        let compute = ComputeOptions(threads: threads, precision: precision.kernelPrecision)
        model = try ModelRegistry.load(gguf: file, architecture: architecture, compute: compute)
        tokenizer = try ByteLevelBPETokenizer(gguf: file.metadata)
        guard tokenizer.vocabularySize <= model.vocabularySize else {
            throw LanternError.vocabularyMismatch(path: path, tokenizer: tokenizer.vocabularySize, model: model.vocabularySize)
        }
        chatTemplate = file.metadata["tokenizer.chat_template"]?.string.map { source in
            Result { try ChatTemplate(source) }
        }
    }

    /// Opens the default model (SmolLM2-135M-Instruct Q4_1), fetching it into the cache on first use.
    public static func openDefault(threads: Int, precision: ActivationPrecision = .int8x2,
                                   progress: @escaping @Sendable (String) -> Void) throws -> LoadedModel {
        var fetcher = ModelFetcher()
        fetcher.progress = progress
        let url = try fetcher.ensure(.defaultModel)
        return try LoadedModel(path: url.path, threads: threads, precision: precision)
    }

    /// Text of a special token for the template variables (e.g. bos_token), or "".
    func tokenString(_ id: Int?) -> String { id.flatMap { tokenizer.tokenText($0) } ?? "" }

    /// Renders a conversation with the model's chat template (as transformers' apply_chat_template does).
    public func renderChat(_ messages: [(role: String, content: String)], addGenerationPrompt: Bool) throws -> String {
        guard let chatTemplate = try chatTemplate?.get() else { throw LanternError.noChatTemplate(path) }
        let context = ChatTemplate.messagesContext(messages: messages, addGenerationPrompt: addGenerationPrompt,
                                                   bosToken: tokenString(tokenizer.bosTokenID),
                                                   eosToken: tokenString(tokenizer.eosTokenID))
        return try chatTemplate.render(context)
    }

    /// Tokens of a raw prompt: special tokens parsed, BOS added when the model asks for it.
    public func encodePrompt(_ text: String) -> [Int] {
        tokenizer.encode(text, parseSpecial: true, addBOS: tokenizer.addsBOS)
    }

    /// A session with a KV cache of `contextLength` positions (clamped to the model's trained context).
    public func makeSession(contextLength: Int) throws -> Session {
        guard contextLength > 0 else { throw ModelError.invalidConfiguration("context length must be positive, found \(contextLength)") }
        return try Session(model: model, contextLength: min(contextLength, model.maxContextLength))
    }
}

/// How activations are rounded for the integer dot products against quantized weights.
public enum ActivationPrecision: String, Sendable, CaseIterable {
    /// Two int8 levels per 32-value block (the second holds the first's rounding error): logits within
    /// ~1e-2 of the float32 model, ~0.75x the prefill speed of `int8`. The default.
    case int8x2
    /// One int8 level per block, as llama.cpp does: fastest, logits move by up to ~1 on SmolLM2.
    case int8

    /// The process's default: `int8` when the environment variable LANTERN_ACTIVATION_PRECISION says
    /// so, else `int8x2`. Read once; a model's precision is fixed when it is loaded.
    public static var environmentDefault: ActivationPrecision {
        ProcessInfo.processInfo.environment["LANTERN_ACTIVATION_PRECISION"] == "int8" ? .int8 : .int8x2
    }

    var kernelPrecision: Kernels.ActivationPrecision { self == .int8 ? .int8 : .int8x2 }
}

public enum LanternError: Error, CustomStringConvertible {
    case noChatTemplate(String)
    case vocabularyMismatch(path: String, tokenizer: Int, model: Int)

    public var description: String {
        switch self {
        case let .noChatTemplate(path): return "\(path) has no chat template (tokenizer.chat_template); use `lantern generate` with a raw prompt"
        case let .vocabularyMismatch(path, tokenizer, model):
            return "\(path): the tokenizer has \(tokenizer) tokens but the model's output covers only \(model)"
        }
    }
}
