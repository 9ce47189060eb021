import Foundation
import LanternFormats
import LanternGeneration
import LanternModels
import LanternTensor
import LanternTemplates
import LanternTokenizers

/// Everything needed to run a model: the network, its tokenizer, its chat template, its generation
/// defaults. Opens a GGUF file or a Hugging Face model folder (config.json + safetensors).
public final class LoadedModel: @unchecked Sendable {
    public let path: String
    /// The GGUF file, when the model came from one.
    public let file: GGUFFile?
    /// The folder, when the model came from one.
    public let folder: ModelFolder?
    public let architecture: String
    public let network: Network
    /// The folder's tokenizer.json / vocab.txt, or the GGUF vocabulary. A folder without either gets a
    /// tokenizer that knows no text (`hasTokenizer` false): token ids still work.
    public let tokenizer: any Tokenizer
    public let hasTokenizer: Bool
    /// The template stored with the model (GGUF `tokenizer.chat_template`, or a folder's
    /// tokenizer_config.json `chat_template` / chat_template.jinja) as parsed; nil when there is none.
    /// A template Lantern cannot parse does not stop the model from loading: the error surfaces when a
    /// chat is rendered.
    public let chatTemplate: Result<ChatTemplate, any Error>?
    /// generation_config.json of a folder.
    public let generationConfig: GenerationConfig?

    /// Opens a GGUF file or a model folder: maps the weights (kept in their stored dtype unless
    /// `quantizeWeights` asks an encoder to convert its float block weights at load), builds the
    /// tokenizer and parses the chat template.
    public init(path: String, threads: Int, precision: ActivationPrecision = .int8x2, quantizeWeights: DType? = nil) throws {
        self.path = path
        let compute = ComputeOptions(threads: threads, precision: precision.kernelPrecision, quantizeWeights: quantizeWeights)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            let folder = try ModelFolder(path: path)
            self.folder = folder
            file = nil
            architecture = folder.modelType
            network = try ModelRegistry.load(folder: folder, compute: compute)
            generationConfig = folder.generationConfig
            let eos = folder.generationConfig?.eosTokenId?.first
            if let json = folder.tokenizerPath {
                tokenizer = try HFTokenizer(contentsOf: URL(fileURLWithPath: json), eosID: eos)
                hasTokenizer = true
            } else if folder.vocabPath != nil {
                tokenizer = try WordPieceTokenizer.bert(directory: URL(fileURLWithPath: path))
                hasTokenizer = true
            } else {
                tokenizer = NoTextTokenizer(vocabularySize: network.model.vocabularySize, eos: eos)
                hasTokenizer = false
            }
            chatTemplate = Self.folderTemplate(folder).map { source in Result { try ChatTemplate(source) } }
        } else {
            let file = try GGUFFile(path: path)
            self.file = file
            folder = nil
            generationConfig = nil
            architecture = try ModelRegistry.architecture(of: file)
            network = try ModelRegistry.loadNetwork(gguf: file, architecture: architecture, compute: compute)
            (tokenizer, hasTokenizer) = try Self.ggufTokenizer(file, vocabularySize: network.model.vocabularySize)
            chatTemplate = file.metadata["tokenizer.chat_template"]?.string.map { source in
                Result { try ChatTemplate(source) }
            }
        }
        guard tokenizer.vocabularySize <= network.model.vocabularySize else {
            throw LanternError.vocabularyMismatch(path: path, tokenizer: tokenizer.vocabularySize, model: network.model.vocabularySize)
        }
    }

    /// The tokenizer a GGUF file's metadata describes, chosen by `tokenizer.ggml.model` as llama.cpp
    /// does: "gpt2" is byte-level BPE, "llama" is SentencePiece; any other value is
    /// `TokenizerError.unsupportedModel` naming it.
    public static func tokenizer(gguf metadata: [String: GGUFValue]) throws(TokenizerError) -> any Tokenizer {
        guard let value = metadata["tokenizer.ggml.model"] else { throw .missingKey("tokenizer.ggml.model") }
        switch value.string {
        case "gpt2": return try ByteLevelBPETokenizer(gguf: metadata)
        case "llama": return try SentencePieceTokenizer(gguf: metadata)
        case let other?: throw .unsupportedModel(other)
        case nil: throw .wrongType(key: "tokenizer.ggml.model", expected: "str", found: value.typeName)
        }
    }

    /// The GGUF vocabulary's tokenizer; a vocabulary kind Lantern cannot tokenize yet (WordPiece `bert`,
    /// Unigram `t5`) gives a tokenizer that knows no text, so the model still runs on token ids
    /// (`--tokens`, bench, perplexity of given ids) and text input is a clear error.
    static func ggufTokenizer(_ file: GGUFFile, vocabularySize: Int) throws -> (any Tokenizer, Bool) {
        do {
            return (try tokenizer(gguf: file.metadata), true)
        } catch .unsupportedModel {
            return (NoTextTokenizer(vocabularySize: vocabularySize, eos: file.metadata["tokenizer.ggml.eos_token_id"]?.int), false)
        }
    }

    /// The model that generates with a KV cache (decoder-only, or the decoder of an encoder-decoder).
    public var model: any CausalLanguageModel {
        get throws {
            guard let m = network.causal else { throw LanternError.notGenerative(path: path, architecture: architecture) }
            return m
        }
    }

    /// Ids that end generation: the tokenizer's end-of-generation tokens and generation_config's eos ids.
    public var endOfGenerationIDs: Set<Int> {
        tokenizer.endOfGenerationIDs.union(generationConfig?.eosTokenId ?? [])
    }

    /// A folder's chat template: tokenizer_config.json's `chat_template` string, else chat_template.jinja.
    static func folderTemplate(_ folder: ModelFolder) -> String? {
        if let config = folder.tokenizerConfigPath, let data = FileManager.default.contents(atPath: config),
           let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let template = json["chat_template"] as? String {
            return template
        }
        let jinja = (folder.path as NSString).appendingPathComponent("chat_template.jinja")
        return (try? String(contentsOfFile: jinja, encoding: .utf8))
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

    /// A token's bytes as log-probability reports show it (the server's `token` / `bytes` fields and
    /// `lantern generate --show-probs`): its piece of text, nothing for special tokens and ids outside
    /// the vocabulary.
    public func logprobTokenBytes(_ id: Int) -> [UInt8] {
        guard id >= 0, id < tokenizer.vocabularySize, !tokenizer.isSpecial(id) else { return [] }
        return tokenizer.tokenBytes(id)
    }

    /// Tokens of a raw prompt: special tokens parsed, BOS added when the model asks for it.
    public func encodePrompt(_ text: String) -> [Int] {
        tokenizer.encode(text, parseSpecial: true, addBOS: tokenizer.addsBOS)
    }

    /// A session with a KV cache of `contextLength` positions (clamped to the model's trained context).
    public func makeSession(contextLength: Int, kvType: KVType? = nil) throws -> Session {
        guard contextLength > 0 else { throw ModelError.invalidConfiguration("context length must be positive, found \(contextLength)") }
        let model = try self.model
        return try Session(model: model, contextLength: min(contextLength, model.maxContextLength), kvType: kvType)
    }
}

/// How activations are rounded for the integer dot products against quantized weights.
public enum ActivationPrecision: String, Sendable, CaseIterable {
    /// Two int8 levels per 32-value block (the second holds the first's rounding error): logits within
    /// ~1e-2 of the float32 model, ~0.75x the prefill speed of `int8`. The default.
    case int8x2
    /// Two levels only in outlier blocks (a block whose scale is at least 1.5x its row's root-mean-square
    /// block scale, for its 8-token group), one elsewhere: mean KL several times below `int8`'s (and
    /// llama.cpp's) at nearly `int8`'s prefill speed.
    case mixed
    /// One int8 level per block, as llama.cpp does: fastest, logits move by up to ~1 on SmolLM2.
    case int8

    /// The process's default: `int8` or `mixed` when the environment variable LANTERN_ACTIVATION_PRECISION
    /// says so, else `int8x2`. Read once; a model's precision is fixed when it is loaded.
    public static var environmentDefault: ActivationPrecision {
        ProcessInfo.processInfo.environment["LANTERN_ACTIVATION_PRECISION"].flatMap(ActivationPrecision.init(rawValue:)) ?? .int8x2
    }

    var kernelPrecision: Kernels.ActivationPrecision {
        switch self {
        case .int8x2: return .int8x2
        case .mixed: return .mixed
        case .int8: return .int8
        }
    }
}

public enum LanternError: Error, CustomStringConvertible {
    case noChatTemplate(String)
    case notGenerative(path: String, architecture: String)
    case noTokenizer(String)
    case vocabularyMismatch(path: String, tokenizer: Int, model: Int)
    case notFound(String)

    public var description: String {
        switch self {
        case let .noChatTemplate(path): return "\(path) has no chat template (tokenizer.chat_template); use `lantern generate` with a raw prompt"
        case let .notGenerative(path, arch):
            return "\(path) is a \(arch) encoder: it embeds or fills masks but does not generate"
        case let .noTokenizer(path): return "\(path) has no tokenizer (tokenizer.json or vocab.txt); pass token ids with --tokens"
        case let .vocabularyMismatch(path, tokenizer, model):
            return "\(path): the tokenizer has \(tokenizer) tokens but the model's output covers only \(model)"
        case let .notFound(path): return "no file or folder at \(path)"
        }
    }
}
