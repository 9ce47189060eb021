import Foundation
import LanternFormats
import LanternTensor

/// The encoder-decoder runner (T5, BART, Marian): a bidirectional encoder runs once per request, every
/// decoder layer's cross-attention keys and values are computed from its output once and stored in the
/// sequence's `KVCache.cross`, then the causal decoder runs token by token over its own paged cache.
///
/// The decoder side is a `CausalLanguageModel`, so the batch, sampler and session machinery that drives
/// decoder-only models drives this one too; the only extra step is `encode(_:into:)` before the first
/// decoder forward of a sequence. A decoder forward on a cache that was never encoded is a typed error.
public final class EncoderDecoderModel: CausalLanguageModel, @unchecked Sendable {
    public let architecture: String
    /// Bidirectional; its final norm (if any) is applied to the encoder output.
    public let encoder: TransformerStack
    /// Causal self-attention plus cross-attention in every block.
    public let decoder: TransformerStack
    public let head: LMHead
    /// Ids generation needs: the first decoder token, the stop tokens, forced first / last tokens.
    public let specialTokens: Seq2SeqSpecialTokens
    /// Longest decoder sequence (positions 0..<maxContextLength).
    public let maxContextLength: Int
    /// Longest encoder input.
    public let maxSourceLength: Int
    public let compute: ComputeOptions
    /// Covers both stacks and the head: one workspace serves the encoder pass and decoder steps.
    public let workspaceShape: WorkspaceShape
    /// Keeps the mapped file alive: the weights point into it.
    private let store: any WeightStore
    /// Floats per position of the cross-attention keys (and values) of one decoder layer.
    private let crossRowSize: Int

    /// Refuses a decoder whose blocks lack cross-attention, or whose cross-attention reads another width
    /// than the encoder's output or differs in key/value width between layers.
    public init(architecture: String, encoder: TransformerStack, decoder: TransformerStack, head: LMHead,
                specialTokens: Seq2SeqSpecialTokens, maxContextLength: Int, maxSourceLength: Int,
                compute: ComputeOptions, store: any WeightStore) throws(ModelError) {
        guard !encoder.blocks.isEmpty, !decoder.blocks.isEmpty else {
            throw .invalidConfiguration("an encoder-decoder needs at least one encoder and one decoder layer")
        }
        var rowSize: Int?
        for (i, block) in decoder.blocks.enumerated() {
            guard let cross = block.crossAttention, block.crossNorm != nil else {
                throw .invalidConfiguration("decoder layer \(i) has no cross-attention")
            }
            guard cross.k.inFeatures == encoder.hidden, cross.v.inFeatures == encoder.hidden else {
                throw .invalidConfiguration("decoder layer \(i) cross-attends over width \(cross.k.inFeatures), the encoder gives \(encoder.hidden)")
            }
            let r = cross.kvHeads * cross.headDim
            guard rowSize == nil || rowSize == r else {
                throw .invalidConfiguration("decoder layer \(i) cross-attention width \(r) differs from layer 0's")
            }
            rowSize = r
        }
        guard maxContextLength > 0, maxSourceLength > 0 else {
            throw .invalidConfiguration("context lengths must be positive (decoder \(maxContextLength), encoder \(maxSourceLength))")
        }
        guard head.projection.inFeatures == decoder.hidden else {
            throw .invalidConfiguration("the head reads width \(head.projection.inFeatures), the decoder gives \(decoder.hidden)")
        }
        for id in specialTokens.all where id < 0 || id >= head.vocabularySize {
            throw .invalidConfiguration("special token id \(id) is outside the vocabulary (0..<\(head.vocabularySize))")
        }
        self.architecture = architecture
        self.encoder = encoder
        self.decoder = decoder
        self.head = head
        self.specialTokens = specialTokens
        self.maxContextLength = maxContextLength
        self.maxSourceLength = maxSourceLength
        self.compute = compute
        self.store = store
        self.crossRowSize = rowSize ?? 1
        var shape = decoder.shape
        shape.include(encoder.shape)
        shape.feedForward = max(shape.feedForward, head.transform?.dense.outFeatures ?? 1)
        self.workspaceShape = shape
    }

    public var vocabularySize: Int { head.vocabularySize }
    public var hiddenSize: Int { decoder.hidden }
    public var decoderStartTokenID: Int { specialTokens.decoderStart }
    public var eosTokenIDs: [Int] { specialTokens.eos }
    public var forcedBOSTokenID: Int? { specialTokens.forcedBOS }
    public var forcedEOSTokenIDs: [Int]? { specialTokens.forcedEOS }

    /// The decoder's self-attention cache.
    public var cacheLayout: (layers: Int, kvHeads: Int, headDim: Int) {
        let a = decoder.blocks[0].attention
        return (decoder.layers, a.kvHeads, a.headDim)
    }
    public var defaultKVType: KVType { KVType.following(decoder.blocks[0].attention.k.weight.dtype) }

    // MARK: Encoder

    /// Runs the encoder over `tokens` once and stores every decoder layer's cross-attention keys and
    /// values in `cache.cross`, after `cache.reset()`: the cache then starts a new request at decoder
    /// position 0. Builds its own scratch pool and workspace (once per request, not per step).
    public func encode(_ tokens: [Int], into cache: KVCache) throws(ModelError) {
        try encode(tokens, into: cache, observer: nil)
    }

    /// `encode(_:into:)` with an observer of one encoder layer's self-attention (`kind` .selfAttention).
    public func encode(_ tokens: [Int], into cache: KVCache, observer: AttentionObserver?) throws(ModelError) {
        let l = cacheLayout
        guard cache.layers == l.layers, cache.kvHeads * cache.headDim == l.kvHeads * l.headDim else { throw .cacheMismatch }
        let cross = try runEncoder(tokens, observer: observer) { h, n in
            let c = CrossAttentionCache(layers: decoder.layers, positions: n, rowSize: crossRowSize)
            for (i, block) in decoder.blocks.enumerated() {
                // [n, kvHeads * headDim] each; the init checked every block has cross-attention.
                block.crossAttention?.crossKeysValues(h, positions: n, keys: c.keys[i], values: c.values[i], compute)
            }
            return c
        }
        cache.reset()
        cache.cross = cross
    }

    /// The encoder's output for `tokens`, [tokens.count, encoder.hidden] row-major (after its final norm).
    public func encoderHiddenStates(_ tokens: [Int]) throws(ModelError) -> [Float] {
        try runEncoder(tokens, observer: nil) { h, n in Array(UnsafeBufferPointer(start: h, count: n * encoder.hidden)) }
    }

    /// One whole sequence through the encoder; `body` sees its output [n, hidden] (valid only inside).
    private func runEncoder<R>(_ tokens: [Int], observer: AttentionObserver?,
                               _ body: (UnsafePointer<Float>, Int) -> R) throws(ModelError) -> R {
        guard !tokens.isEmpty else { throw .emptyInput }
        guard tokens.count <= maxSourceLength else { throw .contextOverflow(needed: tokens.count, capacity: maxSourceLength) }
        let (batch, longest) = try BatchRunner.scratchBatch([tokens], for: encoder)
        let ws = makeWorkspace(maxTokens: longest)
        ws.attentionObserver = observer
        var result: R?
        try BatchRunner.run(encoder, batch, ws: ws, vocabularySize: encoder.embeddings.tokens.rows, wholeSequences: true,
                            requireCross: false, compute) { (rows, _) throws(ModelError) in
            // One sequence in a workspace of its length: a single chunk, every row at once.
            result = body(ws.gathered, rows)
        }
        guard let result else { throw .emptyInput }
        return result
    }

    // MARK: Decoder

    /// Runs the decoder over `batch` (every sequence's cache must have been through `encode`), writing
    /// [batch.outputRowCount, vocabularySize] logits or [.., hiddenSize] hidden states into `out`.
    public func forward(_ batch: ForwardBatch, workspace ws: ForwardWorkspace, output: ForwardOutput,
                        into out: UnsafeMutablePointer<Float>) throws(ModelError) {
        // Position schemes without a table of their own (T5's relative bias) are bounded here.
        for s in batch.sequences where !s.rows.isEmpty {
            let end = batch.positions[s.rows.lowerBound] + s.rows.count
            guard end <= maxContextLength else { throw .contextOverflow(needed: end, capacity: maxContextLength) }
        }
        try BatchRunner.run(decoder, batch, ws: ws, vocabularySize: decoder.embeddings.tokens.rows, wholeSequences: false,
                            requireCross: true, compute) { (rows, first) throws(ModelError) in
            BatchRunner.write(rows, at: first, hidden: decoder.hidden, output == .logits ? head : nil, ws: ws, into: out, compute)
        }
    }
}

/// The token ids an encoder-decoder's generation needs, from config.json overridden by
/// generation_config.json (as transformers' `generate` reads them).
public struct Seq2SeqSpecialTokens: Sendable, Equatable {
    /// The decoder's first token (T5: pad 0; BART: eos 2; Marian: pad).
    public var decoderStart: Int
    /// Generation stops after any of these.
    public var eos: [Int]
    public var pad: Int?
    /// Forced as the first generated token (mBART language codes).
    public var forcedBOS: Int?
    /// Forced when the length limit is reached.
    public var forcedEOS: [Int]?

    public init(decoderStart: Int, eos: [Int], pad: Int? = nil, forcedBOS: Int? = nil, forcedEOS: [Int]? = nil) {
        self.decoderStart = decoderStart
        self.eos = eos
        self.pad = pad
        self.forcedBOS = forcedBOS
        self.forcedEOS = forcedEOS
    }

    /// Every id set, for range checks.
    var all: [Int] { [decoderStart] + eos + [pad, forcedBOS].compactMap { $0 } + (forcedEOS ?? []) }

    /// config.json's ids (the same keys, read the same way as generation_config.json's) under the
    /// generation config's. A missing `decoder_start_token_id` falls back to the pad id (T5, Marian).
    static func read(_ folder: ModelFolder) throws -> Seq2SeqSpecialTokens {
        let base = try GenerationConfig.decode(folder.configData, path: folder.configPath)
        let g = folder.generationConfig ?? GenerationConfig()
        let pad = g.padTokenId ?? base.padTokenId
        guard let start = g.decoderStartTokenId ?? base.decoderStartTokenId ?? pad else {
            throw ModelError.invalidConfiguration("neither decoder_start_token_id nor pad_token_id is set")
        }
        return Seq2SeqSpecialTokens(decoderStart: start, eos: g.eosTokenId ?? base.eosTokenId ?? [], pad: pad,
                                    forcedBOS: g.forcedBosTokenId ?? base.forcedBosTokenId,
                                    forcedEOS: g.forcedEosTokenId ?? base.forcedEosTokenId)
    }
}

extension EncoderDecoderModel: Seq2SeqLanguageModel {}
