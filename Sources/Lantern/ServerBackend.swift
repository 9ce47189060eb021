import LanternGeneration

// What an HTTP server needs from an inference engine. The protocol lives in the facade, not in
// LanternServer, because its implementations do: `SerialBackend` here (one sequence at a time over a
// Session) and later the batching engine's adapter. LanternServer only consumes `any ServerBackend`.

/// One generation request, already tokenized and validated by the server.
public struct BackendRequest: Sendable {
    public var prompt: [Int]
    /// maxTokens, sampling (temperature, top-k/p, min-p, penalties, seed, logit bias) and stop strings.
    public var parameters: GenerateParameters
    /// nil: no log-probabilities; n >= 0: each piece carries the chosen token's logprob and the n best.
    public var logprobs: Int?

    public init(prompt: [Int], parameters: GenerateParameters, logprobs: Int? = nil) {
        self.prompt = prompt
        self.parameters = parameters
        self.logprobs = logprobs
    }
}

/// The output of one generation step.
public struct GeneratedPiece: Sendable {
    /// The sampled token; nil for text released at the end without a new token.
    public var token: Int?
    /// Text that became safe to show with this step: whole UTF-8 characters, never part of a stop
    /// string; may be empty (the middle of a character, or a possible stop string being held back).
    public var text: String
    public var logprobs: TokenLogprobs?

    public init(token: Int?, text: String, logprobs: TokenLogprobs? = nil) {
        self.token = token
        self.text = text
        self.logprobs = logprobs
    }
}

/// How a sequence ended and what it cost.
public struct GenerationUsage: Sendable, Equatable {
    public var finishReason: FinishReason
    public var promptTokens: Int
    public var completionTokens: Int
    /// Prompt tokens whose KV entries were reused instead of computed.
    public var cachedTokens: Int

    public init(finishReason: FinishReason, promptTokens: Int, completionTokens: Int, cachedTokens: Int) {
        self.finishReason = finishReason
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedTokens = cachedTokens
    }
}

public enum BackendEvent: Sendable {
    case piece(GeneratedPiece)
    /// Always the last event of a sequence that was not cancelled and did not fail.
    case finished(GenerationUsage)
}

/// A submitted sequence. Iterate `events`; call `cancel()` (idempotent) when the consumer goes away.
/// Cancelling the task that iterates `events` also stops the sequence.
public struct BackendGeneration: Sendable {
    public let events: AsyncThrowingStream<BackendEvent, any Error>
    public let cancel: @Sendable () -> Void

    public init(events: AsyncThrowingStream<BackendEvent, any Error>, cancel: @escaping @Sendable () -> Void) {
        self.events = events
        self.cancel = cancel
    }
}

/// Why a request was refused at submission (before any event).
public enum BackendError: Error, Equatable, CustomStringConvertible {
    /// Every running slot and queue place is taken: retry later (HTTP 429).
    case queueFull(waiting: Int)
    case promptTooLong(tokens: Int, contextLength: Int)
    case emptyPrompt
    case tokenOutOfRange(id: Int, vocabularySize: Int)
    case invalid(String)

    public var description: String {
        switch self {
        case let .queueFull(n): return "the server is busy: \(n) requests are already waiting; retry later"
        case let .promptTooLong(n, ctx):
            return "the prompt has \(n) tokens but the context holds \(ctx) tokens; shorten the prompt or raise --ctx-size"
        case .emptyPrompt: return "the prompt is empty (no tokens)"
        case let .tokenOutOfRange(id, vocab): return "token id \(id) is outside the vocabulary (0..<\(vocab))"
        case let .invalid(s): return s
        }
    }
}

/// Sentence embeddings and what they cost.
public struct EmbeddingResult: Sendable {
    /// One L2-normalised vector per input.
    public var vectors: [[Float]]
    public var promptTokens: Int

    public init(vectors: [[Float]], promptTokens: Int) {
        self.vectors = vectors
        self.promptTokens = promptTokens
    }
}

/// A snapshot for /metrics and /health.
public struct BackendStats: Sendable, Equatable {
    public var running = 0
    public var waiting = 0
    /// Most sequences that run at once, and most that may wait.
    public var slots = 1
    public var queueCapacity = 0
    /// KV cache in blocks of `kvBlockSize` positions.
    public var kvBlocksUsed = 0
    public var kvBlocksTotal = 0
    public var kvBlockSize = 16
    /// Totals since start: prompt tokens computed, prompt tokens reused from the cache, tokens generated.
    public var promptTokensEvaluated = 0
    public var promptTokensReused = 0
    public var generatedTokens = 0

    public init() {}
}

/// An inference engine as the OpenAI-compatible server uses it.
public protocol ServerBackend: Sendable {
    /// The name /v1/models lists and responses carry.
    var modelName: String { get }
    /// Positions a sequence may hold (prompt + generated).
    var contextLength: Int { get }
    var vocabularySize: Int { get }
    var hasEmbeddings: Bool { get }
    /// Special tokens in `text` are parsed; `addSpecial` adds BOS when the model asks for it.
    func tokenize(_ text: String, addSpecial: Bool) -> [Int]
    func detokenize(_ ids: [Int]) -> String
    /// The raw bytes of one token (may be part of a UTF-8 character), for logprobs' `token`/`bytes`.
    func tokenBytes(_ id: Int) -> [UInt8]
    func renderChat(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String
    /// Queues a sequence. Throws `BackendError` when it cannot be admitted (queue full, prompt too long).
    func generate(_ request: BackendRequest) throws -> BackendGeneration
    /// nil when the server has no embedding model.
    func embed(_ texts: [String]) throws -> EmbeddingResult?
    var stats: BackendStats { get }
    /// The self-attention maps `attention(tokens:layer:head:)` can draw; nil when it draws none.
    var attentionLayout: AttentionLayout? { get }
    /// One layer's self-attention (one head, or every head when `head` is nil) over `tokens`, from a
    /// forward pass of its own that leaves running generations as they are. The server has checked
    /// `tokens`, `layer` and `head` against `attentionLayout`.
    func attention(tokens: [Int], layer: Int, head: Int?) async throws -> AttentionMap
}

/// What the attention route of the server may ask for.
public struct AttentionLayout: Sendable, Equatable {
    public var architecture: String
    /// Query heads of each layer's self-attention: `heads.count` layers.
    public var heads: [Int]
    /// The most tokens one map covers (a map of all heads holds heads x tokens^2 probabilities).
    public var maxTokens: Int

    public init(architecture: String, heads: [Int], maxTokens: Int) {
        self.architecture = architecture
        self.heads = heads
        self.maxTokens = maxTokens
    }
}

extension ServerBackend {
    public var attentionLayout: AttentionLayout? { nil }
    public func attention(tokens: [Int], layer: Int, head: Int?) async throws -> AttentionMap {
        throw BackendError.invalid("this backend draws no attention maps")
    }
}
