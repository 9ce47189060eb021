import LanternModels

/// A model plus one KV cache and the tokens it holds, so a conversation can reuse the cached prefix
/// of each new prompt instead of recomputing it.
///
/// Invariant: `tokens.count == cache.count` after every call.
public final class Session: @unchecked Sendable {
    public let model: any CausalLanguageModel
    public let cache: KVCache
    public private(set) var tokens: [Int] = []

    public init(model: any CausalLanguageModel, contextLength: Int) {
        self.model = model
        self.cache = model.makeCache(capacity: contextLength)
    }

    public var contextLength: Int { cache.capacity }

    /// Makes the cache hold exactly `prompt` and returns the logits of its last position.
    /// The longest common prefix with what is cached is kept; at least one token is always evaluated.
    public func prefill(_ prompt: [Int]) throws(ModelError) -> [Float] {
        guard !prompt.isEmpty else { throw .emptyInput }
        guard prompt.count <= cache.capacity else { throw .contextOverflow(needed: prompt.count, capacity: cache.capacity) }
        var common = 0
        while common < min(prompt.count - 1, tokens.count) && prompt[common] == tokens[common] { common += 1 }
        cache.truncate(to: common)
        tokens.removeSubrange(common...)
        let rest = Array(prompt[common...])
        do {
            let logits = try model.forward(rest, cache: cache, output: .last)
            tokens += rest
            return logits
        } catch {
            cache.truncate(to: tokens.count)
            throw error
        }
    }

    /// Appends one token and returns the next logits.
    public func append(_ token: Int) throws(ModelError) -> [Float] {
        let logits = try model.forward([token], cache: cache, output: .last)
        tokens.append(token)
        return logits
    }

    public func reset() {
        cache.reset()
        tokens = []
    }
}
