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
