import Foundation
import LanternGeneration
import LanternModels
import LanternTokenizers

/// The `ServerBackend` of `lantern serve`: requests go to the batching engine, which decodes up to
/// `parallel` sequences in one forward pass per step, admits waiting ones as slots and KV blocks free up,
/// and reuses a cached prompt prefix (reported as `cached_tokens`). Embeddings come from an optional
/// sentence-embedding model (pooling and normalisation as its sentence-transformers files say).
public final class EngineBackend: ServerBackend, @unchecked Sendable {
    public let modelName: String
    public let lantern: LanternModel
    let embedder: SentenceEmbedder?
    private let embedLock = NSLock()
    /// Attention maps run here, one at a time, off the server's threads (see `attention`).
    private let attentionQueue = DispatchQueue(label: "lantern.attention")
    private let statsLock = NSLock()
    private var counters = BackendStats()

    /// - Parameters:
    ///   - contextLength: positions per sequence (llama-server's --ctx-size divided by --parallel).
    ///   - maxWaiting: requests that may wait for a slot before new ones get 429.
    public init(model: LoadedModel, embeddingModel: LoadedModel? = nil, name: String? = nil, parallel: Int,
                contextLength: Int, maxWaiting: Int, threads: Int, kvType: KVType? = nil) throws {
        let generative = try model.model
        lantern = try LanternModel(loaded: model, engineOptions: EngineOptions(
            maxSequences: max(1, parallel), contextLength: min(contextLength, generative.maxContextLength),
            maxWaiting: maxWaiting, kvType: kvType))
        embedder = try embeddingModel.map { try SentenceEmbedder($0) }
        modelName = name ?? ((model.path as NSString).lastPathComponent as String)
    }

    public var contextLength: Int { lantern.engine.options.contextLength }
    public var vocabularySize: Int { lantern.loaded.tokenizer.vocabularySize }
    public var hasEmbeddings: Bool { embedder != nil }
    var loaded: LoadedModel { lantern.loaded }

    public func tokenize(_ text: String, addSpecial: Bool) -> [Int] {
        loaded.tokenizer.encode(text, parseSpecial: true, addBOS: addSpecial && loaded.tokenizer.addsBOS)
    }

    public func detokenize(_ ids: [Int]) -> String {
        loaded.tokenizer.decode(ids.filter { $0 >= 0 && $0 < loaded.tokenizer.vocabularySize }, skipSpecial: false)
    }

    public func tokenBytes(_ id: Int) -> [UInt8] { loaded.logprobTokenBytes(id) }

    public func renderChat(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        try loaded.renderChat(messages.map { ($0.role.rawValue, $0.content) }, addGenerationPrompt: addGenerationPrompt)
    }

    public func generate(_ request: BackendRequest) throws -> BackendGeneration {
        let engineRequest = lantern.request(tokens: request.prompt, parameters: request.parameters, logprobs: request.logprobs)
        let end = engineRequest.endOfGeneration ?? []
        let inner: AsyncThrowingStream<GenerationEvent, any Error>
        do {
            inner = try lantern.engine.generate(engineRequest)
        } catch {
            throw Self.refusal(error)
        }
        let (events, continuation) = AsyncThrowingStream<BackendEvent, any Error>.makeStream()
        let task = Task { [weak self] in
            do {
                for try await event in inner {
                    switch event {
                    case let .token(t):
                        // An end-of-generation token is not text; it still counts as a completion token.
                        guard !end.contains(t.id) else { continue }
                        let lp = t.logprob.map { TokenLogprobs(chosen: TokenLogprob(id: t.id, logprob: $0), top: t.top) }
                        continuation.yield(.piece(GeneratedPiece(token: t.id, text: t.text, logprobs: lp)))
                    case let .finished(s):
                        if !s.trailingText.isEmpty { continuation.yield(.piece(GeneratedPiece(token: nil, text: s.trailingText))) }
                        self?.count(s)
                        continuation.yield(.finished(GenerationUsage(finishReason: s.finishReason, promptTokens: s.promptTokens,
                                                                     completionTokens: s.completionTokens, cachedTokens: s.cachedTokens)))
                    }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { reason in if case .cancelled = reason { task.cancel() } }
        return BackendGeneration(events: events, cancel: { task.cancel() })
    }

    /// The engine's refusal as the server's (429 for a full queue, 400 for the rest).
    static func refusal(_ e: EngineError) -> BackendError {
        switch e {
        case let .queueFull(n): return .queueFull(waiting: n)
        case let .promptTooLong(n, ctx): return .promptTooLong(tokens: n, contextLength: ctx)
        case .emptyPrompt: return .emptyPrompt
        case let .invalidRequest(s): return .invalid(s)
        case .shutDown: return .invalid(e.description)
        }
    }

    private func count(_ s: GenerationSummary) {
        statsLock.lock(); defer { statsLock.unlock() }
        counters.promptTokensEvaluated += s.promptTokens - s.cachedTokens
        counters.promptTokensReused += s.cachedTokens
        counters.generatedTokens += s.completionTokens
    }

    public func embed(_ texts: [String]) throws -> EmbeddingResult? {
        guard let embedder else { return nil }
        embedLock.lock(); defer { embedLock.unlock() }
        let ids = try texts.map { text -> [Int] in
            let (ids, _) = try embedder.tokenize(text)
            guard !ids.isEmpty else { throw BackendError.emptyPrompt }
            return ids
        }
        return EmbeddingResult(vectors: try embedder.embed(tokens: ids), promptTokens: ids.reduce(0) { $0 + $1.count })
    }

    /// At most 512 tokens (and the model's context): a map of every head holds heads x tokens^2 floats.
    public var attentionLayout: AttentionLayout? {
        let context = (try? loaded.model.maxContextLength) ?? 512
        return AttentionLayout(architecture: loaded.architecture, heads: loaded.selfAttentionHeads, maxTokens: min(512, context))
    }

    /// `LoadedModel.attentionMap` on a serial queue of its own. It runs beside the engine's steps without
    /// touching them: it makes its own KV cache and workspace, the weights are only read, the shared
    /// thread pool runs one job at a time (a call made while the engine's job runs goes serially on its
    /// own thread, and the other way round), and matmul scratch is per thread. The queue keeps one map
    /// in memory at a time and keeps the forward pass off Swift's cooperative threads.
    public func attention(tokens: [Int], layer: Int, head: Int?) async throws -> AttentionMap {
        let loaded = self.loaded
        return try await withCheckedThrowingContinuation { continuation in
            attentionQueue.async {
                continuation.resume(with: Result { try loaded.attentionMap(tokens: tokens, layer: layer, head: head) })
            }
        }
    }

    public var stats: BackendStats {
        let e = lantern.engine.stats
        statsLock.lock(); defer { statsLock.unlock() }
        var s = counters
        s.running = e.running
        s.waiting = e.waiting
        s.slots = lantern.engine.options.maxSequences
        s.queueCapacity = lantern.engine.options.maxWaiting
        s.kvBlocksUsed = e.kvBlocksUsed
        s.kvBlocksTotal = e.kvBlocksTotal
        s.kvBlockSize = lantern.engine.options.blockSize
        return s
    }
}
