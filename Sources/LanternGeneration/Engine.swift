import Foundation
import LanternModels
import LanternTensor
import LanternTokenizers

/// A generated token as the engine reports it.
public struct GeneratedToken: Sendable {
    public let id: Int
    /// Text that became safe to show with this token (may be empty: a UTF-8 character or a possible stop
    /// string is still incomplete).
    public let text: String
    /// log p(token) under the model's own distribution (raw logits), when asked for.
    public let logprob: Float?
    /// The most likely alternatives with their log-probabilities, when asked for.
    public let top: [TokenLogprob]
}

/// How a request ended, with its counts and timings.
public struct GenerationSummary: Sendable {
    public let finishReason: FinishReason
    public let promptTokens: Int
    public let completionTokens: Int
    /// Prompt tokens whose keys and values were already cached (skipped).
    public let cachedTokens: Int
    /// From admission to the first token, and from the first token to the end.
    public let prefillSeconds: Double
    public let decodeSeconds: Double
    /// The rest of the text held back at the end (flushed detokenizer / stop matcher).
    public let trailingText: String
}

public enum GenerationEvent: Sendable {
    case token(GeneratedToken)
    case finished(GenerationSummary)
}

/// One request to the engine.
public struct GenerationRequest: Sendable {
    public var prompt: [Int]
    public var parameters: GenerateParameters
    /// nil: no logprobs; 0: the chosen token's only; n: also the n most likely alternatives (at most 20).
    /// (Logit bias is a sampling parameter: `parameters.sampling.logitBias`.)
    public var topLogprobs: Int?
    /// Ids that end generation (default: the tokenizer's end-of-generation ids).
    public var endOfGeneration: Set<Int>?
    /// Encoder-decoder models: the encoder's input; `prompt` is then the decoder's start.
    public var encoderInput: [Int]?
    /// generation_config's forced_bos_token_id (the first new token) and forced_eos_token_id (the token
    /// at `maxTokens`).
    public var forcedFirst: Int?
    public var forcedLast: Int?

    public init(prompt: [Int], parameters: GenerateParameters = GenerateParameters(), topLogprobs: Int? = nil,
                endOfGeneration: Set<Int>? = nil, encoderInput: [Int]? = nil) {
        self.prompt = prompt
        self.parameters = parameters
        self.topLogprobs = topLogprobs
        self.endOfGeneration = endOfGeneration
        self.encoderInput = encoderInput
    }
}

public enum EngineError: Error, Equatable, CustomStringConvertible {
    case queueFull(waiting: Int)
    case promptTooLong(tokens: Int, contextLength: Int)
    case emptyPrompt
    case invalidRequest(String)
    case shutDown

    public var description: String {
        switch self {
        case let .queueFull(n): return "the server is busy: \(n) requests are already waiting; retry later"
        case let .promptTooLong(n, ctx):
            return "the prompt has \(n) tokens but the context holds \(ctx); shorten the prompt or raise the context length"
        case .emptyPrompt: return "the prompt is empty (no tokens)"
        case let .invalidRequest(s): return "invalid request: \(s)"
        case .shutDown: return "the engine has shut down"
        }
    }
}

/// Sizes of the engine, fixed when it starts.
public struct EngineOptions: Sendable {
    /// Sequences decoded together (llama-server's --parallel).
    public var maxSequences: Int
    /// Positions each sequence may hold (prompt + generated).
    public var contextLength: Int
    /// Rows per forward step: every running sequence's next token plus prompt chunks up to this budget.
    public var tokenBudget: Int
    /// Requests that may wait for a free sequence before new ones are refused.
    public var maxWaiting: Int
    public var blockSize: Int
    /// How the KV cache stores keys and values (nil: the model's `defaultKVType`).
    public var kvType: KVType?

    public init(maxSequences: Int = 4, contextLength: Int = 4096, tokenBudget: Int = 512, maxWaiting: Int = 256,
                blockSize: Int = 16, kvType: KVType? = nil) {
        self.kvType = kvType
        self.maxSequences = maxSequences
        self.contextLength = contextLength
        self.tokenBudget = tokenBudget
        self.maxWaiting = maxWaiting
        self.blockSize = blockSize
    }
}

/// What the engine is doing, for /metrics and tests.
public struct EngineStats: Sendable {
    public var running = 0
    public var waiting = 0
    public var kvBlocksTotal = 0
    public var kvBlocksUsed = 0
    public var requestsFinished = 0
    public var promptTokens = 0
    public var promptTokensReused = 0
    public var generatedTokens = 0
    public var steps = 0
}

/// The batching engine: a scheduler on its own thread owns the waiting and running sequences (each with
/// its KV blocks, sampler, detokenizer and stop matcher) and runs one batched forward per step over every
/// running sequence's next token plus chunks of waiting prompts under a token budget, so decode never
/// stalls behind a long prompt. Sequences are admitted while there is a free slot and KV blocks; a
/// finished sequence's cache is kept as a prefix cache (a later prompt that continues it skips the
/// cached part) and evicted as soon as its blocks are needed; a cancelled one frees its blocks at once.
///
/// The engine is the model's only user while it runs (it drives the model's thread pool). Releasing the
/// engine shuts the scheduler down.
public final class Engine: @unchecked Sendable {
    private let core: EngineCore

    public init(model: any CausalLanguageModel, tokenizer: any Tokenizer, options: EngineOptions = EngineOptions()) throws {
        core = try EngineCore(model: model, tokenizer: tokenizer, options: options)
        let core = self.core
        let t = Thread { core.loop() }   // the thread keeps the core alive until the loop ends
        t.name = "lantern-engine"
        t.start()
    }

    deinit { core.shutdown() }

    public var model: any CausalLanguageModel { core.model }
    public var tokenizer: any Tokenizer { core.tokenizer }
    public var options: EngineOptions { core.options }
    public var stats: EngineStats { core.stats }

    /// Stops the scheduler; waiting and running requests end with `EngineError.shutDown`.
    public func shutdown() { core.shutdown() }

    /// Queues a request; its events arrive on the returned stream. Cancelling the consuming task (or
    /// dropping the stream) stops the sequence and frees its blocks.
    public func generate(_ request: GenerationRequest) throws(EngineError) -> AsyncThrowingStream<GenerationEvent, any Error> {
        try core.generate(request)
    }
}

/// The scheduler's state; owned by its thread while it runs.
final class EngineCore: @unchecked Sendable {
    let model: any CausalLanguageModel
    let tokenizer: any Tokenizer
    let options: EngineOptions
    let pool: KVPool
    private let lock = NSCondition()
    private var waiting: [EngineSequence] = []
    private var running: [EngineSequence] = []
    /// Caches of finished sequences with the tokens they hold, most recent last.
    private var idle: [(cache: KVCache, tokens: [Int])] = []
    private var cancelled: Set<Int> = []
    private var nextID = 0
    private var stopping = false
    private var statsValue = EngineStats()

    init(model: any CausalLanguageModel, tokenizer: any Tokenizer, options: EngineOptions) throws {
        guard options.maxSequences > 0, options.tokenBudget > 0, options.contextLength > 0, options.maxWaiting >= 0 else {
            throw EngineError.invalidRequest("engine sizes must be positive")
        }
        var o = options
        o.contextLength = min(o.contextLength, model.maxContextLength)
        o.tokenBudget = max(o.tokenBudget, o.maxSequences)
        self.model = model
        self.tokenizer = tokenizer
        self.options = o
        let perSequence = (o.contextLength + o.blockSize - 1) / o.blockSize
        pool = try model.makePool(blocks: perSequence * o.maxSequences, blockSize: o.blockSize, type: o.kvType)
        statsValue.kvBlocksTotal = pool.blockCount
    }

    func shutdown() {
        lock.lock()
        stopping = true
        lock.broadcast()
        lock.unlock()
    }

    var stats: EngineStats {
        lock.lock(); defer { lock.unlock() }
        var s = statsValue
        s.running = running.count
        s.waiting = waiting.count
        s.kvBlocksUsed = pool.blockCount - pool.freeBlocks
        return s
    }

    func generate(_ request: GenerationRequest) throws(EngineError) -> AsyncThrowingStream<GenerationEvent, any Error> {
        guard !request.prompt.isEmpty else { throw .emptyPrompt }
        if let e = request.encoderInput, e.isEmpty { throw .emptyPrompt }
        guard request.prompt.count <= options.contextLength else {
            throw .promptTooLong(tokens: request.prompt.count, contextLength: options.contextLength)
        }
        guard request.parameters.maxTokens >= 0 else { throw .invalidRequest("max tokens must be >= 0") }
        if let n = request.topLogprobs, !(0...20).contains(n) { throw .invalidRequest("top logprobs must be in 0...20") }
        for t in request.prompt + (request.encoderInput ?? []) where t < 0 || t >= model.vocabularySize {
            throw .invalidRequest("token id \(t) is outside the vocabulary (0..<\(model.vocabularySize))")
        }
        for id in [request.forcedFirst, request.forcedLast].compactMap({ $0 }) where id < 0 || id >= model.vocabularySize {
            throw .invalidRequest("forced token \(id) is outside the vocabulary")
        }
        for id in request.parameters.sampling.logitBias.keys where id < 0 || id >= model.vocabularySize {
            throw .invalidRequest("logit_bias token \(id) is outside the vocabulary")
        }
        let sampler: SamplerChain
        do { sampler = try SamplerChain(request.parameters.sampling) } catch { throw .invalidRequest(error.description) }
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
        lock.lock()
        defer { lock.unlock() }
        guard !stopping else { throw .shutDown }
        guard waiting.count < options.maxWaiting || running.count < options.maxSequences else {
            throw .queueFull(waiting: waiting.count)
        }
        let id = nextID
        nextID += 1
        let seq = EngineSequence(id: id, request: request, sampler: sampler, tokenizer: tokenizer, continuation: continuation,
                           endOfGeneration: request.endOfGeneration ?? tokenizer.endOfGenerationIDs,
                           contextLength: options.contextLength)
        waiting.append(seq)
        continuation.onTermination = { [weak self] reason in
            if case .cancelled = reason { self?.cancel(id) }
        }
        lock.signal()
        return stream
    }

    private func cancel(_ id: Int) {
        lock.lock()
        cancelled.insert(id)
        lock.signal()
        lock.unlock()
    }

    // MARK: - Scheduler

    func loop() {
        let maxRows = options.tokenBudget + options.maxSequences
        let ws = model.makeWorkspace(maxTokens: maxRows)
        var batch = ForwardBatch(reservingRows: maxRows, sequences: options.maxSequences)
        let vocab = model.vocabularySize
        var logits = [Float](repeating: 0, count: options.maxSequences * vocab)
        var outputs: [EngineSequence] = []
        outputs.reserveCapacity(options.maxSequences)
        while true {
            lock.lock()
            while !stopping && running.isEmpty && waiting.isEmpty && cancelled.isEmpty { lock.wait() }
            if stopping {
                let all = running + waiting
                running.removeAll(); waiting.removeAll()
                lock.unlock()
                for s in all { s.continuation.finish(throwing: EngineError.shutDown) }
                return
            }
            dropCancelled()
            admit()
            let active = running
            lock.unlock()
            if active.isEmpty { continue }

            // One step: decode rows first (one per sequence), then prompt chunks under the budget.
            batch.removeAll()
            outputs.removeAll(keepingCapacity: true)
            var budget = options.tokenBudget
            for s in active where s.prefilled {
                batch.add([s.pending], startingAt: s.cache.count, cache: s.cache, output: .last)
                outputs.append(s)
                budget -= 1
            }
            for s in active where !s.prefilled && budget > 0 {
                let n = min(s.request.prompt.count - s.fed, budget)
                let last = s.fed + n == s.request.prompt.count
                batch.add(Array(s.request.prompt[s.fed..<(s.fed + n)]), startingAt: s.fed, cache: s.cache, output: last ? .last : .none)
                if last { outputs.append(s) }
                s.fed += n
                budget -= n
            }
            if batch.rowCount == 0 { continue }
            do {
                try makeRoom(for: batch)
                try logits.withUnsafeMutableBufferPointer { (buf) throws(ModelError) in
                    try model.forward(batch, workspace: ws, output: .logits, into: buf.baseAddress!)
                }
            } catch {
                // A failed step ends the sequences in it (their caches are in an unknown state).
                lock.lock()
                for s in active where batch.sequences.contains(where: { $0.cache === s.cache }) {
                    running.removeAll { $0 === s }
                    s.cache.reset()
                    s.continuation.finish(throwing: error)
                }
                lock.unlock()
                continue
            }
            var finished: [EngineSequence] = []
            logits.withUnsafeMutableBufferPointer { buf in
                for (row, s) in outputs.enumerated() {
                    let rowLogits = UnsafeMutableBufferPointer(rebasing: buf[(row * vocab)..<((row + 1) * vocab)])
                    if s.step(logits: rowLogits, model: model, contextLength: options.contextLength) { finished.append(s) }
                }
            }
            lock.lock()
            statsValue.steps += 1
            statsValue.generatedTokens += outputs.count
            for s in finished {
                running.removeAll { $0 === s }
                statsValue.requestsFinished += 1
                statsValue.promptTokens += s.request.prompt.count
                statsValue.promptTokensReused += s.cachedTokens
                if s.request.encoderInput == nil && !cancelled.contains(s.id) {
                    idle.append((s.cache, s.cacheTokens))
                    if idle.count > options.maxSequences { idle.removeFirst().cache.reset() }
                } else {
                    s.cache.reset()
                }
            }
            lock.unlock()
            for s in finished { s.finishStream() }
        }
    }

    /// Removes cancelled sequences (waiting or running); their blocks go back to the pool now.
    private func dropCancelled() {
        guard !cancelled.isEmpty else { return }
        for s in running where cancelled.contains(s.id) { s.cache.reset(); s.continuation.finish() }
        running.removeAll { cancelled.contains($0.id) }
        for s in waiting where cancelled.contains(s.id) { s.continuation.finish() }
        waiting.removeAll { cancelled.contains($0.id) }
        cancelled.removeAll()
    }

    /// Moves waiting requests into free slots: each gets the idle cache sharing its longest prefix, or a
    /// fresh one. Called with the lock held.
    private func admit() {
        while running.count < options.maxSequences, !waiting.isEmpty {
            let s = waiting[0]
            let prompt = s.request.prompt
            var best = -1, bestCommon = 0
            if s.request.encoderInput == nil {
                for (i, entry) in idle.enumerated() {
                    var c = 0
                    let limit = min(prompt.count - 1, entry.tokens.count)
                    while c < limit && entry.tokens[c] == prompt[c] { c += 1 }
                    if c > bestCommon { best = i; bestCommon = c }
                }
            }
            let cache: KVCache
            if best >= 0 {
                cache = idle.remove(at: best).cache
                cache.truncate(to: bestCommon)
            } else {
                let need = (prompt.count + options.blockSize - 1) / options.blockSize
                while pool.freeBlocks < need, !idle.isEmpty { idle.removeFirst().cache.reset() }
                guard pool.freeBlocks >= need, let fresh = try? KVCache(pool: pool, capacity: options.contextLength) else { return }
                cache = fresh
            }
            waiting.removeFirst()
            s.cache = cache
            s.fed = bestCommon
            s.cachedTokens = bestCommon
            s.admitted = Date()
            if let source = s.request.encoderInput {
                guard let seq2seq = model as? any Seq2SeqLanguageModel else {
                    s.continuation.finish(throwing: EngineError.invalidRequest("\(model.architecture) is not an encoder-decoder model"))
                    continue
                }
                do { try seq2seq.encode(source, into: cache) } catch {
                    s.continuation.finish(throwing: error)
                    continue
                }
            }
            running.append(s)
        }
    }

    /// Evicts idle prefix caches until the step's sequences can take the blocks they need.
    private func makeRoom(for batch: ForwardBatch) throws(ModelError) {
        var need = 0
        for s in batch.sequences {
            need += s.cache.blocksNeeded(toHold: batch.positions[s.rows.upperBound - 1] + 1)
        }
        guard need > pool.freeBlocks else { return }
        lock.lock()
        while need > pool.freeBlocks, !idle.isEmpty { idle.removeFirst().cache.reset() }
        lock.unlock()
        if need > pool.freeBlocks { throw .outOfKVBlocks(needed: need - pool.freeBlocks) }
    }
}

/// One request's state on the scheduler thread.
final class EngineSequence: @unchecked Sendable {
    let id: Int
    let request: GenerationRequest
    var sampler: SamplerChain
    var detokenizer: StreamingDetokenizer
    var stops: StopSequenceMatcher
    let continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
    let endOfGeneration: Set<Int>
    var cache: KVCache!
    /// Prompt tokens already in the cache.
    var fed = 0
    var cachedTokens = 0
    /// The sampled token not yet fed back.
    var pending = 0
    var generated: [Int] = []
    var history: [Int]
    var admitted = Date()
    var firstToken: Date?
    var finishReason: FinishReason?

    init(id: Int, request: GenerationRequest, sampler: SamplerChain, tokenizer: any Tokenizer,
         continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation, endOfGeneration: Set<Int>,
         contextLength: Int) {
        self.id = id
        self.request = request
        self.sampler = sampler
        self.detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecial: true)
        self.stops = StopSequenceMatcher(request.parameters.stop)
        self.continuation = continuation
        self.endOfGeneration = endOfGeneration
        self.history = request.prompt
        // The context ends a sequence before maxTokens can (which may be as large as Int.max: "no limit").
        history.reserveCapacity(request.prompt.count + min(request.parameters.maxTokens, contextLength))
    }

    var prefilled: Bool { fed == request.prompt.count && !generated.isEmpty }

    /// The tokens the cache holds (prompt, then every generated token but the last, which was never fed).
    var cacheTokens: [Int] { Array((request.prompt + generated).prefix(cache.count)) }

    /// Samples from this step's logits and reports the token; returns true when the sequence ends.
    func step(logits: UnsafeMutableBufferPointer<Float>, model: any CausalLanguageModel, contextLength: Int) -> Bool {
        if request.parameters.maxTokens == 0 { finishReason = .length; return true }
        let token: Int
        if generated.isEmpty, let forced = request.forcedFirst {
            token = forced
        } else if generated.count == request.parameters.maxTokens - 1, let forced = request.forcedLast {
            token = forced
        } else {
            token = sampler.sample(logits: UnsafeBufferPointer(logits), history: history)
        }
        if firstToken == nil { firstToken = Date() }
        var logprob: Float?
        var top: [TokenLogprob] = []
        if let n = request.topLogprobs {
            let lp = TokenLogprobs(logits: UnsafeBufferPointer(logits), chosen: token, top: n)
            logprob = lp.chosen.logprob
            top = lp.top
        }
        generated.append(token)
        history.append(token)
        pending = token
        if endOfGeneration.contains(token) {
            finishReason = .stop
            continuation.yield(.token(GeneratedToken(id: token, text: "", logprob: logprob, top: top)))
            return true
        }
        let (emit, stopped) = stops.append(detokenizer.append(token))
        continuation.yield(.token(GeneratedToken(id: token, text: emit, logprob: logprob, top: top)))
        if stopped { finishReason = .stop; return true }
        if generated.count >= request.parameters.maxTokens || cache.count >= contextLength {
            finishReason = .length
            return true
        }
        return false
    }

    func finishStream() {
        var tail = ""
        if !stops.isStopped {
            let (emit, stopped) = stops.append(detokenizer.flush())
            tail += emit
            if !stopped { tail += stops.finish() }
        }
        let end = Date()
        let first = firstToken ?? end
        continuation.yield(.finished(GenerationSummary(
            finishReason: finishReason ?? .length, promptTokens: request.prompt.count, completionTokens: generated.count,
            cachedTokens: cachedTokens, prefillSeconds: first.timeIntervalSince(admitted),
            decodeSeconds: end.timeIntervalSince(first), trailingText: tail)))
        continuation.finish()
    }
}
