#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One token's natural-log probability under the model's distribution.
public struct TokenLogprob: Sendable, Equatable {
    public var id: Int
    public var logprob: Float

    public init(id: Int, logprob: Float) {
        self.id = id
        self.logprob = logprob
    }
}

/// The log-probability of a sampled token and of the most likely alternatives at its position
/// (OpenAI's `logprobs` / `top_logprobs`).
public struct TokenLogprobs: Sendable, Equatable {
    public var chosen: TokenLogprob
    /// The `count` most likely tokens, most likely first (ties: lower id first).
    public var top: [TokenLogprob]

    public init(chosen: TokenLogprob, top: [TokenLogprob]) {
        self.chosen = chosen
        self.top = top
    }

    /// Log-softmax of the raw `logits` (before penalties, bias or truncation: the model's own
    /// distribution, as the OpenAI API reports it) at `chosen`, plus the `top` best tokens.
    /// NaN logits count as -infinity, as in `Candidates`.
    public init(logits: UnsafeBufferPointer<Float>, chosen: Int, top count: Int) {
        var maximum = -Float.infinity
        for l in logits where l > maximum { maximum = l }
        var sum: Double = 0
        if maximum.isFinite {
            for l in logits where !l.isNaN { sum += Double(expf(l - maximum)) }
        }
        let logZ = maximum.isFinite ? maximum + Float(log(sum)) : 0
        func logprob(_ id: Int) -> Float {
            let l = logits[id]
            return l.isNaN ? -.infinity : l - logZ
        }
        self.chosen = TokenLogprob(id: chosen, logprob: chosen >= 0 && chosen < logits.count ? logprob(chosen) : -.infinity)
        // A small insertion-sorted list of the best `count`: one pass over the vocabulary.
        var best: [TokenLogprob] = []
        let k = min(max(0, count), logits.count)
        if k > 0 {
            best.reserveCapacity(k + 1)
            for id in 0..<logits.count {
                let lp = logprob(id)
                if best.count == k, let last = best.last, !(lp > last.logprob) { continue }
                var i = best.count
                while i > 0 && best[i - 1].logprob < lp { i -= 1 }
                best.insert(TokenLogprob(id: id, logprob: lp), at: i)
                if best.count > k { best.removeLast() }
            }
        }
        self.top = best
    }
}
