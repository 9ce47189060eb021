import Foundation
@_exported import LanternGeneration
@_exported import enum LanternTensor.KVType
import LanternModels
import LanternTokenizers

/// Where a model comes from.
public enum ModelLocation: Sendable {
    /// A GGUF file.
    case gguf(URL)
    /// A Hugging Face model folder (config.json + safetensors + tokenizer.json).
    case folder(URL)
    /// The default chat model (SmolLM2-135M-Instruct Q4_1), fetched into the cache on first use.
    case `default`
}

/// How a model runs, fixed at load (nothing here is process-wide state).
public struct LoadOptions: Sendable {
    public var threads: Int
    public var precision: ActivationPrecision
    /// Positions each sequence may hold (prompt + reply).
    public var contextLength: Int
    /// Sequences the engine decodes together.
    public var parallel: Int
    /// How the KV cache stores keys and values: f16, f32 or q8_0; nil: f16 for quantized weights (as
    /// llama.cpp), f32 for float weights.
    public var kvType: KVType?
    /// Progress lines while fetching the default model.
    public var progress: (@Sendable (String) -> Void)?

    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount, precision: ActivationPrecision = .int8x2,
                contextLength: Int = 4096, parallel: Int = 1, kvType: KVType? = nil,
                progress: (@Sendable (String) -> Void)? = nil) {
        self.kvType = kvType
        self.threads = threads
        self.precision = precision
        self.contextLength = contextLength
        self.parallel = parallel
        self.progress = progress
    }
}

/// A loaded generative model with its batching engine: the Swift API of Lantern.
///
/// ```swift
/// let model = try await LanternModel.load(.default)
/// for try await event in try model.generate("Once upon a time", parameters: GenerateParameters(maxTokens: 32)) {
///     if case let .token(t) = event { print(t.text, terminator: "") }
/// }
/// ```
public final class LanternModel: @unchecked Sendable {
    public let loaded: LoadedModel
    public let engine: Engine

    public convenience init(loaded: LoadedModel, options: LoadOptions) throws {
        try self.init(loaded: loaded, engineOptions: EngineOptions(maxSequences: max(1, options.parallel),
                                                                   contextLength: options.contextLength,
                                                                   kvType: options.kvType))
    }

    /// With the engine's sizes given in full (slots, context per sequence, token budget, queue).
    public init(loaded: LoadedModel, engineOptions: EngineOptions) throws {
        self.loaded = loaded
        var o = engineOptions
        let model = try loaded.model
        o.contextLength = min(o.contextLength, model.maxContextLength)
        engine = try Engine(model: model, tokenizer: loaded.tokenizer, options: o)
    }

    /// Opens a model off the caller's thread (mapping, tokenizer and template parsing take a moment).
    public static func load(_ location: ModelLocation, options: LoadOptions = LoadOptions()) async throws -> LanternModel {
        try await Task.detached {
            let loaded: LoadedModel
            switch location {
            case let .gguf(url), let .folder(url):
                loaded = try LoadedModel(path: url.path, threads: options.threads, precision: options.precision)
            case .default:
                loaded = try LoadedModel.openDefault(threads: options.threads, precision: options.precision,
                                                     progress: options.progress ?? { _ in })
            }
            return try LanternModel(loaded: loaded, options: options)
        }.value
    }

    public var tokenizer: any Tokenizer { loaded.tokenizer }

    /// Continues a raw prompt (special tokens such as `<|im_start|>` are parsed; BOS as the model says).
    /// Cancel the consuming task to stop early: the sequence ends and frees its cache.
    public func generate(_ prompt: String, parameters: GenerateParameters = GenerateParameters(),
                         logprobs: Int? = nil) throws -> AsyncThrowingStream<GenerationEvent, any Error> {
        guard loaded.hasTokenizer else { throw LanternError.noTokenizer(loaded.path) }
        return try generate(tokens: loaded.encodePrompt(prompt), parameters: parameters, logprobs: logprobs)
    }

    /// Continues a prompt given as token ids (for encoder-decoder models: the encoder's input).
    public func generate(tokens: [Int], parameters: GenerateParameters = GenerateParameters(),
                         logprobs: Int? = nil) throws -> AsyncThrowingStream<GenerationEvent, any Error> {
        try engine.generate(request(tokens: tokens, parameters: parameters, logprobs: logprobs))
    }

    /// The engine request for a prompt: end-of-generation ids from the tokenizer and generation config,
    /// and for encoder-decoder models the encoder input with the decoder's start token.
    public func request(tokens: [Int], parameters: GenerateParameters, logprobs: Int? = nil) -> GenerationRequest {
        var r: GenerationRequest
        if case let .encoderDecoder(m) = loaded.network {
            r = GenerationRequest(prompt: [m.decoderStartTokenID], parameters: parameters, topLogprobs: logprobs,
                                  endOfGeneration: loaded.endOfGenerationIDs.union(m.eosTokenIDs),
                                  encoderInput: tokens)
            r.forcedFirst = m.forcedBOSTokenID
            r.forcedLast = m.forcedEOSTokenIDs?.first
        } else {
            r = GenerationRequest(prompt: tokens, parameters: parameters, topLogprobs: logprobs,
                                  endOfGeneration: loaded.endOfGenerationIDs)
            r.forcedFirst = loaded.generationConfig?.forcedBosTokenId
            r.forcedLast = loaded.generationConfig?.forcedEosTokenId?.first
        }
        return r
    }

    /// A conversation that keeps its history and renders the model's chat template each turn.
    public func chat(system: String? = nil) -> ChatSession { ChatSession(model: self, system: system) }
}

/// A message of a conversation.
public struct ChatMessage: Sendable, Equatable, Codable {
    public enum Role: String, Sendable, Codable { case system, user, assistant, tool }
    public var role: Role
    public var content: String
    public init(_ role: Role, _ content: String) {
        self.role = role
        self.content = content
    }
}

/// A conversation with a chat model. Each `send` renders the whole history with the model's template;
/// the engine's prefix cache keeps the earlier turns, so only the new part is computed.
public final class ChatSession: @unchecked Sendable {
    public let model: LanternModel
    private let lock = NSLock()
    private var history: [ChatMessage]

    init(model: LanternModel, system: String?) {
        self.model = model
        history = system.map { [ChatMessage(.system, $0)] } ?? []
    }

    public var messages: [ChatMessage] { lock.lock(); defer { lock.unlock() }; return history }

    public func reset() {
        lock.lock(); defer { lock.unlock() }
        history = history.filter { $0.role == .system }
    }

    /// Sends a user message; the reply streams as events and joins the history when it is complete
    /// (a cancelled or failed reply leaves the history as it was).
    public func send(_ text: String, parameters: GenerateParameters = GenerateParameters(),
                     logprobs: Int? = nil) throws -> AsyncThrowingStream<GenerationEvent, any Error> {
        let turn = messages + [ChatMessage(.user, text)]
        let rendered = try model.loaded.renderChat(turn.map { (role: $0.role.rawValue, content: $0.content) },
                                                   addGenerationPrompt: true)
        let tokens = model.tokenizer.encode(rendered, parseSpecial: true, addBOS: false)
        let inner = try model.generate(tokens: tokens, parameters: parameters, logprobs: logprobs)
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
        let task = Task { [weak self] in
            var reply = ""
            do {
                for try await event in inner {
                    switch event {
                    case let .token(t): reply += t.text
                    case let .finished(s):
                        reply += s.trailingText
                        self?.append(turn.last!, ChatMessage(.assistant, reply))
                    }
                    continuation.yield(event)
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func append(_ user: ChatMessage, _ reply: ChatMessage) {
        lock.lock(); defer { lock.unlock() }
        history.append(user)
        history.append(reply)
    }
}
