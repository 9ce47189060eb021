import LanternTensor

/// A full sampling step: processors in order, then one selector, over a reused working set.
///
/// Built from `SamplingParameters` it follows llama.cpp's default order,
/// logit bias -> penalties -> top-k -> top-p -> min-p -> temperature -> draw, leaving out processors whose
/// parameter is at its "off" value. Temperature 0 means greedy: only the penalties run, then argmax,
/// as in llama.cpp. Any other order (e.g. transformers' temperature -> top-k -> top-p -> min-p) can be
/// built with `init(processors:selector:)`.
///
/// Deterministic: for a fixed seed, the same logits and history give the same token on every run and
/// platform (the RNG is `SeededGenerator`, and no step depends on hashing or address order).
public struct SamplerChain: Sendable {
    public private(set) var processors: [any LogitProcessor]
    public private(set) var selector: any TokenSelector
    /// The seed the draw uses (the one given, or the one picked when the parameters had none);
    /// nil for a chain built from explicit parts.
    public let seed: UInt64?
    /// The working set of the last step, kept so its buffer is reused (and so callers can inspect the
    /// final distribution, e.g. for log-probabilities). Plain greedy (no processor) never fills it.
    public private(set) var candidates = Candidates()
    /// No processor and a `Greedy` selector: `sample` takes the argmax of the logits directly, without
    /// copying the vocabulary into the working set (the same token: NaN never wins, ties go to the lowest id).
    private let plainGreedy: Bool

    public init(processors: [any LogitProcessor], selector: any TokenSelector) {
        self.processors = processors
        self.selector = selector
        self.seed = nil
        plainGreedy = processors.isEmpty && selector is Greedy
    }

    /// Validates `parameters` and builds llama.cpp's default chain from them.
    public init(_ parameters: SamplingParameters = SamplingParameters()) throws(SamplingError) {
        try parameters.validate()
        let p = parameters
        var chain: [any LogitProcessor] = []
        if !p.logitBias.isEmpty { chain.append(LogitBias(p.logitBias)) }
        if p.repeatLastN != 0 {
            let lastN = p.repeatLastN
            if p.repeatPenalty != 1 { chain.append(RepetitionPenalty(penalty: p.repeatPenalty, lastN: lastN)) }
            if p.frequencyPenalty != 0 { chain.append(FrequencyPenalty(penalty: p.frequencyPenalty, lastN: lastN)) }
            if p.presencePenalty != 0 { chain.append(PresencePenalty(penalty: p.presencePenalty, lastN: lastN)) }
        }
        let seed = p.seed ?? UInt64.random(in: .min ... .max)
        self.seed = seed
        if p.temperature == 0 {
            self.processors = chain
            self.selector = Greedy()
            plainGreedy = chain.isEmpty
            return
        }
        plainGreedy = false
        if p.topK > 0 { chain.append(TopK(p.topK)) }
        if p.topP < 1 { chain.append(TopP(p.topP)) }
        if p.minP > 0 { chain.append(MinP(p.minP)) }
        if p.temperature != 1 { chain.append(Temperature(p.temperature)) }
        self.processors = chain
        self.selector = Distribution(seed: seed)
    }

    /// Picks the next token id from one row of logits (index = token id).
    /// - Parameter history: prompt and generated tokens so far, oldest first (for the penalties).
    /// Precondition (programmer error): `logits` is not empty.
    public mutating func sample(logits: UnsafeBufferPointer<Float>, history: [Int]) -> Int {
        precondition(!logits.isEmpty, "SamplerChain.sample needs at least one logit")
        if plainGreedy { return Kernels.argmax(logits) }   // the first largest; NaN skipped
        candidates.reset(logits: logits)
        let window = history[...]
        for i in processors.indices {
            processors[i].process(&candidates, history: window)
        }
        return Int(selector.select(&candidates))
    }

    /// `sample(logits:history:)` for an array.
    public mutating func sample(logits: [Float], history: [Int]) -> Int {
        logits.withUnsafeBufferPointer { sample(logits: $0, history: history) }
    }
}
