import Foundation

/// Rotary position embedding (RoPE, Su et al. 2021): rotates pairs of query/key features by
/// position * theta_i, theta_i = base^(-2i/d).
public struct RotaryEmbedding: Sendable, Equatable {
    /// Which features form a rotated pair.
    public enum Pairing: Sendable {
        /// (2i, 2i+1): the layout llama.cpp's GGUF files store attn_q/attn_k in (LLaMA's original code).
        case adjacent
        /// (i, i + d/2): Hugging Face's rotate_half layout (GPT-NeoX).
        case halves
    }

    public let pairing: Pairing
    /// Number of leading features of each head that are rotated (the rest pass through).
    public let dimensions: Int
    let inverseFrequencies: [Float]   // [dimensions / 2]

    /// - Parameter frequencyFactors: optional divisors of each frequency ([dimensions / 2]), as llama3-style
    ///   long-context checkpoints store them (`rope_freqs.weight`): theta_i = base^(-2i/d) / factor_i.
    public init(dimensions: Int, base: Double, pairing: Pairing, frequencyFactors: [Float]? = nil) {
        self.pairing = pairing
        self.dimensions = dimensions
        // float32 like the reference implementations: inv_freq = 1 / base^(2i/d)
        inverseFrequencies = (0..<(dimensions / 2)).map { i in
            Float(1.0 / pow(base, Double(2 * i) / Double(dimensions))) / (frequencyFactors?[i] ?? 1)
        }
    }

    /// Fills cos/sin tables [count, dimensions/2] for the absolute positions of `count` rows.
    func tables(positions: UnsafePointer<Int>, count: Int, cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
        let half = dimensions / 2
        for t in 0..<count {
            let p = Float(positions[t])
            for i in 0..<half {
                let angle = p * inverseFrequencies[i]
                cos[t * half + i] = Foundation.cos(angle)
                sin[t * half + i] = Foundation.sin(angle)
            }
        }
    }

    /// Rotates x [tokens, heads, headDim] in place; row t uses table row t.
    func apply(_ x: UnsafeMutablePointer<Float>, tokens: Int, heads: Int, headDim: Int,
               cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
        let half = dimensions / 2
        for t in 0..<tokens {
            let c = cos + t * half, s = sin + t * half
            for h in 0..<heads {
                let v = x + (t * heads + h) * headDim
                switch pairing {
                case .adjacent:
                    for i in 0..<half {
                        let a = v[2 * i], b = v[2 * i + 1]
                        v[2 * i] = a * c[i] - b * s[i]
                        v[2 * i + 1] = a * s[i] + b * c[i]
                    }
                case .halves:
                    for i in 0..<half {
                        let a = v[i], b = v[i + half]
                        v[i] = a * c[i] - b * s[i]
                        v[i + half] = a * s[i] + b * c[i]
                    }
                }
            }
        }
    }
}

/// How a checkpoint stretches RoPE past the context it was first trained on, as per-frequency
/// divisors of theta_i (`RotaryEmbedding.frequencyFactors`).
public enum RopeScaling: Sendable, Equatable {
    /// Every position divided by `factor` (transformers' and llama.cpp's "linear"): every frequency
    /// divided by it.
    case linear(factor: Double)
    /// Llama 3.1's rule (transformers' "llama3"): with wavelength 2π/theta_i, frequencies whose
    /// wavelength is below original/highFrequencyFactor stay, those above original/lowFrequencyFactor
    /// are divided by `factor`, and those between are interpolated with
    /// smooth = (original / wavelength - low) / (high - low):
    /// theta' = (1 - smooth) * theta / factor + smooth * theta.
    case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContextLength: Int)

    /// The divisor of each of the `dimensions / 2` frequencies theta_i = base^(-2i/d).
    public func frequencyFactors(dimensions: Int, base: Double) -> [Float] {
        (0..<(dimensions / 2)).map { i in
            switch self {
            case let .linear(factor): return Float(factor)
            case let .llama3(factor, low, high, original):
                let theta = 1 / pow(base, Double(2 * i) / Double(dimensions))
                let wavelength = 2 * Double.pi / theta
                let old = Double(original)
                if wavelength < old / high { return 1 }
                if wavelength > old / low { return Float(factor) }
                let smooth = (old / wavelength - low) / (high - low)
                return Float(1 / ((1 - smooth) / factor + smooth))
            }
        }
    }

    func validate() throws(ModelError) {
        switch self {
        case let .linear(factor):
            guard factor > 0, factor.isFinite else { throw .invalidConfiguration("RoPE linear scaling factor must be positive, found \(factor)") }
        case let .llama3(factor, low, high, original):
            guard factor > 0, factor.isFinite, low > 0, high > low, original > 0 else {
                throw .invalidConfiguration("llama3 RoPE scaling needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0 (found \(factor), \(low), \(high), \(original))")
            }
        }
    }
}
