/// Top-k: keeps the `k` most likely tokens, plus any tied with the k-th logit (transformers'
/// rule "remove tokens whose logit < the k-th largest logit"; llama.cpp would cut ties arbitrarily).
/// `k <= 0` disables it, as in llama.cpp. Leaves the set sorted.
public struct TopK: LogitProcessor {
    public let k: Int
    /// Never keep fewer than this many tokens (transformers' `min_tokens_to_keep`).
    public let minKeep: Int

    public init(_ k: Int, minKeep: Int = 1) {
        self.k = k
        self.minKeep = minKeep
    }

    public mutating func process(_ candidates: inout Candidates, history: ArraySlice<Int>) {
        guard k > 0 else { return }
        candidates.keepTop(max(k, minKeep, 1))
    }
}

/// Top-p (nucleus): keeps the smallest set of most likely tokens whose probability mass reaches `p`.
/// Same rule as transformers ("sort ascending, remove tokens whose cumulative probability <= 1 - p")
/// written from the top: a token is kept when the mass of the tokens strictly more likely than it is
/// still below `p`. The top token is always kept. `p >= 1` disables it. Leaves the set sorted.
public struct TopP: LogitProcessor {
    public let p: Float
    public let minKeep: Int

    public init(_ p: Float, minKeep: Int = 1) {
        self.p = p
        self.minKeep = minKeep
    }

    public mutating func process(_ candidates: inout Candidates, history: ArraySlice<Int>) {
        guard p < 1, candidates.count > 1 else { return }
        candidates.sort()
        candidates.softmax()
        let target = Double(p)
        let minKeep = max(self.minKeep, 1)
        var mass = 0.0  // mass of the tokens before index n
        var n = 0
        for t in candidates.tokens {
            if n >= minKeep && mass >= target { break }
            mass += Double(t.prob)
            n += 1
        }
        candidates.truncate(to: n)
    }
}

/// Min-p: removes tokens whose probability is below `p` times the top token's probability, so the
/// cut adapts to how confident the model is. The top token always survives. `p <= 0` disables it.
/// Keeps the order of the set.
public struct MinP: LogitProcessor {
    public let p: Float
    public let minKeep: Int

    public init(_ p: Float, minKeep: Int = 1) {
        self.p = p
        self.minKeep = minKeep
    }

    public mutating func process(_ candidates: inout Candidates, history: ArraySlice<Int>) {
        guard p > 0, candidates.count > 1 else { return }
        candidates.softmax()
        var maxProb: Float = 0
        for t in candidates.tokens where t.prob > maxProb { maxProb = t.prob }
        let threshold = p * maxProb
        if minKeep <= 1 {
            // p <= 1 is validated upstream, but guard the "always keep the top token" promise anyway.
            guard threshold <= maxProb else {
                candidates.keepTop(1)
                return
            }
            candidates.removeAll { $0.prob < threshold }
        } else {
            candidates.sort()  // by logit, hence by probability; keeps `prob` valid
            var n = 0
            for t in candidates.tokens where t.prob >= threshold { n += 1 }
            candidates.truncate(to: max(n, minKeep))
        }
    }
}
