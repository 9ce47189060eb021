/// Divides every logit by `temperature` (> 0): below 1 sharpens the distribution, above 1 flattens it.
/// Division by a positive number keeps the order, so a sorted set stays sorted.
///
/// `temperature == 0` (or any value that is not > 0) is the limit: only the most likely token
/// survives (ties: lowest id), which makes any draw after it greedy, as llama.cpp's temperature
/// sampler does. (`SamplerChain` never builds a chain with such a value: it validates first.)
public struct Temperature: LogitProcessor {
    public let temperature: Float

    public init(_ temperature: Float) {
        self.temperature = temperature
    }

    public mutating func process(_ candidates: inout Candidates, history: ArraySlice<Int>) {
        guard temperature > 0 else {
            guard let best = candidates.argmaxIndex() else { return }
            let bestID = candidates.tokens[best].id
            candidates.removeAll { $0.id != bestID }
            return
        }
        guard temperature != 1 else { return }
        // Divide rather than multiply by the reciprocal: it is what transformers and llama.cpp do,
        // and the fixtures are compared at 1e-6.
        let t = temperature
        candidates.transformLogits(preservesOrder: true) { $0 / t }
    }
}
