import LanternModels

/// A model plus one KV cache and the tokens it holds, so a conversation can reuse the cached prefix
/// of each new prompt instead of recomputing it.
///
/// Invariant: `tokens.count == cache.count` after every call.
public final class Session: @unchecked Sendable {
    public let model: any CausalLanguageModel
    public let cache: KVCache
    public private(set) var tokens: [Int] = []
    /// Logits [vocabularySize] of the last position evaluated; rewritten in place by each call.
    public private(set) var logits: [Float]

    public init(model: any CausalLanguageModel, contextLength: Int) {
        self.model = model
        self.cache = model.makeCache(capacity: contextLength)
        self.logits = [Float](repeating: 0, count: model.vocabularySize)
        tokens.reserveCapacity(cache.capacity)   // never outgrows the cache, so appends never reallocate
    }

    public var contextLength: Int { cache.capacity }

    /// Makes the cache hold exactly `prompt` and leaves the logits of its last position in `logits`.
    /// The longest common prefix with what is cached is kept; at least one token is always evaluated.
    public func prefill(_ prompt: [Int]) throws(ModelError) {
        guard !prompt.isEmpty else { throw .emptyInput }
        guard prompt.count <= cache.capacity else { throw .contextOverflow(needed: prompt.count, capacity: cache.capacity) }
        var common = 0
        while common < min(prompt.count - 1, tokens.count) && prompt[common] == tokens[common] { common += 1 }
        cache.truncate(to: common)
        tokens.removeSubrange(common...)
        do {
            let rest = Array(prompt[common...])
            try rest.withUnsafeBufferPointer { (ids) throws(ModelError) in try evaluate(ids) }
        } catch {
            cache.truncate(to: tokens.count)
            throw error
        }
    }

    /// Appends one token and leaves the next logits in `logits`. Allocation-free in steady state.
    public func append(_ token: Int) throws(ModelError) {
        var id = token
        try withUnsafePointer(to: &id) { (p) throws(ModelError) in try evaluate(UnsafeBufferPointer(start: p, count: 1)) }
    }

    private func evaluate(_ ids: UnsafeBufferPointer<Int>) throws(ModelError) {
        let model = self.model, cache = self.cache
        try logits.withUnsafeMutableBufferPointer { (out) throws(ModelError) in
            try model.forward(ids, cache: cache, output: .last, into: out.baseAddress!)
        }
        tokens.append(contentsOf: ids)
    }

    public func reset() {
        cache.reset()
        tokens.removeAll(keepingCapacity: true)
    }
}
