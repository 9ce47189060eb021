/// CTRL-style repetition penalty as in llama.cpp (`penalty_repeat`): every distinct token among the
/// last `lastN` history tokens has its logit divided by `penalty` when positive and multiplied by it
/// otherwise, so that a penalty > 1 always makes the token less likely whatever the logit's sign.
/// A token is penalised once however often it occurred (that is what the frequency penalty is for).
public struct RepetitionPenalty: LogitProcessor {
    public let penalty: Float
    /// Window size; negative = whole history, 0 = disabled. llama.cpp's default is 64.
    public let lastN: Int
    private var counts = TokenCounts()

    public init(penalty: Float, lastN: Int = 64) {
        self.penalty = penalty
        self.lastN = lastN
    }

    public mutating func process(_ candidates: inout Candidates, history: ArraySlice<Int>) {
        guard penalty != 1, lastN != 0 else { return }
        counts.recount(penaltyWindow(history, lastN: lastN))
        let penalty = self.penalty
        for id in counts.counts.keys {
            candidates.updateLogit(id: id) { $0 > 0 ? $0 / penalty : $0 * penalty }
        }
    }
}

/// OpenAI-style presence penalty: subtracts `penalty` once from every token that occurs among the last
/// `lastN` history tokens (llama.cpp's `penalty_present`).
public struct PresencePenalty: LogitProcessor {
    public let penalty: Float
    /// Window size; negative = whole history, 0 = disabled.
    public let lastN: Int
    private var counts = TokenCounts()

    public init(penalty: Float, lastN: Int = 64) {
        self.penalty = penalty
        self.lastN = lastN
    }

    public mutating func process(_ candidates: inout Candidates, history: ArraySlice<Int>) {
        guard penalty != 0, lastN != 0 else { return }
        counts.recount(penaltyWindow(history, lastN: lastN))
        let penalty = self.penalty
        for id in counts.counts.keys {
            candidates.updateLogit(id: id) { $0 - penalty }
        }
    }
}

/// OpenAI-style frequency penalty: subtracts `penalty * count` from every token, where `count` is how
/// often it occurs among the last `lastN` history tokens (llama.cpp's `penalty_freq`).
public struct FrequencyPenalty: LogitProcessor {
    public let penalty: Float
    /// Window size; negative = whole history, 0 = disabled.
    public let lastN: Int
    private var counts = TokenCounts()

    public init(penalty: Float, lastN: Int = 64) {
        self.penalty = penalty
        self.lastN = lastN
    }

    public mutating func process(_ candidates: inout Candidates, history: ArraySlice<Int>) {
        guard penalty != 0, lastN != 0 else { return }
        counts.recount(penaltyWindow(history, lastN: lastN))
        let penalty = self.penalty
        for (id, count) in counts.counts {
            candidates.updateLogit(id: id) { $0 - penalty * Float(count) }
        }
    }
}
