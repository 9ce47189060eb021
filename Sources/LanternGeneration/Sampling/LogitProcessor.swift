/// One link of a sampler chain: reshapes the working set (changes logits, removes tokens) without
/// drawing. Processors are small value types; any scratch buffers they keep are reused between steps.
///
/// Contract: a processor never empties a non-empty set (every truncation keeps at least one token),
/// so the draw at the end of a chain always has something to choose from.
public protocol LogitProcessor: Sendable {
    /// - Parameter history: the tokens seen so far (prompt and generated), oldest first.
    mutating func process(_ candidates: inout Candidates, history: ArraySlice<Int>)
}

/// The last `lastN` tokens of `history`: all of it for a negative `lastN`, none for zero
/// (llama.cpp's `repeat_last_n` convention: -1 = whole context, 0 = disabled).
@inline(__always)
func penaltyWindow(_ history: ArraySlice<Int>, lastN: Int) -> ArraySlice<Int> {
    lastN < 0 ? history : history.suffix(lastN)
}

/// Counts of each token id in a window, kept in a dictionary that is emptied but not freed between
/// steps. Token ids outside Int32 cannot name a candidate and are skipped.
struct TokenCounts: Sendable {
    private(set) var counts: [Int32: Int] = [:]

    mutating func recount(_ window: ArraySlice<Int>) {
        counts.removeAll(keepingCapacity: true)
        for t in window {
            guard let id = Int32(exactly: t) else { continue }
            counts[id, default: 0] += 1
        }
    }
}
