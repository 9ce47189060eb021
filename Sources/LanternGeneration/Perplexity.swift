import Foundation
import LanternModels

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
}

public enum Perplexity {
    /// - Parameters:
    ///   - tokens: the whole text's ids (with BOS first when the model adds one, as llama.cpp tokenizes).
    ///   - bos: the id that replaces each window's first token, or nil for models without BOS.
    ///   - logitRows: rows of logits per forward call while scoring (bounds memory: rows x vocabulary floats).
    public static func evaluate(_ model: any CausalLanguageModel, tokens: [Int], context: Int = 512, bos: Int?,
                                logitRows: Int = 32) throws(ModelError) -> PerplexityResult {
        guard context >= 4, tokens.count >= context else {
            throw .invalidConfiguration("perplexity needs at least one window of \(context) tokens (have \(tokens.count))")
        }
        let windows = tokens.count / context, first = context / 2, vocab = model.vocabularySize
        let cache = try model.makeCache(capacity: context)
        var nll: [Double] = []
        nll.reserveCapacity(windows * (context - 1 - first))
        for w in 0..<windows {
            var window = Array(tokens[(w * context)..<((w + 1) * context)])
            if let bos { window[0] = bos }
            cache.reset()
            _ = try model.forward(Array(window[..<first]), cache: cache, rows: .none)
            var start = first
            while start < context - 1 {
                let end = min(start + logitRows, context - 1)
                // Rows start..<end predict tokens start+1...end.
                let logits = try model.forward(Array(window[start..<end]), cache: cache, rows: .all)
                for r in 0..<(end - start) {
                    let row = logits[(r * vocab)..<((r + 1) * vocab)]
                    let m = Double(row.max() ?? 0)
                    var sum = 0.0
                    for v in row { sum += exp(Double(v) - m) }
                    nll.append(m + log(sum) - Double(row[row.startIndex + window[start + r + 1]]))
                }
                start = end
            }
        }
        let n = Double(nll.count), mean = nll.reduce(0, +) / n
        let variance = nll.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / max(n - 1, 1)
        return PerplexityResult(perplexity: exp(mean), meanNLL: mean, standardError: (variance / n).squareRoot(),
                                windows: windows, scored: nll.count)
    }
}
