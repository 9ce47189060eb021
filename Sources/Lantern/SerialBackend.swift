import Foundation
import LanternGeneration
import LanternModels
import LanternTokenizers

/// A `ServerBackend` that runs one sequence at a time, in arrival order, on one `Session`.
///
/// Requests wait in a bounded FIFO queue (a full queue refuses at submission, so the server can answer
/// 429 before sending anything). One worker thread owns the session; because consecutive requests go
/// through the same KV cache, a prompt that starts like the previous sequence (the same system prompt,
/// a conversation growing turn by turn) reuses those positions: `Session.prefill` keeps the common
/// prefix, reported as `cachedTokens`. The batching engine replaces this backend; it exists so the
/// server works today with what the library has.
public final class SerialBackend: ServerBackend, @unchecked Sendable {
    public let modelName: String
    public let contextLength: Int
    let model: LoadedModel
    let embedder: LoadedModel?
    let session: Session
    let endOfGeneration: Set<Int>
    /// How many requests may wait behind the running one.
    public let maxWaiting: Int

    /// Guards everything below and wakes the worker.
    private let condition = NSCondition()
    private var waiting: [Job] = []
    private var running: Job?
    private var totals = BackendStats()
    private var stopped = false
    private let embedLock = NSLock()

    /// A queued or running sequence; `cancelled` is read by the worker between steps.
    final class Job: @unchecked Sendable {
        let request: BackendRequest
        let continuation: AsyncThrowingStream<BackendEvent, any Error>.Continuation
        var cancelled = false   // guarded by the backend's condition
        init(request: BackendRequest, continuation: AsyncThrowingStream<BackendEvent, any Error>.Continuation) {
            self.request = request
            self.continuation = continuation
        }
    }

    /// - Parameters:
    ///   - contextLength: KV cache positions (clamped to the model's trained context).
    ///   - maxWaiting: queue depth behind the running sequence; more requests are refused (429).
    public init(model: LoadedModel, embeddingModel: LoadedModel? = nil, name: String? = nil,
                contextLength: Int, maxWaiting: Int = 64) throws {
        self.model = model
        self.embedder = embeddingModel
        self.session = try model.makeSession(contextLength: contextLength)
        self.contextLength = session.contextLength
        self.modelName = name ?? ((model.path as NSString).lastPathComponent as String)
        self.endOfGeneration = model.endOfGenerationIDs
        self.maxWaiting = max(0, maxWaiting)
        if let embeddingModel {
            guard case .encoder = embeddingModel.network else {
                throw BackendError.invalid("\(embeddingModel.path) is a \(embeddingModel.architecture) model; --embedding-model needs an encoder (BERT family)")
            }
        }
        let thread = Thread { [unowned self] in self.workLoop() }
        thread.name = "lantern-serial-backend"
        thread.start()
    }

    /// Stops the worker after the running sequence; waiting ones are cancelled.
    public func shutdown() {
        condition.lock()
        stopped = true
        let dropped = waiting
        waiting.removeAll()
        running?.cancelled = true
        condition.broadcast()
        condition.unlock()
        for job in dropped { job.continuation.finish(throwing: CancellationError()) }
    }

    public var vocabularySize: Int { model.tokenizer.vocabularySize }
    public var hasEmbeddings: Bool { embedder != nil }

    public func tokenize(_ text: String, addSpecial: Bool) -> [Int] {
        model.tokenizer.encode(text, parseSpecial: true, addBOS: addSpecial && model.tokenizer.addsBOS)
    }

    public func detokenize(_ ids: [Int]) -> String {
        model.tokenizer.decode(ids.filter { $0 >= 0 && $0 < model.tokenizer.vocabularySize }, skipSpecial: false)
    }

    public func tokenBytes(_ id: Int) -> [UInt8] {
        guard id >= 0, id < model.tokenizer.vocabularySize, !model.tokenizer.isSpecial(id) else { return [] }
        return model.tokenizer.tokenBytes(id)
    }

    public func renderChat(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        try model.renderChat(messages.map { ($0.role.rawValue, $0.content) }, addGenerationPrompt: addGenerationPrompt)
    }

    public var stats: BackendStats {
        condition.lock()
        defer { condition.unlock() }
        var s = totals
        s.running = running == nil ? 0 : 1
        s.waiting = waiting.count
        s.slots = 1
        s.queueCapacity = maxWaiting
        s.kvBlocksTotal = (contextLength + s.kvBlockSize - 1) / s.kvBlockSize
        return s
    }

    public func generate(_ request: BackendRequest) throws -> BackendGeneration {
        guard !request.prompt.isEmpty else { throw BackendError.emptyPrompt }
        guard request.prompt.count <= contextLength else {
            throw BackendError.promptTooLong(tokens: request.prompt.count, contextLength: contextLength)
        }
        let vocab = model.network.model.vocabularySize
        if let bad = request.prompt.first(where: { $0 < 0 || $0 >= vocab }) {
            throw BackendError.tokenOutOfRange(id: bad, vocabularySize: vocab)
        }
        guard request.parameters.maxTokens >= 0 else { throw BackendError.invalid("max_tokens must be >= 0") }
        do { try request.parameters.sampling.validate() } catch { throw BackendError.invalid(error.description) }

        let (events, continuation) = AsyncThrowingStream<BackendEvent, any Error>.makeStream()
        let job = Job(request: request, continuation: continuation)
        condition.lock()
        guard !stopped else { condition.unlock(); throw BackendError.invalid("the server is shutting down") }
        // The running slot counts as free when nothing runs and nothing waits.
        guard waiting.count < maxWaiting || (running == nil && waiting.isEmpty) else {
            let n = waiting.count
            condition.unlock()
            throw BackendError.queueFull(waiting: n)
        }
        waiting.append(job)
        condition.signal()
        condition.unlock()
        let cancel: @Sendable () -> Void = { [weak self] in self?.cancel(job) }
        continuation.onTermination = { reason in
            if case .cancelled = reason { cancel() }
        }
        return BackendGeneration(events: events, cancel: cancel)
    }

    private func cancel(_ job: Job) {
        condition.lock()
        job.cancelled = true
        let wasWaiting = waiting.firstIndex { $0 === job }
        if let i = wasWaiting { waiting.remove(at: i) }
        condition.unlock()
        if wasWaiting != nil { job.continuation.finish(throwing: CancellationError()) }
    }

    private func workLoop() {
        while true {
            condition.lock()
            while waiting.isEmpty && !stopped { condition.wait() }
            if stopped { condition.unlock(); return }
            let job = waiting.removeFirst()
            running = job
            condition.unlock()
            run(job)
            condition.lock()
            running = nil
            condition.unlock()
        }
    }

    private func isCancelled(_ job: Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return job.cancelled
    }

    private func run(_ job: Job) {
        let prompt = job.request.prompt
        // What Session.prefill will keep: the common prefix, leaving at least one token to evaluate.
        let held = session.tokens
        var cached = 0
        while cached < min(prompt.count - 1, held.count) && prompt[cached] == held[cached] { cached += 1 }
        do {
            let generator = try Generator(session: session, tokenizer: model.tokenizer, prompt: prompt,
                                          parameters: job.request.parameters, endOfGeneration: endOfGeneration)
            generator.logprobs = job.request.logprobs
            var first = true
            while !isCancelled(job) {
                guard let step = try generator.next() else { break }
                if first {
                    first = false
                    record { $0.promptTokensEvaluated += prompt.count - cached; $0.promptTokensReused += cached }
                }
                record { $0.generatedTokens += step.token == nil ? 0 : 1; $0.kvBlocksUsed = (self.session.tokens.count + $0.kvBlockSize - 1) / $0.kvBlockSize }
                // An end-of-generation token is not text: only its flushed tail (if any) is reported.
                let isEnd = step.token.map { endOfGeneration.contains($0) } ?? false
                if !isEnd, step.token != nil || !step.text.isEmpty {
                    job.continuation.yield(.piece(GeneratedPiece(token: step.token, text: step.text, logprobs: step.logprobs)))
                } else if !step.text.isEmpty {
                    job.continuation.yield(.piece(GeneratedPiece(token: nil, text: step.text)))
                }
                if let reason = step.finishReason {
                    // Not running any more once the client can know it has finished (stats stay truthful).
                    condition.lock()
                    running = nil
                    condition.unlock()
                    job.continuation.yield(.finished(GenerationUsage(
                        finishReason: reason, promptTokens: prompt.count,
                        completionTokens: generator.generated.count, cachedTokens: cached)))
                    job.continuation.finish()
                    return
                }
            }
            job.continuation.finish(throwing: CancellationError())
        } catch {
            job.continuation.finish(throwing: error)
        }
    }

    private func record(_ update: (inout BackendStats) -> Void) {
        condition.lock()
        update(&totals)
        condition.unlock()
    }

    /// Mean-pooled, L2-normalised last hidden states of the embedding model (sentence-transformers'
    /// recipe for MiniLM-style models), one vector per text.
    public func embed(_ texts: [String]) throws -> EmbeddingResult? {
        guard let embedder, case let .encoder(encoder) = embedder.network else { return nil }
        embedLock.lock()
        defer { embedLock.unlock() }
        var vectors: [[Float]] = []
        var tokens = 0
        let limit = encoder.maxContextLength
        for text in texts {
            var ids = embedder.tokenizer.encode(text, parseSpecial: true, addBOS: true)
            guard !ids.isEmpty else { throw BackendError.emptyPrompt }
            if ids.count > limit { ids = Array(ids.prefix(limit)) }   // as sentence-transformers truncates
            tokens += ids.count
            let hidden = try encoder.encode([ids], output: .hidden)[0]   // [ids.count, hidden]
            let width = encoder.hiddenSize
            var mean = [Float](repeating: 0, count: width)
            for p in 0..<ids.count {
                for j in 0..<width { mean[j] += hidden[p * width + j] }
            }
            var norm: Float = 0
            for j in 0..<width { mean[j] /= Float(ids.count); norm += mean[j] * mean[j] }
            norm = norm.squareRoot()
            if norm > 0 { for j in 0..<width { mean[j] /= norm } }
            vectors.append(mean)
        }
        return EmbeddingResult(vectors: vectors, promptTokens: tokens)
    }
}
