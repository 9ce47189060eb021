import Foundation

/// How attention scores learn where tokens are (absolute position embeddings live in `Embeddings`).
public enum PositionScheme: Sendable {
    case none
    /// Rotary embedding number `table` of the stack (tables are computed once per forward chunk).
    case rope(table: Int)
    /// ALiBi (Press et al. 2022): score += slope[head] * key position.
    case alibi(slopes: [Float])
    /// T5's learned bias per relative-distance bucket and head, shared by the layers of one stack.
    case relative(RelativePositionBias)
}

/// ALiBi slopes as BLOOM computes them: a geometric sequence for the largest power of two <= heads,
/// interleaved extra slopes for the rest.
public func alibiSlopes(heads: Int) -> [Float] {
    let closest = 1 << Int(floor(log2(Double(heads))))
    let base = pow(2.0, -pow(2.0, -(log2(Double(closest)) - 3)))
    var slopes = (1...closest).map { Float(pow(base, Double($0))) }
    if closest != heads {
        let extraBase = pow(2.0, -pow(2.0, -(log2(Double(2 * closest)) - 3)))
        let remaining = min(closest, heads - closest)
        slopes += stride(from: 1, to: 1 + 2 * remaining, by: 2).map { Float(pow(extraBase, Double($0))) }
    }
    return slopes
}

/// T5's relative position bias: a [buckets, heads] table, looked up by the bucket of (key - query).
///
/// Precomputed per head over every distance a context of `maxDistance` positions can see, so the
/// attention kernel takes a row pointer (`row(head:query:)`) instead of a score matrix.
public final class RelativePositionBias: @unchecked Sendable {
    public let heads: Int
    public let buckets: Int
    public let maxDistance: Int
    public let bidirectional: Bool
    /// Longest sequence the table covers.
    public let span: Int
    /// [heads][2 * span - 1]: entry (span - 1) + (key - query)
    private let table: UnsafeMutablePointer<Float>

    /// - Parameter weight: [buckets, heads] row-major, as `relative_attention_bias.weight` is stored.
    public init(weight: [Float], heads: Int, buckets: Int, maxDistance: Int, bidirectional: Bool, span: Int) {
        self.heads = heads
        self.buckets = buckets
        self.maxDistance = maxDistance
        self.bidirectional = bidirectional
        self.span = max(1, span)
        let width = 2 * self.span - 1
        table = .allocate(capacity: heads * width)
        for r in -(self.span - 1)...(self.span - 1) {
            let b = Self.bucket(relative: r, bidirectional: bidirectional, buckets: buckets, maxDistance: maxDistance)
            for h in 0..<heads { table[h * width + r + self.span - 1] = weight[b * heads + h] }
        }
    }

    deinit { table.deallocate() }

    /// Bias of key j for a query at position `query` is `row(...)[j]`, for 0 <= j < span.
    @inline(__always)
    func row(head: Int, query: Int) -> UnsafePointer<Float> {
        UnsafePointer(table + head * (2 * span - 1) + (span - 1) - query)
    }

    /// The bucket of `relative` = key position - query position, as transformers' T5 computes it
    /// (float32 logarithm, truncated).
    public static func bucket(relative: Int, bidirectional: Bool, buckets: Int, maxDistance: Int) -> Int {
        var n = buckets, result = 0, rp = relative
        if bidirectional {
            n /= 2
            if rp > 0 { result += n }
            rp = abs(rp)
        } else {
            rp = -min(rp, 0)
        }
        let maxExact = n / 2
        if rp < maxExact { return result + rp }
        let scaled = Foundation.log(Float(rp) / Float(maxExact)) / Float(Foundation.log(Double(maxDistance) / Double(maxExact)))
            * Float(n - maxExact)
        return result + min(maxExact + Int(scaled), n - 1)
    }
}

/// Fixed sinusoidal position embeddings (Vaswani et al. 2017), computed in double, stored as float32.
/// Feature pair i has frequency 1 / 10000^(2i/d).
public enum SinusoidalLayout: Sendable {
    /// The original Transformer's: feature 2i = sin, 2i + 1 = cos.
    case interleaved
    /// Marian's (and XLM's): features 0..<d/2 sin, d/2..<d the matching cos.
    case split
}

public func sinusoidalTable(positions: Int, dimension d: Int, layout: SinusoidalLayout = .split) -> [Float] {
    var out = [Float](repeating: 0, count: positions * d)
    let half = d / 2
    for p in 0..<positions {
        for i in 0..<half {
            let angle = Double(p) / pow(10000.0, Double(2 * i) / Double(d))
            switch layout {
            case .split:
                out[p * d + i] = Float(sin(angle))
                out[p * d + half + i] = Float(cos(angle))
            case .interleaved:
                out[p * d + 2 * i] = Float(sin(angle))
                out[p * d + 2 * i + 1] = Float(cos(angle))
            }
        }
    }
    return out
}
