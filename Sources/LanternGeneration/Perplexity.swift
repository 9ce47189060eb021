import Foundation
import LanternModels
import LanternTensor

/// Perplexity of a token stream the way llama.cpp's perplexity tool computes it: non-overlapping windows
/// of `context` tokens (a partial last window is dropped), each run from an empty cache with its first
/// token replaced by BOS when the model adds one, and only the second half of each window scored (the
/// logits at position j predict token j + 1 for j from context/2 to context - 2), so every scored token
/// has at least context/2 tokens before it. perplexity = exp(mean negative log-likelihood).
public struct PerplexityResult: Sendable, Equatable {
    public var perplexity: Double
    /// Mean negative log-likelihood (nats) and its standard error, as llama.cpp reports them.
    public var meanNLL: Double, standardError: Double
    public var windows: Int, scored: Int

    /// The "+/-" of llama.cpp's "Final estimate: PPL = x +/- y": the NLL's standard error carried to the
    /// perplexity by first-order error propagation (d exp(m) = exp(m) dm).
    public var perplexityStandardError: Double { perplexity * standardError }
}

public enum Perplexity {
    /// - Parameters:
    ///   - tokens: the whole text's ids (with BOS first when the model adds one, as llama.cpp tokenizes).
    ///   - bos: the id that replaces each window's first token, or nil for models without BOS.
    ///   - logitRows: rows of logits per forward call while scoring (bounds memory: rows x vocabulary
    ///     floats; nothing of a window's logits outlives its scoring).
    ///   - progress: called after each window with (windows done, windows in all, perplexity so far).
    public static func evaluate(_ model: any CausalLanguageModel, tokens: [Int], context: Int = 512, bos: Int?,
                                logitRows: Int = 32, kvType: KVType? = nil,
                                progress: ((_ done: Int, _ total: Int, _ perplexity: Double) -> Void)? = nil)
        throws(ModelError) -> PerplexityResult {
        guard context >= 4, tokens.count >= context else {
            throw .invalidConfiguration("perplexity needs at least one window of \(context) tokens (have \(tokens.count))")
        }
        guard logitRows >= 1 else { throw .invalidConfiguration("logitRows must be at least 1") }
        let windows = tokens.count / context, first = context / 2, vocab = model.vocabularySize
        let cache = try model.makeCache(capacity: context, type: kvType)
        // Running sums of NLL and NLL^2, as llama.cpp keeps them (memory independent of the text's length).
        var nll = 0.0, nll2 = 0.0, count = 0
        for w in 0..<windows {
            var window = Array(tokens[(w * context)..<((w + 1) * context)])
            if let bos { window[0] = bos }
            cache.reset()
            _ = try model.forward(Array(window[..<first]), cache: cache, rows: .none)
            var start = first
            while start < context - 1 {
                let end = min(start + logitRows, context - 1)
                // Rows start..<end predict tokens start+1...end.
                let logits = try model.forward(Array(window[start..<end]), cache: cache, rows: .all)  // [end-start, vocab]
                for r in 0..<(end - start) {
                    let row = logits[(r * vocab)..<((r + 1) * vocab)]
                    let m = Double(row.max() ?? 0)
                    var sum = 0.0
                    for v in row { sum += exp(Double(v) - m) }
                    let x = m + log(sum) - Double(row[row.startIndex + window[start + r + 1]])
                    nll += x
                    nll2 += x * x
                    count += 1
                }
                start = end
            }
            progress?(w + 1, windows, exp(nll / Double(count)))
        }
        // llama.cpp: mean m = nll/N, variance (nll2/N - m^2), standard error sqrt(variance / (N - 1)).
        let n = Double(count), mean = nll / n
        let variance = max(nll2 / n - mean * mean, 0)
        return PerplexityResult(perplexity: exp(mean), meanNLL: mean, standardError: (variance / max(n - 1, 1)).squareRoot(),
                                windows: windows, scored: count)
    }
}
