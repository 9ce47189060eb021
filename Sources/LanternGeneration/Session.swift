import LanternModels
import LanternTensor

/// A model plus one KV cache and the tokens it holds, so a conversation can reuse the cached prefix
/// of each new prompt instead of recomputing it.
///
/// Invariant: `tokens.count == cache.count` after every call. The cache is private so nothing can
/// truncate it behind the session's back (which would make `tokens` lie and the logits wrong).
public final class Session: @unchecked Sendable {
    public let model: any CausalLanguageModel
    private let cache: KVCache
    private let workspace: ForwardWorkspace
    private var batch: ForwardBatch
    public private(set) var tokens: [Int] = []
    /// Logits [vocabularySize] of the last position evaluated; rewritten in place by each call.
    public private(set) var logits: [Float]

    /// - Throws: `ModelError` when the context length is not positive or exceeds the model's.
    public init(model: any CausalLanguageModel, contextLength: Int, maxBatch: Int = 512,
                kvType: KVType? = nil) throws(ModelError) {
        self.model = model
        self.cache = try model.makeCache(capacity: contextLength, type: kvType)
        self.workspace = model.makeWorkspace(maxTokens: min(max(1, maxBatch), contextLength))
        self.batch = ForwardBatch(reservingRows: contextLength)
        self.logits = [Float](repeating: 0, count: model.vocabularySize)
        tokens.reserveCapacity(contextLength)   // never outgrows the cache, so appends never reallocate
    }

    public var contextLength: Int { cache.capacity }

    /// Bytes of K and V one cached position takes (every layer).
    public var cacheBytesPerPosition: Int { cache.pool.bytesPerPosition }
    /// How the cache stores keys and values.
    public var cacheType: KVType { cache.pool.type }

    /// Makes the cache hold exactly `prompt` and leaves the logits of its last position in `logits`.
    /// The longest common prefix with what is cached is kept; at least one token is always evaluated.
    public func prefill(_ prompt: [Int]) throws(ModelError) {
        guard !prompt.isEmpty else { throw .emptyInput }
        guard prompt.count <= cache.capacity else { throw .contextOverflow(needed: prompt.count, capacity: cache.capacity) }
        precondition(tokens.count == cache.count, "Session invariant broken")
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
        batch.removeAll()
        batch.add(ids, startingAt: tokens.count, cache: cache, output: .last)
        let model = self.model, batch = self.batch, ws = self.workspace
        do {
            try logits.withUnsafeMutableBufferPointer { (out) throws(ModelError) in
                try model.forward(batch, workspace: ws, output: .logits, into: out.baseAddress!)
            }
        } catch {
            cache.truncate(to: tokens.count)
            throw error
        }
        tokens.append(contentsOf: ids)
    }

    /// For an encoder-decoder model: runs the encoder over `source` and keeps its output for the
    /// decoder; the decoder's cache starts empty.
    public func encode(_ source: [Int]) throws(ModelError) {
        guard let seq2seq = model as? any Seq2SeqLanguageModel else {
            throw .invalidBatch("\(model.architecture) is not an encoder-decoder model")
        }
        tokens.removeAll(keepingCapacity: true)
        try seq2seq.encode(source, into: cache)
    }

    public func reset() {
        cache.reset()
        tokens.removeAll(keepingCapacity: true)
    }
}
