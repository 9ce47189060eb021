import LanternModels
import LanternTokenizers

/// What a generation run is asked to do.
public struct GenerateParameters: Sendable {
    /// Most new tokens to produce (the run also ends when the context is full).
    public var maxTokens: Int
    public var sampling: SamplingParameters
    /// Strings that end the text; they are not part of the output.
    public var stop: [String]

    public init(maxTokens: Int = 256, sampling: SamplingParameters = SamplingParameters(), stop: [String] = []) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stop = stop
    }
}

/// Why generation ended, named as the OpenAI API names it.
public enum FinishReason: String, Sendable, Codable {
    /// An end-of-generation token or a stop string.
    case stop
    /// `maxTokens` reached or the context full.
    case length
}

/// One step of a run: the token sampled (nil for the final flush), the text that became safe to show,
/// and, on the last step, why it ended.
public struct GenerationStep: Sendable {
    public let token: Int?
    public let text: String
    public let finishReason: FinishReason?
    /// The sampled token's log-probability and the top alternatives, when `Generator.logprobs` is set.
    public var logprobs: TokenLogprobs? = nil
}

public enum GenerationError: Error, Equatable, CustomStringConvertible {
    case promptTooLong(tokens: Int, contextLength: Int)
    case emptyPrompt
    case invalidParameter(String)

    public var description: String {
        switch self {
        case let .promptTooLong(n, ctx):
            return "the prompt has \(n) tokens but the context holds \(ctx); shorten the prompt or raise the context length"
        case .emptyPrompt: return "the prompt is empty (no tokens); give some text or enable BOS"
        case let .invalidParameter(s): return "invalid generation parameter: \(s)"
        }
    }
}

/// The decoder-only generation loop: prefill, then sample -> detokenize -> check stops -> feed back.
///
/// Use it as a synchronous iterator (`next()`) or as an `AsyncSequence` of `GenerationStep`.
/// The loop names no concrete model: it sees only `CausalLanguageModel` through a `Session`.
public final class Generator: AsyncSequence, AsyncIteratorProtocol, @unchecked Sendable {
    public typealias Element = GenerationStep

    public let session: Session
    public let tokenizer: any Tokenizer
    public let promptTokens: [Int]
    public private(set) var generated: [Int] = []
    public private(set) var finishReason: FinishReason?
    /// When set, each step with a sampled token carries its log-probability and this many most likely
    /// alternatives (0: the chosen token only), computed from the raw logits before sampling.
    public var logprobs: Int?
    let parameters: GenerateParameters
    var sampler: SamplerChain
    var detokenizer: StreamingDetokenizer
    var stops: StopSequenceMatcher
    var prefilled = false
    var history: [Int]
    /// Encoder-decoder models: the source the encoder reads before the decoder starts from `prompt`.
    let encoderInput: [Int]?
    let endOfGeneration: Set<Int>
    let forcedFirst: Int?, forcedLast: Int?

    /// - Parameters:
    ///   - prompt: the tokens the (decoder's) cache must hold before the first sampled token.
    ///   - encoderInput: for encoder-decoder models, the source tokens; `prompt` is then the decoder's
    ///     start (usually `[decoderStartTokenID]`).
    ///   - endOfGeneration: ids that stop generation (default: the tokenizer's end-of-generation ids).
    ///   - forcedFirst, forcedLast: generation_config's forced_bos_token_id (the first new token) and
    ///     forced_eos_token_id (the token at `maxTokens`, as transformers forces it at max_length).
    public init(session: Session, tokenizer: any Tokenizer, prompt: [Int], parameters: GenerateParameters,
                encoderInput: [Int]? = nil, endOfGeneration: Set<Int>? = nil,
                forcedFirst: Int? = nil, forcedLast: Int? = nil) throws {
        guard !prompt.isEmpty else { throw GenerationError.emptyPrompt }
        guard prompt.count <= session.contextLength else {
            throw GenerationError.promptTooLong(tokens: prompt.count, contextLength: session.contextLength)
        }
        guard parameters.maxTokens >= 0 else { throw GenerationError.invalidParameter("maxTokens must be >= 0") }
        self.session = session
        self.tokenizer = tokenizer
        self.promptTokens = prompt
        self.parameters = parameters
        self.sampler = try SamplerChain(parameters.sampling)
        self.detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecial: true)
        self.stops = StopSequenceMatcher(parameters.stop)
        self.history = prompt
        self.encoderInput = encoderInput
        self.forcedFirst = forcedFirst
        self.forcedLast = forcedLast
        for id in [forcedFirst, forcedLast].compactMap({ $0 }) where id < 0 || id >= session.model.vocabularySize {
            throw GenerationError.invalidParameter("forced token \(id) is outside the vocabulary")
        }
        self.endOfGeneration = endOfGeneration ?? tokenizer.endOfGenerationIDs
        if let encoderInput, encoderInput.isEmpty { throw GenerationError.emptyPrompt }
    }

    /// The seed the sampler uses (reported so a run can be repeated).
    public var seed: UInt64? { sampler.seed }

    /// The next step, or nil after the step that carried the finish reason.
    public func next() throws -> GenerationStep? {
        if finishReason != nil { return nil }
        if generated.count >= parameters.maxTokens { return finish(.length, token: nil, text: "") }
        if !prefilled {
            if let encoderInput { try session.encode(encoderInput) }
            try session.prefill(promptTokens)
            prefilled = true
        }
        let token: Int
        if generated.isEmpty, let forcedFirst {
            token = forcedFirst
        } else if generated.count == parameters.maxTokens - 1, let forcedLast {
            token = forcedLast
        } else {
            token = sampler.sample(logits: session.logits, history: history)
        }
        let logprobs = self.logprobs.map { n in
            session.logits.withUnsafeBufferPointer { TokenLogprobs(logits: $0, chosen: token, top: n) }
        }
        generated.append(token)
        history.append(token)
        if endOfGeneration.contains(token) {
            return finish(.stop, token: token, text: "", logprobs: logprobs)
        }
        let (emit, stopped) = stops.append(detokenizer.append(token))
        if stopped { return finish(.stop, token: token, text: emit, logprobs: logprobs) }
        // The sampled token is emitted without being fed back; feeding it needs one free position.
        if generated.count >= parameters.maxTokens || session.tokens.count >= session.contextLength {
            return finish(.length, token: token, text: emit, logprobs: logprobs)
        }
        try session.append(token)
        return GenerationStep(token: token, text: emit, finishReason: nil, logprobs: logprobs)
    }

    private func finish(_ reason: FinishReason, token: Int?, text: String, logprobs: TokenLogprobs? = nil) -> GenerationStep {
        finishReason = reason
        var tail = text
        if !stops.isStopped {
            let (emit, stopped) = stops.append(detokenizer.flush())
            tail += emit
            if !stopped { tail += stops.finish() }
        }
        return GenerationStep(token: token, text: tail, finishReason: reason, logprobs: logprobs)
    }

    public func makeAsyncIterator() -> Generator { self }
}
