import LanternTensor

/// Errors a model raises for inputs a user supplied.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    case contextOverflow(needed: Int, capacity: Int)
    case invalidToken(id: Int, vocabularySize: Int)
    case emptyInput
    case invalidConfiguration(String)
    case unsupportedArchitecture(String)
    case cacheMismatch
    case workspaceMismatch
    case invalidBatch(String)
    case outOfKVBlocks(needed: Int)
    /// A RoPE scaling type Lantern does not implement (yarn, dynamic, longrope, ...), by name.
    case unsupportedRoPEScaling(String)

    public var description: String {
        switch self {
        case let .contextOverflow(needed, capacity):
            return "the sequence needs \(needed) positions but the context holds \(capacity); use a shorter prompt or fewer new tokens"
        case let .invalidToken(id, vocab): return "token id \(id) is outside the vocabulary (0..<\(vocab))"
        case .emptyInput: return "no input tokens"
        case let .invalidConfiguration(s): return "invalid model configuration: \(s)"
        case let .unsupportedArchitecture(a): return "unsupported model architecture '\(a)'"
        case .cacheMismatch: return "the KV cache was made for a model of another shape; make it with this model's makeCache"
        case .workspaceMismatch: return "the workspace was made for a smaller model; make it with this model's makeWorkspace"
        case let .invalidBatch(s): return "invalid batch: \(s)"
        case let .outOfKVBlocks(n): return "the KV cache pool has no free blocks (\(n) more needed); finish or cancel a sequence first"
        case let .unsupportedRoPEScaling(t): return "RoPE scaling type '\(t)' is not supported (linear and llama3 are)"
        }
    }
}

/// What every model shares: sizes and the scratch it needs.
public protocol LanguageModel: AnyObject, Sendable {
    /// `model_type` / `general.architecture` it was loaded as.
    var architecture: String { get }
    var vocabularySize: Int { get }
    var hiddenSize: Int { get }
    /// The longest context the model was trained for (or can represent).
    var maxContextLength: Int { get }
    var workspaceShape: WorkspaceShape { get }
    var compute: ComputeOptions { get }
}

extension LanguageModel {
    /// Scratch for forward calls of up to `maxTokens` rows (owned by the caller, reused across calls).
    public func makeWorkspace(maxTokens: Int) -> ForwardWorkspace {
        ForwardWorkspace(shape: workspaceShape, maxTokens: maxTokens)
    }
}

/// A model that decodes with a KV cache: `(batch of tokens, positions, caches) -> logits`.
///
/// Generation and sampling live outside the model (DESIGN rule 4). Decoder-only models and the decoder
/// side of encoder-decoders conform.
public protocol CausalLanguageModel: LanguageModel {
    /// Layers, key/value heads and head dimension of the cache.
    var cacheLayout: (layers: Int, kvHeads: Int, headDim: Int) { get }
    /// The KV type a cache gets when none is asked for (`KVType.following`: f16 for quantized weights,
    /// as llama.cpp; f32 for float weights, so a float checkpoint matches its float reference).
    var defaultKVType: KVType { get }

    /// Runs every row of `batch`, writing its output rows ([batch.outputRowCount, vocabularySize] logits or
    /// [.., hiddenSize] hidden states) row-major into `out`. Each sequence's cache then holds its positions
    /// up to its last row. Allocates nothing once the workspace, the batch and the caches are made.
    func forward(_ batch: ForwardBatch, workspace: ForwardWorkspace, output: ForwardOutput,
                 into out: UnsafeMutablePointer<Float>) throws(ModelError)
}

extension CausalLanguageModel {
    /// A pool of `blocks` blocks of `blockSize` positions for many sequences, storing keys and values as
    /// `type` (nil: `defaultKVType`).
    public func makePool(blocks: Int, blockSize: Int = 16, type: KVType? = nil) throws(ModelError) -> KVPool {
        let l = cacheLayout
        return try KVPool(layers: l.layers, kvHeads: l.kvHeads, headDim: l.headDim, blockSize: blockSize, blocks: blocks,
                          type: type ?? defaultKVType)
    }

    /// A fresh, empty cache of `capacity` positions with a pool of its own (the single-sequence case).
    /// A capacity that is not positive or beyond the model's context is a typed error.
    public func makeCache(capacity: Int, type: KVType? = nil) throws(ModelError) -> KVCache {
        guard capacity > 0, capacity <= maxContextLength else {
            throw .invalidConfiguration("context length \(capacity) must be in 1...\(maxContextLength)")
        }
        let l = cacheLayout
        return try KVCache(layers: l.layers, kvHeads: l.kvHeads, headDim: l.headDim, capacity: capacity, type: type ?? defaultKVType)
    }

    /// One sequence continuing `cache`: returns [rows, width] (rows: 1 for `.last`, tokens.count for `.all`).
    /// Allocates a workspace per call: for tests and tools; loops use the batch form. An `observer`
    /// records one layer's attention (self or, for an encoder-decoder's decoder, cross).
    public func forward(_ tokens: [Int], cache: KVCache, rows: OutputRows = .all, output: ForwardOutput = .logits,
                        observer: AttentionObserver? = nil) throws(ModelError) -> [Float] {
        var batch = ForwardBatch()
        batch.append(tokens, to: cache, output: rows)
        let width = output == .logits ? vocabularySize : hiddenSize
        let ws = makeWorkspace(maxTokens: min(max(tokens.count, 1), 512))
        ws.attentionObserver = observer
        var result = [Float](repeating: 0, count: batch.outputRowCount * width)
        try result.withUnsafeMutableBufferPointer { (buf) throws(ModelError) in
            try forward(batch, workspace: ws, output: output, into: buf.baseAddress!)
        }
        return result
    }
}

/// An encoder-decoder model: the encoder runs once per request over the source tokens and leaves its
/// cross-attention keys and values in the sequence's cache; then the decoder generates like a
/// decoder-only model (`forward` over the same cache), starting from `decoderStartTokenID`.
public protocol Seq2SeqLanguageModel: CausalLanguageModel {
    var decoderStartTokenID: Int { get }
    /// Ids that end the decoder's output (generation_config's eos_token_id).
    var eosTokenIDs: [Int] { get }
    /// Empties `cache` and fills its cross-attention keys and values from `tokens`.
    func encode(_ tokens: [Int], into cache: KVCache) throws(ModelError)
}
