/// A sampling setting that cannot be used, named after the parameter with the accepted range.
public enum SamplingError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidParameter(name: String, value: String, expected: String)

    public var description: String {
        switch self {
        case let .invalidParameter(name, value, expected):
            return "invalid sampling parameter \(name) = \(value): expected \(expected)"
        }
    }
}

/// User-facing sampling settings. Defaults are llama.cpp's CLI defaults (`common_params_sampling`):
/// temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, repeat penalty 1.0 (off) over the last 64
/// tokens, presence and frequency penalties 0 (off), and a random seed.
///
/// Each knob also has an "off" value, so a chain only contains the processors that do something:
/// temperature 0 = greedy, topK 0, topP 1, minP 0, repeatPenalty 1, repeatLastN 0,
/// presence/frequency 0.
///
/// Coding keys are the llama.cpp server / OpenAI request names (`top_k`, `repeat_penalty`, ...);
/// missing keys take the defaults and decoding validates, throwing `SamplingError`.
public struct SamplingParameters: Sendable, Codable, Equatable {
    /// >= 0; 0 means greedy (argmax of the penalised logits).
    public var temperature: Float = 0.8
    /// >= 0; 0 disables top-k.
    public var topK: Int = 40
    /// In (0, 1]; 1 disables top-p.
    public var topP: Float = 0.95
    /// In [0, 1]; 0 disables min-p.
    public var minP: Float = 0.05
    /// > 0; 1 disables the repetition penalty, > 1 discourages repeats.
    public var repeatPenalty: Float = 1.0
    /// >= -1: how many recent tokens the penalties look at; -1 = the whole history, 0 = none.
    public var repeatLastN: Int = 64
    /// Finite; subtracted once from each token present in the window.
    public var presencePenalty: Float = 0
    /// Finite; subtracted per occurrence in the window.
    public var frequencyPenalty: Float = 0
    /// Nil: a fresh random seed per chain (readable afterwards as `SamplerChain.seed`).
    public var seed: UInt64? = nil
    /// Token id -> bias added to its logit before every other step (OpenAI's `logit_bias`);
    /// biases must not be NaN; -infinity bans a token.
    public var logitBias: [Int: Float] = [:]

    public init(
        temperature: Float = 0.8,
        topK: Int = 40,
        topP: Float = 0.95,
        minP: Float = 0.05,
        repeatPenalty: Float = 1.0,
        repeatLastN: Int = 64,
        presencePenalty: Float = 0,
        frequencyPenalty: Float = 0,
        seed: UInt64? = nil,
        logitBias: [Int: Float] = [:]
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repeatPenalty = repeatPenalty
        self.repeatLastN = repeatLastN
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.seed = seed
        self.logitBias = logitBias
    }

    /// Greedy decoding with no penalties.
    public static let greedy = SamplingParameters(temperature: 0)

    enum CodingKeys: String, CodingKey {
        case temperature
        case topK = "top_k"
        case topP = "top_p"
        case minP = "min_p"
        case repeatPenalty = "repeat_penalty"
        case repeatLastN = "repeat_last_n"
        case presencePenalty = "presence_penalty"
        case frequencyPenalty = "frequency_penalty"
        case seed
        case logitBias = "logit_bias"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SamplingParameters()
        self.init(
            temperature: try c.decodeIfPresent(Float.self, forKey: .temperature) ?? d.temperature,
            topK: try c.decodeIfPresent(Int.self, forKey: .topK) ?? d.topK,
            topP: try c.decodeIfPresent(Float.self, forKey: .topP) ?? d.topP,
            minP: try c.decodeIfPresent(Float.self, forKey: .minP) ?? d.minP,
            repeatPenalty: try c.decodeIfPresent(Float.self, forKey: .repeatPenalty) ?? d.repeatPenalty,
            repeatLastN: try c.decodeIfPresent(Int.self, forKey: .repeatLastN) ?? d.repeatLastN,
            presencePenalty: try c.decodeIfPresent(Float.self, forKey: .presencePenalty) ?? d.presencePenalty,
            frequencyPenalty: try c.decodeIfPresent(Float.self, forKey: .frequencyPenalty) ?? d.frequencyPenalty,
            seed: try c.decodeIfPresent(UInt64.self, forKey: .seed),
            logitBias: try c.decodeIfPresent([Int: Float].self, forKey: .logitBias) ?? [:]
        )
        try validate()
    }

    /// Throws the first out-of-range parameter. NaN fails every check (all are written as
    /// "value is in range", never "value is out of range").
    public func validate() throws(SamplingError) {
        func fail(_ name: String, _ value: some CustomStringConvertible, _ expected: String) -> SamplingError {
            .invalidParameter(name: name, value: value.description, expected: expected)
        }
        guard temperature.isFinite, temperature >= 0 else {
            throw fail("temperature", temperature, "a finite number >= 0 (0 = greedy)")
        }
        guard topK >= 0 else { throw fail("topK", topK, "an integer >= 0 (0 = disabled)") }
        guard topP > 0, topP <= 1 else { throw fail("topP", topP, "a number in (0, 1] (1 = disabled)") }
        guard minP >= 0, minP <= 1 else { throw fail("minP", minP, "a number in [0, 1] (0 = disabled)") }
        guard repeatPenalty.isFinite, repeatPenalty > 0 else {
            throw fail("repeatPenalty", repeatPenalty, "a finite number > 0 (1 = disabled)")
        }
        guard repeatLastN >= -1 else {
            throw fail("repeatLastN", repeatLastN, "an integer >= -1 (-1 = whole history, 0 = disabled)")
        }
        guard presencePenalty.isFinite else { throw fail("presencePenalty", presencePenalty, "a finite number") }
        guard frequencyPenalty.isFinite else { throw fail("frequencyPenalty", frequencyPenalty, "a finite number") }
        for (id, bias) in logitBias.sorted(by: { $0.key < $1.key }) where bias.isNaN || bias == .infinity {
            throw fail("logitBias[\(id)]", bias, "a number or -infinity (a ban)")
        }
    }
}
