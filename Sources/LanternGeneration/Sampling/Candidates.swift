#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One token still in the running: its id, its (possibly processed) logit, and its probability.
/// Mirrors llama.cpp's `llama_token_data`.
public struct TokenData: Sendable, Equatable {
    public var id: Int32
    public var logit: Float
    /// Meaningful only while the owning `Candidates.hasProbabilities` is true.
    public var prob: Float

    public init(id: Int32, logit: Float, prob: Float = 0) {
        self.id = id
        self.logit = logit
        self.prob = prob
    }
}

/// The working set of a sampling step (llama.cpp's `llama_token_data_array`): the tokens that survive
/// so far, in an order that processors may change.
///
/// Invariants, kept by every method here:
/// - `isSorted` implies `tokens` is ordered by logit descending, ties by id ascending (a strict total
///   order, so sorting is deterministic whatever the sort algorithm).
/// - `hasProbabilities` implies each `prob` is the softmax of the current logits over the current set.
/// - `isIndexedByID` implies `tokens[i].id == i` for every i (the untouched state after `reset`), which
///   lets penalties find a token in O(1).
///
/// The token buffer is kept between steps (`reset` keeps its capacity), so after the first step a
/// chain does not allocate for it again.
public struct Candidates: Sendable {
    public private(set) var tokens: [TokenData] = []
    public private(set) var isSorted = false
    public private(set) var hasProbabilities = false
    public private(set) var isIndexedByID = false

    public init() {}

    /// A working set over `logits` (token id = index).
    public init(logits: some Collection<Float>) {
        reset(logits: logits)
    }

    public var count: Int { tokens.count }
    public var isEmpty: Bool { tokens.isEmpty }

    /// The ids still in the set, in the current order (allocates; meant for inspection and tests).
    public var ids: [Int32] { tokens.map(\.id) }
    /// The current logits, in the current order (allocates; meant for inspection and tests).
    public var logits: [Float] { tokens.map(\.logit) }

    /// Refills the set with every token of `logits`, reusing the buffer.
    /// A NaN logit (a numerical failure upstream) is treated as `-infinity`: never chosen unless every
    /// logit is unusable, and never poisoning a softmax.
    public mutating func reset(logits: some Collection<Float>) {
        tokens.removeAll(keepingCapacity: true)
        tokens.reserveCapacity(logits.count)
        var id: Int32 = 0
        for l in logits {
            tokens.append(TokenData(id: id, logit: l.isNaN ? -.infinity : l))
            id &+= 1
        }
        isSorted = false
        hasProbabilities = false
        isIndexedByID = true
    }

    /// Lets a processor change logits, ids or membership directly. Afterwards nothing is assumed:
    /// the set counts as unsorted, without probabilities and not indexed by id.
    public mutating func modifyTokens<R>(_ body: (inout [TokenData]) throws -> R) rethrows -> R {
        defer {
            isSorted = false
            hasProbabilities = false
            isIndexedByID = false
        }
        return try body(&tokens)
    }

    /// Changes logits in place without changing membership or order. `preservesOrder` is the caller's
    /// promise that the map is strictly increasing (e.g. division by a positive temperature), which
    /// keeps `isSorted`; probabilities are always invalidated.
    public mutating func transformLogits(preservesOrder: Bool = false, _ f: (Float) -> Float) {
        tokens.withUnsafeMutableBufferPointer { buf in
            for i in buf.indices { buf[i].logit = f(buf[i].logit) }
        }
        if !preservesOrder { isSorted = false }
        hasProbabilities = false
    }

    /// Adjusts the logit of one token by id; returns false when the token is no longer in the set.
    /// O(1) while `isIndexedByID`, otherwise a linear search.
    @discardableResult
    public mutating func updateLogit(id: Int32, _ f: (Float) -> Float) -> Bool {
        let index: Int
        if isIndexedByID {
            guard id >= 0, Int(id) < tokens.count else { return false }
            index = Int(id)
        } else {
            guard let i = tokens.firstIndex(where: { $0.id == id }) else { return false }
            index = i
        }
        tokens[index].logit = f(tokens[index].logit)
        isSorted = false
        hasProbabilities = false
        return true
    }

    /// `a` comes before `b`: higher logit first, then lower id. A strict total order because ids are unique.
    @inline(__always)
    static func precedes(_ a: TokenData, _ b: TokenData) -> Bool {
        a.logit > b.logit || (a.logit == b.logit && a.id < b.id)
    }

    /// Orders the set by logit descending (ties: lower id first).
    public mutating func sort() {
        guard !isSorted else { return }
        tokens.sort(by: Candidates.precedes)
        isSorted = true
        isIndexedByID = tokens.indices.allSatisfy { tokens[$0].id == Int32(truncatingIfNeeded: $0) }
    }

    /// Sets `prob` to the softmax of the current logits over the current set; order is unchanged.
    /// If every logit is `-infinity` the distribution is uniform (there is no better information).
    public mutating func softmax() {
        guard !hasProbabilities, !tokens.isEmpty else { return }
        tokens.withUnsafeMutableBufferPointer { buf in
            var maxLogit = -Float.infinity
            for t in buf where t.logit > maxLogit { maxLogit = t.logit }
            if maxLogit == -.infinity {
                let u = 1 / Float(buf.count)
                for i in buf.indices { buf[i].prob = u }
                return
            }
            var sum: Float = 0
            for i in buf.indices {
                let e = expf(buf[i].logit - maxLogit)
                buf[i].prob = e
                sum += e
            }
            let inv = 1 / sum
            for i in buf.indices { buf[i].prob *= inv }
        }
        hasProbabilities = true
    }

    /// Keeps the first `n` tokens of a sorted set. Precondition (programmer error): the set is sorted.
    public mutating func truncate(to n: Int) {
        precondition(isSorted, "Candidates.truncate(to:) needs a sorted set")
        guard n < tokens.count else { return }
        tokens.removeSubrange(max(n, 0)...)
        hasProbabilities = false  // removing from the tail keeps `isIndexedByID` true if it was
    }

    /// Removes the tokens for which `shouldRemove` is true, keeping the relative order of the rest
    /// (so a sorted set stays sorted).
    public mutating func removeAll(where shouldRemove: (TokenData) -> Bool) {
        let before = tokens.count
        // Stable compaction; `Array.removeAll(where:)` does not promise to keep order.
        var write = 0
        tokens.withUnsafeMutableBufferPointer { buf in
            for read in buf.indices where !shouldRemove(buf[read]) {
                buf[write] = buf[read]
                write += 1
            }
        }
        tokens.removeSubrange(write...)
        if write != before {
            hasProbabilities = false
            isIndexedByID = false
        }
    }

    /// The index of the token with the highest logit (ties: lowest id). Nil for an empty set.
    public func argmaxIndex() -> Int? {
        guard !tokens.isEmpty else { return nil }
        if isSorted { return 0 }
        var best = 0
        for i in tokens.indices.dropFirst() where Candidates.precedes(tokens[i], tokens[best]) { best = i }
        return best
    }
}


extension Candidates {
    /// Keeps the `k` highest-logit tokens and every token tied with the k-th logit (transformers'
    /// `TopKLogitsWarper` rule: remove tokens whose logit < the k-th largest), leaving the set sorted.
    /// Costs O(n) selection plus a sort of the kept tokens, not a sort of the whole vocabulary.
    public mutating func keepTop(_ k: Int) {
        let k = max(k, 1)
        guard k < tokens.count else { return }
        if !isSorted {
            tokens.withUnsafeMutableBufferPointer { buf in
                Candidates.select(buf, nth: k - 1)
            }
        }
        // Now tokens[k-1] is the k-th in sorted order and tokens[..<k] are the top k (maybe unsorted).
        let kth = tokens[k - 1].logit
        var n = k
        tokens.withUnsafeMutableBufferPointer { buf in
            for i in k..<buf.count where buf[i].logit == kth {
                buf.swapAt(i, n)
                n += 1
            }
        }
        tokens.removeSubrange(n...)
        if !isSorted {
            tokens.sort(by: Candidates.precedes)
            isSorted = true
            isIndexedByID = tokens.indices.allSatisfy { tokens[$0].id == Int32(truncatingIfNeeded: $0) }
        }
        hasProbabilities = false
    }

    /// nth_element: afterwards `a[nth]` is the element a full sort by `precedes` would put there, every
    /// element before it precedes it and every element after it does not. Quickselect with a
    /// median-of-three pivot; falls back to a full sort of the remaining range if partitioning keeps
    /// going badly, which bounds the worst case at O(n log n).
    static func select(_ a: UnsafeMutableBufferPointer<TokenData>, nth: Int) {
        var lo = 0
        var hi = a.count - 1
        var budget = 2 * (Int.bitWidth - a.count.leadingZeroBitCount) + 8
        while lo < hi {
            if budget == 0 {
                var rest = UnsafeMutableBufferPointer(rebasing: a[lo...hi])
                rest.sort(by: precedes)
                return
            }
            budget -= 1
            let mid = lo + (hi - lo) / 2
            if precedes(a[mid], a[lo]) { a.swapAt(mid, lo) }
            if precedes(a[hi], a[lo]) { a.swapAt(hi, lo) }
            if precedes(a[hi], a[mid]) { a.swapAt(hi, mid) }
            let pivot = a[mid]
            a.swapAt(mid, hi)
            var store = lo
            for i in lo..<hi where precedes(a[i], pivot) {
                a.swapAt(i, store)
                store += 1
            }
            a.swapAt(store, hi)
            if store == nth { return }
            if nth < store { hi = store - 1 } else { lo = store + 1 }
        }
    }
}
